//! OAuth token renewal against the fakes' token endpoints: Square's ObtainToken
//! (`refresh_token` grant) and Zettle's assertion grant. A token known to be expiring is
//! renewed before the call; a 401 leads to one renewal and one retry; the renewed token is
//! stored through the SecretStore port and used by the next client; a refused renewal is a
//! clear error after one request; concurrent calls share one renewal; personal access tokens
//! are never renewed.

mod common;

use std::sync::Arc;

use common::{at, env, fast, refused};
use serde_json::{Value, json};
use tillbridge_connectors::fake::square::{Catalog, FakeSquare, OAuthApp};
use tillbridge_connectors::fake::zettle::{FakeZettle, Organization};
use tillbridge_connectors::oauth::REFRESHED_FROM;
use tillbridge_connectors::{CredentialStore, Env, VendorApi, connect, pull, stored_credentials};
use tillbridge_domain::{Currency, Provider, TenantId};
use tillbridge_ports::SecretStore;
use tillbridge_ports::tenants::StaticDirectory;

const APP: &str = "sq0idp-app";
const APP_SECRET: &str = "sq0csp-secret";
const TOKEN_PATH: &str = "POST /oauth2/token";

fn tenant() -> TenantId {
    TenantId::parse("t1").expect("tenant id")
}

/// A tenants directory (and secret store) holding `api` for `provider`.
fn directory(provider: &str, api: Value) -> Arc<StaticDirectory> {
    let file = json!({"tenants": [{"tenant_id": "t1", "currency": "USD",
        "providers": {provider: {"secret": "s", "api": api}}}]});
    Arc::new(StaticDirectory::from_json(&file.to_string()).expect("tenants file"))
}

/// The client a fetcher would build: the stored credentials, renewals written back.
async fn client(
    provider: Provider,
    dir: &Arc<StaticDirectory>,
    base_url: &str,
    env: &Env,
) -> Box<dyn VendorApi> {
    let stored = dir
        .api_credentials(&tenant(), provider)
        .await
        .expect("store")
        .expect("credentials");
    let creds = stored_credentials(provider, &stored, Some(base_url.to_owned())).expect("creds");
    let store = CredentialStore {
        secrets: dir.clone(),
        tenant: tenant(),
        provider,
    };
    connect(
        provider,
        &creds,
        Currency::USD,
        Some(fast(3)),
        env,
        Some(store),
    )
    .expect("client")
}

async fn stored(dir: &StaticDirectory, provider: Provider, name: &str) -> Option<String> {
    let creds = dir.api_credentials(&tenant(), provider).await.ok()??;
    creds
        .get(name)
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
}

async fn square(secret: Option<&str>, refresh_token: &str) -> FakeSquare {
    let mut catalog = Catalog::generated(3, 2, at(0));
    catalog.list_page = 2;
    let fake = FakeSquare::start("EAAA-old", catalog).await.expect("fake");
    fake.oauth_app(OAuthApp {
        client_id: APP.into(),
        client_secret: secret.map(str::to_owned),
        refresh_token: refresh_token.into(),
    });
    fake
}

fn square_api(refresh_token: &str, expires_at: Option<&str>) -> Value {
    let mut api = json!({"access_token": "EAAA-old", "client_id": APP,
        "client_secret": APP_SECRET, "refresh_token": refresh_token});
    if let Some(t) = expires_at {
        api["expires_at"] = json!(t);
    }
    api
}

