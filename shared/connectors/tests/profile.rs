//! The generic profile client (issue 16) against the fake profile vendor: every pagination
//! style of the schema (cursor in the body, numbered pages, `Link` headers), every auth style
//! (API key header, bearer, OAuth 2.0 client credentials with expiry and renewal after a
//! 401), `429` with `Retry-After`, and delta pulls (the watermark in the profile's "updated
//! since" parameter, deletions from the delete marker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{at, env, external_ids, fast, refused};
use serde_json::{Value, json};
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::profile::{Access, FakeProfileVendor, FakeRecord, Paging};
use tillbridge_connectors::{ApiCredentials, ObjectKind, ProfileClient, VendorApi, pull};
use tillbridge_domain::{Currency, Secret};
use tillbridge_profiles::Profile;

/// Five records, one a second apart from `at(0)`.
fn five() -> Vec<FakeRecord> {
    (1..=5)
        .map(|i| {
            FakeRecord::new(
                &format!("p{i}"),
                &format!("Product {i}"),
                &format!("{i}.25"),
                at(i64::from(i)),
            )
        })
        .collect()
}

/// A made-up vendor's profile with this `api` section.
fn profile(api: Value) -> Profile {
    let doc = json!({
        "name": "acme-pos", "version": 1, "title": "Acme POS",
        "sources": ["https://example.com/acme-pos/api"],
        "api": api,
        "mapping": {"fields": [
            {"source": "id", "target": "external_id"},
            {"source": "name", "target": "name"},
            {"source": "price", "target": "price_minor", "conversion": "major_to_minor"},
            {"source": "updated_at", "target": "updated_at", "conversion": "date_time"}
        ]}
    });
    Profile::parse(&doc.to_string()).expect("profile")
}

fn api(auth: Value, pagination: Value) -> Value {
    json!({
        "base_url": "https://api.acme-pos.example/v1",
        "auth": auth,
        "list": {"path": "/products", "records": "/products"},
        "get": {"path": "/products/{id}", "records": "/product"},
        "pagination": pagination,
    })
}

fn client(profile: Profile, fake: &FakeProfileVendor, creds: ApiCredentials) -> ProfileClient {
    let (env, _) = env();
    client_in(profile, fake, creds, &env)
}

fn client_in(
    profile: Profile,
    fake: &FakeProfileVendor,
    mut creds: ApiCredentials,
    env: &tillbridge_connectors::Env,
) -> ProfileClient {
    creds.base_url = Some(fake.server.base_url.clone());
    ProfileClient::new(profile, &creds, Currency::USD, Some(fast(3)), env).expect("client")
}

fn token(t: &str) -> ApiCredentials {
    ApiCredentials {
        access_token: Some(Secret::new(t)),
        ..ApiCredentials::default()
    }
}

fn ids_and_prices(pulled: &tillbridge_connectors::Pull) -> Vec<(String, Option<i64>)> {
    pulled
        .items
        .iter()
        .map(|f| (f.item.external_id.clone(), f.item.price_minor))
        .collect()
}

fn all_five() -> Vec<(String, Option<i64>)> {
    (1..=5)
        .map(|i| (format!("p{i}"), Some(i * 100 + 25)))
        .collect()
}

#[tokio::test]
async fn cursor_pages_with_an_api_key_header() {
    let fake = FakeProfileVendor::start(
        Access::ApiKey {
            header: "X-Api-Key".into(),
            key: "key-1".into(),
        },
        Paging::Cursor,
        2,
        five(),
    )
    .await
    .expect("fake");
    let p = profile(api(
        json!({"type": "api_key_header", "header": "X-Api-Key"}),
        json!({"type": "cursor", "param": "cursor", "next": "/next_cursor",
               "size_param": "limit", "size": 2}),
    ));
    let c = client(p.clone(), &fake, token("key-1"));
    let pulled = pull(&c, None).await.expect("pull");
    assert_eq!(ids_and_prices(&pulled), all_five());
    assert_eq!(pulled.fetched, 5);
    assert_eq!(pulled.watermark, Some(at(5)));
    let queries = fake.list_queries();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert_eq!(queries[0], "limit=2");
    assert!(queries[1].starts_with("limit=2&cursor="), "{queries:?}");
    assert_eq!(
        pulled.items[0].item.updated_at,
        Some(at(1)),
        "mapped updated_at"
    );

    // A wrong key is refused with the vendor's reason, not retried.
    let wrong = client(p, &fake, token("key-2"));
    let reason = refused(pull(&wrong, None).await, 401);
    assert!(reason.contains("invalid credentials"), "{reason}");
}

