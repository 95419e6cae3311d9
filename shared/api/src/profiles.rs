//! Vendor profiles over HTTP (issue 16): an operator stores a new version of a vendor's
//! profile and the next webhook of that vendor uses it — the webhook path resolves the newest
//! table version on every delivery, so nothing restarts and nothing is cached.
//!
//! Versions are explicit: the body's `version` must be higher than every stored version of
//! the name (201), else 409 naming the stored one. We chose this over counting up on the
//! server so a PUT is idempotent in intent (the same file sent twice is refused, not stored
//! twice) and the version in the editor's file is the version that runs.

use serde_json::json;
use tillbridge_domain::ProfileName;
use tillbridge_profiles::Profile;
use tillbridge_profiles::store::{self, StoreError};

use crate::{Api, Request, Response};

fn name_of(name: &str) -> Result<ProfileName, Response> {
    ProfileName::parse(name).map_err(|e| Response::error(404, &format!("no such profile: {e}")))
}

fn store_failure(e: &StoreError) -> Response {
    match e {
        StoreError::Invalid(p) => invalid(&p.problems),
        StoreError::Stale { given, stored } => Response::json(
            409,
            &json!({
                "error": format!("version {given} is not higher than the stored version {stored}"),
                "stored_version": stored,
            }),
        ),
        StoreError::Corrupt(key, why) => {
            tracing::error!(key = %key, why = %why, "stored profile unreadable");
            Response::error(500, "internal error")
        }
        StoreError::Port(e) => Response::failure(e),
    }
}

fn invalid(problems: &[String]) -> Response {
    Response::json(
        400,
        &json!({ "error": "invalid profile", "problems": problems }),
    )
}

/// `PUT /v1/profiles/{name}`: the body is the profile's JSON. 201 with `{name, version}`;
/// 400 with every problem and its JSON path; 409 when the version is not higher than the
/// stored one.
pub(crate) async fn put(api: &Api, req: &Request<'_>, name: &str) -> Response {
    let name = match ProfileName::parse(name) {
        Ok(n) => n,
        Err(e) => return invalid(&[format!("name: {e}")]),
    };
    let Ok(text) = std::str::from_utf8(req.body) else {
        return invalid(&["body: not UTF-8".to_owned()]);
    };
    let profile = match Profile::parse(text) {
        Ok(p) => p,
        Err(e) => return invalid(&e.problems),
    };
    match store::put(api.table.as_ref(), name, &profile, api.clock.now()).await {
        Ok(version) => {
            tracing::info!(operator = %req.operator, profile = %name, version, "profile stored");
            Response::json(
                201,
                &json!({ "name": name, "version": version, "source": "table" }),
            )
        }
        Err(e) => store_failure(&e),
    }
}

/// `GET /v1/profiles`: every profile, built in and stored, with its versions.
pub(crate) async fn list(api: &Api) -> Response {
    match store::list(api.table.as_ref()).await {
        Ok(all) => Response::json(200, &json!({ "profiles": all })),
        Err(e) => store_failure(&e),
    }
}

/// `GET /v1/profiles/{name}[?version=N]`: the effective profile (the newest stored version,
/// else the built-in file), or the version asked for; `{"source", "profile"}`.
pub(crate) async fn get(api: &Api, req: &Request<'_>, name: &str) -> Response {
    let name = match name_of(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let table = api.table.as_ref();
    let found = match req.param("version") {
        Some(v) => {
            let Ok(v) = v.parse::<u32>() else {
                return Response::error(400, "version: a positive whole number");
            };
            match store::version(table, name, v).await {
                Ok(Some(p)) => Ok(Some((p, "table"))),
                Ok(None) => Ok(tillbridge_profiles::builtin(name)
                    .filter(|b| b.doc().version == v)
                    .map(|b| (b, "builtin"))),
                Err(e) => Err(e),
            }
        }
        None => match store::latest(table, name).await {
            Ok(Some(p)) => Ok(Some((p, "table"))),
            Ok(None) => Ok(tillbridge_profiles::builtin(name).map(|b| (b, "builtin"))),
            Err(e) => Err(e),
        },
    };
    match found {
        Ok(Some((p, source))) => Response::json(
            200,
            &json!({ "name": name, "version": p.doc().version, "source": source, "profile": p.to_json() }),
        ),
        Ok(None) => Response::error(404, "no such profile (or version)"),
        Err(e) => store_failure(&e),
    }
}