#[tokio::test]
async fn a_square_token_expiring_within_the_margin_is_renewed_before_the_call_and_stored() {
    let fake = square(Some(APP_SECRET), "rt-1").await;
    // Expires in an hour: inside Square's 23-day renewal margin.
    let dir = directory("square", square_api("rt-1", Some(&at(3600).to_rfc3339())));
    let (env, _) = env();
    let api = client(Provider::Square, &dir, &fake.server.base_url, &env).await;
    let locations = api.locations().await.expect("locations");
    assert_eq!(locations.len(), 2);
    let lines: Vec<String> = fake
        .server
        .control
        .log()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(lines, [TOKEN_PATH, "GET /v2/locations"], "renewed first");
    api.locations().await.expect("again");
    assert_eq!(
        fake.server.control.count(TOKEN_PATH),
        1,
        "the new token lasts 30 days"
    );
    assert_eq!(
        stored(&dir, Provider::Square, "access_token")
            .await
            .as_deref(),
        Some("EAAAoauth-1")
    );
    assert!(stored(&dir, Provider::Square, "expires_at").await.is_some());
    assert_eq!(
        stored(&dir, Provider::Square, "refresh_token")
            .await
            .as_deref(),
        Some("rt-1")
    );
    assert!(
        stored(&dir, Provider::Square, REFRESHED_FROM)
            .await
            .is_some()
    );
    assert_eq!(
        api.stats().api_calls,
        3,
        "the token request counts as a call"
    );
}

#[tokio::test]
async fn an_expired_square_token_is_renewed_once_on_401_and_the_next_client_uses_the_stored_one() {
    let fake = square(Some(APP_SECRET), "rt-1").await;
    let dir = directory("square", square_api("rt-1", None));
    let (env, _) = env();
    fake.tokens().expire_all();
    let api = client(Provider::Square, &dir, &fake.server.base_url, &env).await;
    let pulled = pull(api.as_ref(), None).await.expect("pull after renewal");
    assert_eq!(pulled.items.len(), 6);
    assert_eq!(fake.server.control.count(TOKEN_PATH), 1);
    let refused = fake
        .server
        .control
        .log()
        .iter()
        .filter(|l| l.status == 401)
        .count();
    assert_eq!(refused, 1, "only the first call met the expired token");
    assert_eq!(
        stored(&dir, Provider::Square, "access_token")
            .await
            .as_deref(),
        Some("EAAAoauth-1")
    );
    // Another process (a new client on the same store) uses the stored token as it is.
    let next = client(Provider::Square, &dir, &fake.server.base_url, &env).await;
    next.locations().await.expect("stored token works");
    assert_eq!(fake.server.control.count(TOKEN_PATH), 1);
}