#[tokio::test]
async fn numbered_pages_with_a_bearer_token_end_at_a_short_or_empty_page() {
    let p = profile(api(
        json!({"type": "bearer"}),
        json!({"type": "page", "param": "page", "start": 1, "size_param": "per_page", "size": 2}),
    ));
    // 5 records: pages 1, 2 full, page 3 short.
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Page, 2, five())
        .await
        .expect("fake");
    let pulled = pull(&client(p.clone(), &fake, token("tok")), None)
        .await
        .expect("pull");
    assert_eq!(ids_and_prices(&pulled), all_five());
    assert_eq!(
        fake.list_queries(),
        [
            "page=1&per_page=2",
            "page=2&per_page=2",
            "page=3&per_page=2"
        ]
    );

    // 4 records: pages 1 and 2 are full, page 3 is empty and ends the list.
    let mut four = five();
    four.pop();
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Page, 2, four)
        .await
        .expect("fake");
    let pulled = pull(&client(p, &fake, token("tok")), None)
        .await
        .expect("pull");
    assert_eq!(external_ids(&pulled.items), ["p1", "p2", "p3", "p4"]);
    assert_eq!(fake.list_queries().len(), 3);
}

fn oauth_profile(pagination: Value) -> Profile {
    profile(api(
        json!({"type": "oauth_client_credentials", "token_url": "/oauth/token", "scope": "catalog:read"}),
        pagination,
    ))
}

fn client_credentials() -> ApiCredentials {
    ApiCredentials {
        client_id: Some("acme-client".into()),
        client_secret: Some(Secret::new("acme-secret")),
        ..ApiCredentials::default()
    }
}

#[tokio::test]
async fn link_headers_with_oauth_client_credentials_reuse_the_token_until_it_expires() {
    let fake = FakeProfileVendor::start(
        Access::ClientCredentials {
            client_id: "acme-client".into(),
            client_secret: "acme-secret".into(),
            expires_in: 3600,
        },
        Paging::Link,
        2,
        five(),
    )
    .await
    .expect("fake");
    let (env, clock) = env();
    let c = client_in(
        oauth_profile(json!({"type": "link_header"})),
        &fake,
        client_credentials(),
        &env,
    );
    let pulled = pull(&c, None).await.expect("pull");
    assert_eq!(ids_and_prices(&pulled), all_five());
    assert_eq!(
        fake.list_queries(),
        ["", "page=2", "page=3"],
        "the Link targets were followed"
    );
    assert_eq!(fake.tokens_issued(), 1, "one token for three pages");
    assert_eq!(fake.server.control.count("POST /oauth/token"), 1);

    // Still valid 50 minutes later: reused.
    clock.advance_secs(50 * 60);
    pull(&c, None).await.expect("pull");
    assert_eq!(fake.tokens_issued(), 1);

    // Within a minute of its expiry: renewed before the call, no 401 on the way.
    clock.advance_secs(10 * 60);
    pull(&c, None).await.expect("pull");
    assert_eq!(fake.tokens_issued(), 2);
    assert!(
        fake.server.control.log().iter().all(|l| l.status != 401),
        "never refused"
    );
}

#[tokio::test]
async fn an_oauth_token_refused_with_401_is_renewed_once() {
    let fake = FakeProfileVendor::start(
        Access::ClientCredentials {
            client_id: "acme-client".into(),
            client_secret: "acme-secret".into(),
            expires_in: 3600,
        },
        Paging::Cursor,
        10,
        five(),
    )
    .await
    .expect("fake");
    let c = client(
        oauth_profile(json!({"type": "cursor", "param": "cursor", "next": "/next_cursor"})),
        &fake,
        client_credentials(),
    );
    pull(&c, None).await.expect("first pull");
    assert_eq!(fake.tokens_issued(), 1);
    // The vendor revoked it early: a 401, one renewal, the same call again.
    fake.expire_tokens();
    let pulled = pull(&c, None).await.expect("pull after renewal");
    assert_eq!(pulled.items.len(), 5);
    assert_eq!(fake.tokens_issued(), 2);
    let statuses: Vec<u16> = fake
        .server
        .control
        .log()
        .iter()
        .filter(|l| l.line == "GET /products")
        .map(|l| l.status)
        .collect();
    assert_eq!(statuses, [200, 401, 200]);

    // A token refused right after renewal is not renewed again: the refusal is the answer.
    fake.expire_tokens();
    fake.revoke_new_tokens(true);
    let reason = refused(pull(&c, None).await, 401);
    assert!(reason.contains("invalid credentials"), "{reason}");
    assert_eq!(fake.tokens_issued(), 3, "exactly one more renewal");

    // Wrong client credentials: the token endpoint's RFC 6749 error, no API call.
    let before = fake.list_queries().len();
    let wrong = client(
        oauth_profile(json!({"type": "none"})),
        &fake,
        ApiCredentials {
            client_secret: Some(Secret::new("nope")),
            ..client_credentials()
        },
    );
    let reason = refused(pull(&wrong, None).await, 401);
    assert!(reason.contains("invalid_client"), "{reason}");
    assert_eq!(fake.list_queries().len(), before);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Page, 10, five())
        .await
        .expect("fake");
    let c = client(
        profile(api(
            json!({"type": "bearer"}),
            json!({"type": "page", "param": "page", "size_param": "per_page", "size": 10}),
        )),
        &fake,
        token("tok"),
    );
    let pulled = common::after_throttle(
        &fake.server.control,
        Canned::json(429, r#"{"message":"slow down"}"#).header("Retry-After", "1"),
        Duration::from_secs(1),
        pull(&c, None),
    )
    .await
    .expect("pull");
    assert_eq!(pulled.items.len(), 5);
    assert_eq!(c.stats().retries, 1);
}

fn delta_api(pagination: Value) -> Value {
    let mut a = api(json!({"type": "bearer"}), pagination);
    a["changes"] = json!({
        "param": "updated_since", "format": "rfc3339",
        "deleted": {"pointer": "/deleted_at", "id": "/id"}
    });
    a
}

#[tokio::test]
async fn a_delta_sends_the_watermark_and_gets_only_the_changes_and_deletions() {
    for (paging, pagination) in [
        (
            Paging::Cursor,
            json!({"type": "cursor", "param": "cursor", "next": "/next_cursor", "size_param": "limit", "size": 2}),
        ),
        (
            Paging::Page,
            json!({"type": "page", "param": "page", "size_param": "per_page", "size": 2}),
        ),
        (Paging::Link, json!({"type": "link_header"})),
    ] {
        let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), paging, 2, five())
            .await
            .expect("fake");
        let c = client(profile(delta_api(pagination)), &fake, token("tok"));
        let first = pull(&c, None).await.expect("full pull");
        assert_eq!(first.items.len(), 5);
        assert!(
            fake.list_queries()
                .iter()
                .all(|q| !q.contains("updated_since")),
            "a full pull sends no watermark"
        );
        let watermark = first.watermark.expect("watermark");
        assert_eq!(watermark, at(5));
        {
            let mut records = fake.records();
            records[1].price = "9.99".into();
            records[1].updated_at = at(60);
            records[3].deleted_at = Some(at(70));
        }
        let asked = fake.list_queries().len();
        let delta = pull(&c, Some(watermark)).await.expect("delta");
        let queries = &fake.list_queries()[asked..];
        assert!(!queries.is_empty());
        assert!(
            queries
                .iter()
                .all(|q| q.contains("updated_since=2025-01-01T00%3A00%3A05Z")),
            "{paging:?}: {queries:?}"
        );
        assert_eq!(
            ids_and_prices(&delta),
            [("p2".to_owned(), Some(999))],
            "{paging:?}"
        );
        assert_eq!(delta.tombstones.len(), 1);
        assert_eq!(delta.tombstones[0].external_id, "p4");
        assert_eq!(delta.tombstones[0].kind, ObjectKind::Variation);
        assert_eq!(delta.tombstones[0].deleted_at, at(70));
        assert_eq!(delta.fetched, 2);
        assert_eq!(delta.watermark, Some(at(70)), "deletions move it too");

        // Nothing changed since: an empty delta.
        let none = pull(&c, delta.watermark).await.expect("empty delta");
        assert!(none.items.is_empty() && none.tombstones.is_empty());
    }
}

#[tokio::test]
async fn a_delta_whose_changes_span_pages_sends_the_watermark_on_every_page() {
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Page, 2, five())
        .await
        .expect("fake");
    let c = client(
        profile(delta_api(
            json!({"type": "page", "param": "page", "size_param": "per_page", "size": 2}),
        )),
        &fake,
        token("tok"),
    );
    let delta = pull(&c, Some(at(1))).await.expect("delta");
    assert_eq!(external_ids(&delta.items), ["p2", "p3", "p4", "p5"]);
    let queries = fake.list_queries();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(
        queries.iter().all(|q| q.contains("updated_since=")),
        "{queries:?}"
    );
}

#[tokio::test]
async fn fetch_by_id_uses_the_get_endpoint_and_reports_missing_ids() {
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Page, 2, five())
        .await
        .expect("fake");
    let c = client(
        profile(api(
            json!({"type": "bearer"}),
            json!({"type": "page", "param": "page", "size_param": "per_page", "size": 2}),
        )),
        &fake,
        token("tok"),
    );
    let page = c
        .fetch(&["p3".to_owned(), "gone".to_owned()])
        .await
        .expect("fetch");
    assert_eq!(external_ids(&page.items), ["p3"]);
    assert_eq!(page.items[0].item.price_minor, Some(325));
    assert_eq!(page.missing, ["gone"]);
}

#[tokio::test]
async fn the_shipped_magento_profile_asks_for_updated_at_after_the_watermark() {
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Page, 100, five())
        .await
        .expect("fake");
    let magento = tillbridge_profiles::builtin(
        tillbridge_domain::ProfileName::parse("magento").expect("name"),
    )
    .expect("shipped");
    let c = client(magento, &fake, token("tok"));
    pull(&c, None).await.expect("full pull");
    pull(&c, Some(at(5))).await.expect("delta");
    let queries = fake.list_queries();
    assert_eq!(
        queries[0],
        "searchCriteria%5BcurrentPage%5D=1&searchCriteria%5BpageSize%5D=100"
    );
    let filter = "searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5B";
    for expected in [
        format!("{filter}field%5D=updated_at"),
        format!("{filter}condition_type%5D=gt"),
        format!("{filter}value%5D=2025-01-01+00%3A00%3A05"),
    ] {
        assert!(
            queries[1].contains(&expected),
            "{expected} in {}",
            queries[1]
        );
    }
}