#[tokio::test]
async fn a_refused_square_renewal_is_a_clear_error_after_one_request() {
    let fake = square(Some(APP_SECRET), "rt-1").await;
    let dir = directory("square", square_api("rt-revoked", None));
    let (env, _) = env();
    fake.tokens().expire_all();
    let api = client(Provider::Square, &dir, &fake.server.base_url, &env).await;
    let reason = refused(api.locations().await, 401);
    assert!(
        reason.starts_with("access token renewal refused: UNAUTHORIZED: Invalid refresh token"),
        "{reason}"
    );
    assert_eq!(
        fake.server.control.requests(),
        2,
        "one call, one renewal, no loop"
    );
    assert_eq!(
        stored(&dir, Provider::Square, "access_token")
            .await
            .as_deref(),
        Some("EAAA-old"),
        "nothing stored"
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_renewal() {
    let fake = square(Some(APP_SECRET), "rt-1").await;
    let dir = directory("square", square_api("rt-1", None));
    let (env, _) = env();
    fake.tokens().expire_all();
    let api: Arc<dyn VendorApi> =
        Arc::from(client(Provider::Square, &dir, &fake.server.base_url, &env).await);
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { api.locations().await.map(|l| l.len()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("task").expect("call"), 2);
    }
    assert_eq!(fake.server.control.count(TOKEN_PATH), 1, "single flight");
    assert_eq!(fake.tokens().issued(), 1);
}

#[tokio::test]
async fn a_pkce_refresh_token_rotates_and_the_rotated_one_is_stored_and_used() {
    let fake = square(None, "rt-1").await;
    let mut api_entry = square_api("rt-1", None);
    api_entry.as_object_mut().map(|o| o.remove("client_secret"));
    let dir = directory("square", api_entry);
    let (env, _) = env();
    fake.tokens().expire_all();
    let api = client(Provider::Square, &dir, &fake.server.base_url, &env).await;
    api.locations().await.expect("first renewal");
    let rotated = stored(&dir, Provider::Square, "refresh_token").await;
    assert_eq!(rotated.as_deref(), Some("rt-EAAAoauth-1"));
    fake.tokens().expire_all();
    api.locations()
        .await
        .expect("second renewal with the rotated refresh token");
    assert_eq!(fake.server.control.count(TOKEN_PATH), 2);
    assert_eq!(
        fake.oauth().map(|a| a.refresh_token),
        stored(&dir, Provider::Square, "refresh_token").await
    );
}

#[tokio::test]
async fn a_square_personal_access_token_is_never_renewed() {
    let fake = square(Some(APP_SECRET), "rt-1").await;
    let dir = directory("square", json!({"access_token": "EAAA-old"}));
    let (env, _) = env();
    fake.tokens().expire_all();
    let api = client(Provider::Square, &dir, &fake.server.base_url, &env).await;
    let reason = refused(api.locations().await, 401);
    assert!(reason.starts_with("ACCESS_TOKEN_EXPIRED"), "{reason}");
    assert_eq!(fake.server.control.count(TOKEN_PATH), 0);
}

const ZETTLE_TOKEN: &str = "POST /token";

async fn zettle() -> FakeZettle {
    let fake = FakeZettle::start(
        "zettle-unused",
        Organization {
            products: Vec::new(),
            currency: "SEK".into(),
            page: 10,
        },
    )
    .await
    .expect("fake");
    fake.api_key("c55de605-client", "eyJ-api-key");
    fake
}

#[tokio::test]
async fn zettle_mints_from_the_api_key_renews_near_expiry_and_after_401() {
    let fake = zettle().await;
    let dir = directory(
        "zettle",
        json!({"client_id": "c55de605-client", "api_key": "eyJ-api-key"}),
    );
    let (env, clock) = env();
    let api = client(Provider::Zettle, &dir, &fake.server.base_url, &env).await;
    api.locations().await.expect("first call mints a token");
    let lines: Vec<String> = fake
        .server
        .control
        .log()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(lines.first().map(String::as_str), Some(ZETTLE_TOKEN));
    assert_eq!(
        stored(&dir, Provider::Zettle, "access_token")
            .await
            .as_deref(),
        Some("zettle-at-1")
    );
    assert_eq!(
        stored(&dir, Provider::Zettle, "expires_at").await,
        Some(at(7200).to_rfc3339()),
        "expires_in 7200 s from now"
    );
    // Four minutes before expiry: inside the 5-minute margin.
    clock.advance_secs(7200 - 240);
    api.locations().await.expect("renewed before the call");
    assert_eq!(fake.server.control.count(ZETTLE_TOKEN), 2);
    fake.tokens().expire_all();
    api.locations().await.expect("renewed after 401");
    assert_eq!(fake.server.control.count(ZETTLE_TOKEN), 3);
}

#[tokio::test]
async fn a_refused_zettle_assertion_is_a_clear_error() {
    let fake = zettle().await;
    let dir = directory(
        "zettle",
        json!({"client_id": "c55de605-client", "api_key": "eyJ-revoked"}),
    );
    let (env, _) = env();
    let api = client(Provider::Zettle, &dir, &fake.server.base_url, &env).await;
    let reason = refused(api.locations().await, 400);
    assert_eq!(
        reason,
        "access token renewal refused: invalid_grant: invalid assertion"
    );
    assert_eq!(
        fake.server.control.requests(),
        1,
        "no API call without a token"
    );
    assert!(
        stored(&dir, Provider::Zettle, "access_token")
            .await
            .is_none()
    );
}
