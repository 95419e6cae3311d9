use super::*;

#[test]
fn every_route_resolves_to_itself() {
    for r in ROUTES {
        let path = r
            .path
            .replace("{action}", "approve")
            .replace("{tenant}", "acme")
            .replace("{id}", "x1");
        let (found, _) = resolve(r.method, &path).unwrap_or_else(|s| panic!("{path}: {s}"));
        assert_eq!(found.id, r.id, "{} {path}", r.method);
    }
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    assert_eq!(resolve("GET", "/v1/elsewhere").err(), Some(404));
    assert_eq!(resolve("DELETE", "/v1/costs").err(), Some(405));
    assert_eq!(resolve("GET", "/v1/migrations/m1/approve").err(), Some(405));
    assert_eq!(
        resolve("POST", "/v1/migrations/m1/explode").err(),
        Some(404)
    );
    assert_eq!(resolve("GET", "/v1/tenants//items").err(), Some(404));
    let (r, params) =
        resolve("GET", "/v1/tenants/acme/items/sku-9").unwrap_or_else(|s| panic!("{s}"));
    assert_eq!((r.id, params), (RouteId::GetItem, vec!["acme", "sku-9"]));
}

#[test]
fn no_two_routes_share_method_and_path() {
    for (i, a) in ROUTES.iter().enumerate() {
        for b in &ROUTES[i + 1..] {
            assert!(
                !(a.method == b.method && a.path == b.path),
                "{} {} twice",
                a.method,
                a.path
            );
        }
    }
}

mod pagination {
    use std::sync::{Arc, LazyLock};

    use tillbridge_costs::PriceBook;
    use tillbridge_domain::event::{EventData, ItemUpserted, SCHEMA_VERSION, derive_event_id};
    use tillbridge_domain::{
        CatalogItem, CorrelationId, Currency, Envelope, Provider, TenantId, Timestamp,
    };
    use tillbridge_ports::memory::{MemoryBlobStore, RecordingBus};
    use tillbridge_ports::tenants::StaticDirectory;
    use tillbridge_ports::{ManualClock, Table, TableQueue, memory::MemoryTable};

    use crate::{Api, Request, handle};

    fn upsert(id: &str) -> Envelope {
        let t = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
        let mut item = CatalogItem::new(id);
        item.name = Some(format!("Item {id}"));
        item.sku = Some(format!("SKU-{id}"));
        item.category = Some("Coffee".into());
        item.price_minor = Some(450);
        item.currency = Some(Currency::USD);
        Envelope {
            event_id: derive_event_id(id, 0),
            body: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: None,
                product_variants: None,
            })),
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
            provider: Some(Provider::Shopify),
            entity_id: id.into(),
            occurred_at: t,
            received_at: t,
            correlation_id: CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            delivery_key: None,
        }
    }

    /// A fresh in-memory table and the clock it reads, at the epoch.
    pub(super) fn store() -> (Arc<ManualClock>, Arc<dyn Table>) {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        (clock, table)
    }

    /// The API over `table` with one tenant, `t1`, administered by `ops`.
    fn api_on(table: Arc<dyn Table>, clock: Arc<ManualClock>) -> Api {
        api_with(
            r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{}}]}"#,
            table,
            clock,
        )
    }

    fn api_with(tenants: &str, table: Arc<dyn Table>, clock: Arc<ManualClock>) -> Api {
        let directory =
            Arc::new(StaticDirectory::from_json(tenants).unwrap_or_else(|e| panic!("{e}")));
        Api {
            secrets: directory.clone(),
            table: table.clone(),
            blobs: Arc::new(MemoryBlobStore::default()),
            bus: Arc::new(RecordingBus::default()),
            inbound: Arc::new(TableQueue::new("inbound", table, clock.clone())),
            directory,
            clock,
            prices: LazyLock::new(Box::new(|| Arc::new(PriceBook::bundled()))),
            admins: vec!["ops".into()],
            syncs: None,
            dead_letters: Vec::new(),
        }
    }

    /// The API with tenants t1 and t2, administered by `ops`.
    pub(super) fn api_with_tenants(table: Arc<dyn Table>, clock: Arc<ManualClock>) -> Api {
        api_with(
            r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{}},{"tenant_id":"t2","currency":"USD","providers":{}}]}"#,
            table,
            clock,
        )
    }

    fn call<'a>(method: &'a str, path: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            method,
            path,
            query: &[],
            headers: &[],
            operator: "ops",
            body,
        }
    }

    /// Pages of a JSON list: every entry once, the next page's address in the `Link` header,
    /// none on the last page; a cursor the route did not give is a 400.
    async fn pages(api: &Api, path: &str, first: &[(String, String)]) -> Vec<String> {
        let mut seen = Vec::new();
        let mut query: Vec<(String, String)> = first.to_vec();
        for _ in 0..20 {
            let req = Request {
                method: "GET",
                path,
                query: &query,
                headers: &[],
                operator: "ops",
                body: b"",
            };
            let r = handle(api, &req).await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            for e in v.as_array().into_iter().flatten() {
                let id = e["delivery_id"]
                    .as_str()
                    .or(e["id"].as_str())
                    .unwrap_or_default();
                seen.push(id.to_owned());
            }
            let Some((_, link)) = r.headers.iter().find(|(k, _)| *k == "link") else {
                return seen;
            };
            let cursor = link
                .split("cursor=")
                .nth(1)
                .and_then(|c| c.split(['&', '>']).next())
                .unwrap_or_default()
                .replace("%2D", "-");
            query.retain(|(k, _)| k != "cursor");
            query.push(("cursor".into(), cursor));
        }
        panic!("more than 20 pages");
    }

    #[tokio::test]
    async fn quarantine_and_migrations_are_listed_a_page_at_a_time() {
        use tillbridge_domain::DeliveryId;
        use tillbridge_sync::quarantine::{self, QuarantineRecord};
        let (clock, table) = store();
        let api = api_on(table.clone(), clock);
        let t1 = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let mut ids = Vec::new();
        for n in 0..7 {
            let id = DeliveryId::parse(&format!("d{n}")).unwrap_or_else(|e| panic!("{e}"));
            let record = QuarantineRecord {
                delivery_id: id.clone(),
                provider: Provider::Shopify,
                reason: "signature rejected".into(),
                received_at: Timestamp::UNIX_EPOCH.plus_seconds(n),
                blob_key: quarantine::blob_key(&t1, &id),
                headers: None,
            };
            quarantine::put(table.as_ref(), api.blobs.as_ref(), &t1, &record, b"{}")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            ids.push(id.as_str().to_owned());
        }
        let q = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let paged = pages(&api, "/v1/tenants/t1/quarantine", &q("limit", "3")).await;
        assert_eq!(paged, ids, "oldest first, each once");
        let bad = Request {
            method: "GET",
            path: "/v1/tenants/t1/quarantine",
            query: &q("cursor", "%%%"),
            headers: &[],
            operator: "ops",
            body: b"",
        };
        assert_eq!(handle(&api, &bad).await.status, 400);

        let mut started = Vec::new();
        for n in 0..5 {
            let csv = format!("Item ID,Item Name,Price\nA{n},Latte,4.50\n");
            let query = vec![
                ("tenant_id".to_owned(), "t1".to_owned()),
                ("source_name".to_owned(), "lightspeed".to_owned()),
            ];
            let headers = [("content-type".to_owned(), "text/csv".to_owned())];
            let req = Request {
                method: "POST",
                path: "/v1/migrations",
                query: &query,
                headers: &headers,
                operator: "ops",
                body: csv.as_bytes(),
            };
            let r = handle(&api, &req).await;
            assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            started.push(v["id"].as_str().unwrap_or_default().to_owned());
        }
        let mut first = q("tenant_id", "t1");
        first.push(("limit".into(), "2".into()));
        let paged = pages(&api, "/v1/migrations", &first).await;
        let mut newest_first = started.clone();
        newest_first.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(
            paged, newest_first,
            "newest first (ids are UUIDv7), each once"
        );
    }

    /// Notification settings: the webhook secret goes to the secret store and nowhere else;
    /// bad settings and unsignable webhooks are refused.
    #[tokio::test]
    async fn notification_settings_keep_webhook_secrets_out_of_the_table() {
        let (clock, table) = store();
        let api = api_on(table.clone(), clock);
        const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = serde_json::json!({
            "tenant_name": "Kaffebaren AB",
            "language": "sv",
            "time_zone": "Europe/Stockholm",
            "channels": [
                {"channel": {"kind": "webhook", "url": "https://hooks.example.com/tb",
                             "secret_name": "ops", "secret": SECRET}, "events": ["*"]},
                {"channel": {"kind": "email", "to": ["ops@kaffebaren.example"]},
                 "events": ["migration.*"], "min_level": "warning"},
                {"channel": {"kind": "customers"}, "events": ["migration.applied"]}
            ]
        })
        .to_string();
        let empty = handle(&api, &call("GET", "/v1/tenants/t1/notifications", b"")).await;
        assert_eq!(empty.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&empty.body).unwrap_or_default();
        assert!(v["settings"].is_null(), "{v}");
        let put = handle(
            &api,
            &call("PUT", "/v1/tenants/t1/notifications", body.as_bytes()),
        )
        .await;
        assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
        let got = handle(&api, &call("GET", "/v1/tenants/t1/notifications", b"")).await;
        let v: serde_json::Value = serde_json::from_slice(&got.body).unwrap_or_default();
        assert_eq!(
            v["settings"]["channels"][0]["channel"]["secret_name"],
            "ops"
        );
        assert_eq!(v["settings"]["channels"].as_array().map(Vec::len), Some(3));
        assert_eq!(v["failed_deliveries"], serde_json::json!([]));
        // The secret is in the secret store, and in neither the response nor the table.
        let t1 = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let stored = api.secrets.notification_secret(&t1, "ops").await;
        assert_eq!(
            stored.ok().flatten().map(|s| s.expose().to_vec()),
            Some(SECRET.as_bytes().to_vec())
        );
        assert!(!String::from_utf8_lossy(&got.body).contains("whsec_"));
        assert!(!String::from_utf8_lossy(&put.body).contains("whsec_"));
        let items = tillbridge_ports::table::query_all(table.as_ref(), "notify#t1", "")
            .await
            .unwrap_or_default();
        assert_eq!(items.len(), 1);
        assert!(!format!("{:?}", items[0].attrs).contains("whsec_"));

        // Sending the settings again without the secret keeps the stored one.
        let again = body
            .replace(&format!(", \"secret\": \"{SECRET}\""), "")
            .replace(&format!(",\"secret\":\"{SECRET}\""), "");
        assert!(!again.contains("whsec_"));
        let put = handle(
            &api,
            &call("PUT", "/v1/tenants/t1/notifications", again.as_bytes()),
        )
        .await;
        assert_eq!(put.status, 200);

        for (bad, why) in [
            (again.replace("\"ops\"", "\"other\""), "no secret is stored"),
            (again.replace("https://hooks", "http://hooks"), "https://"),
            (
                again.replace("Europe/Stockholm", "Mars/Olympus"),
                "time zone",
            ),
            (
                again.replace("migration.applied", "migration.requested"),
                "matches no",
            ),
            (body.replace(SECRET, "not-a-secret"), "whsec_"),
            (
                again.replace("\"min_level\"", "\"severity\""),
                "unknown field",
            ),
        ] {
            let r = handle(
                &api,
                &call("PUT", "/v1/tenants/t1/notifications", bad.as_bytes()),
            )
            .await;
            let text = String::from_utf8_lossy(&r.body).to_string();
            assert_eq!(r.status, 400, "{bad}: {text}");
            assert!(text.contains(why), "{why}: {text}");
        }
        let unknown = handle(
            &api,
            &call("PUT", "/v1/tenants/nope/notifications", again.as_bytes()),
        )
        .await;
        assert_eq!(unknown.status, 404);
    }

    /// An operator sets a tenant's budget through the API and reads it back with the spend.
    #[tokio::test]
    async fn budgets_are_set_and_read_through_the_api() {
        let (clock, table) = store();
        let api = api_on(table, clock);
        let unset = handle(&api, &call("GET", "/v1/tenants/t1/budget", b"")).await;
        assert_eq!(unset.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&unset.body).unwrap_or_default();
        assert!(v["monthly_usd"].is_null(), "{v}");
        let set = handle(
            &api,
            &call("PUT", "/v1/tenants/t1/budget", br#"{"monthly_usd":"25.5"}"#),
        )
        .await;
        assert_eq!(set.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&set.body).unwrap_or_default();
        assert_eq!(v["monthly_usd"], "25.500000");
        assert_eq!(v["spent_usd"], "0.000000");
        assert_eq!(v["used_percent"], "0.00");
        for bad in [
            &br#"{"monthly_usd":"-1"}"#[..],
            br#"{"monthly_usd":"1.0000001"}"#,
            br#"{}"#,
        ] {
            let r = handle(&api, &call("PUT", "/v1/tenants/t1/budget", bad)).await;
            assert_eq!(r.status, 400);
        }
        let other = handle(&api, &call("GET", "/v1/tenants/t9/budget", b"")).await;
        assert_eq!(other.status, 404);
    }

    /// Budgets are visible: thresholds crossed with their events, the soft limit passed
    /// without refusing, the hard limit reached, and finance's list of every budget.
    #[tokio::test]
    async fn budget_thresholds_and_limits_are_visible_through_the_api() {
        let ts = |s: &str| Timestamp::parse_rfc3339(s).unwrap_or(Timestamp::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(ts("2026-03-20T00:00:00Z")));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        let api = api_on(table, clock);
        let put = |body: &'static [u8]| call("PUT", "/v1/tenants/t1/budget", body);
        let below = handle(&api, &put(br#"{"monthly_usd":"3","hard_limit_usd":"2"}"#)).await;
        assert_eq!(below.status, 400, "a hard limit below the budget");
        let set = handle(&api, &put(br#"{"monthly_usd":"3","hard_limit_usd":"5"}"#)).await;
        assert_eq!(set.status, 200);
        let bus = tillbridge_ports::memory::RecordingBus::default();
        let book = PriceBook::bundled();
        let t1 = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        // gpt-4o input: $2.50 per million tokens.
        let spend = |id: &'static str| {
            let usage: tillbridge_domain::event::UsageRecorded = serde_json::from_str(&format!(
                r#"{{"request_id":"{id}","operation":"mapping.suggest","provider":"openai","model":"gpt-4o","input_tokens":1000000,"output_tokens":0}}"#
            ))
            .unwrap_or_else(|e| panic!("{e}"));
            tillbridge_accounting::usage_event(
                &t1,
                usage,
                ts("2026-03-19T10:00:00Z"),
                &CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            )
        };
        async fn get(api: &Api) -> serde_json::Value {
            let r = handle(api, &call("GET", "/v1/tenants/t1/budget", b"")).await;
            assert_eq!(r.status, 200);
            serde_json::from_slice(&r.body).unwrap_or_default()
        }
        tillbridge_accounting::record_usage(api.table.as_ref(), &bus, &book, &spend("a"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let v = get(&api).await;
        assert_eq!(
            (&v["spent_usd"], &v["used_percent"], &v["state"]),
            (
                &serde_json::json!("2.500000"),
                &serde_json::json!("83.33"),
                &serde_json::json!("within")
            )
        );
        let crossed: Vec<u64> = v["thresholds_crossed"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t["percent"].as_u64()).collect())
            .unwrap_or_default();
        assert_eq!(crossed, [50, 80]);
        assert!(v["thresholds_crossed"][0]["event_id"].is_string(), "{v}");
        tillbridge_accounting::record_usage(api.table.as_ref(), &bus, &book, &spend("b"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let v = get(&api).await;
        assert_eq!(
            (&v["spent_usd"], &v["hard_limit_usd"], &v["state"]),
            (
                &serde_json::json!("5.000000"),
                &serde_json::json!("5.000000"),
                &serde_json::json!("hard_limit_reached")
            )
        );
        assert_eq!(v["thresholds_crossed"].as_array().map(Vec::len), Some(3));
        let announced = bus
            .published()
            .iter()
            .filter(|e| {
                matches!(
                    e.body,
                    tillbridge_domain::event::EventData::BudgetThresholdCrossed(_)
                )
            })
            .count();
        assert_eq!(announced, 3, "each threshold announced once");
        let all = handle(&api, &call("GET", "/v1/budgets", b"")).await;
        let v: serde_json::Value = serde_json::from_slice(&all.body).unwrap_or_default();
        assert_eq!(v["period"], "2026-03");
        assert_eq!(
            v["budgets"].as_array().map(Vec::len),
            Some(1),
            "t2 has none: {v}"
        );
        assert_eq!(v["budgets"][0]["tenant_id"], "t1");
        assert_eq!(v["budgets"][0]["monthly_usd"], "3.000000");
    }

    /// A legacy log imported over HTTP lands once, keeps its costs, and shows by feature.
    #[tokio::test]
    async fn a_legacy_log_imports_through_the_api_and_reads_by_feature() {
        let (clock, table) = store();
        let api = api_on(table, clock);
        let log = "id,created_at,service,user,total_tokens,cost\n\
                   1,2026-03-02T10:00:00Z,mapper,ana@example.com,1000,0.25\n\
                   2,2026-03-03T10:00:00Z,writer,bo@example.com,2000,0.125\n\
                   3,2026-03-03T11:00:00Z,writer,,3000,0.5\n";
        let body = serde_json::json!({
            "services": {
                "mapper": {"operation": "legacy.mapper", "feature": "mapping-suggestions"},
                "writer": {"operation": "legacy.writer"}
            },
            "log": log,
        })
        .to_string();
        fn post(b: &[u8]) -> Request<'_> {
            call("POST", "/v1/tenants/t1/costs/import", b)
        }
        let r = handle(&api, &post(body.as_bytes())).await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(
            (&v["recorded"], &v["check_passed"]),
            (&3.into(), &true.into())
        );
        assert_eq!(v["legacy_total_usd"], "0.875000");
        let again = handle(&api, &post(body.as_bytes())).await;
        let v: serde_json::Value = serde_json::from_slice(&again.body).unwrap_or_default();
        assert_eq!(
            (&v["recorded"], &v["already_recorded"]),
            (&0.into(), &3.into())
        );
        let unmapped = serde_json::json!({"services": {}, "log": log}).to_string();
        assert_eq!(handle(&api, &post(unmapped.as_bytes())).await.status, 422);
        assert_eq!(handle(&api, &post(b"{\"log\": 1}")).await.status, 400);

        let r = handle(
            &api,
            &call(
                "PUT",
                "/v1/features/legacy.writer",
                br#"{"feature":"copy"}"#,
            ),
        )
        .await;
        assert_eq!(r.status, 200);
        let r = handle(
            &api,
            &Request {
                query: &[
                    ("period".into(), "2026-03".into()),
                    ("group_by".into(), "feature".into()),
                ],
                ..call("GET", "/v1/tenants/t1/costs", b"")
            },
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let rows: Vec<(String, String)> = v["rows"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r["feature"]
                                .as_str()
                                .or(r["key"].as_str())
                                .unwrap_or("")
                                .to_owned(),
                            r["cost_usd"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            rows,
            [
                ("copy".to_owned(), "0.625000".to_owned()),
                ("mapping-suggestions".to_owned(), "0.250000".to_owned())
            ],
            "{v}"
        );
        assert_eq!(v["totals"]["cost_usd"], "0.875000");
    }

    /// An operator onboards a tenant, reads it back without secrets, rotates its webhook
    /// secret (the old one stays accepted) and is refused bad settings.
    #[tokio::test]
    async fn tenants_are_onboarded_and_rotated_through_the_api() {
        use tillbridge_domain::Secret;

        let (clock, table) = store();
        let api = api_on(table, clock);
        let body = br#"{"currency":"SEK","country":"se","time_zone":"Europe/Stockholm",
            "monthly_budget_usd":"40",
            "providers":{"shopify":{"secret":"first-secret"},
                         "square":{"secret":"sq","notification_url":"https://hooks.example/sq",
                                   "api":{"base_url":"http://127.0.0.1:9","access_token":"EAAA-tok"}}}}"#;
        let created = handle(&api, &call("PUT", "/v1/tenants/nordic", body)).await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let text = String::from_utf8_lossy(&created.body).into_owned();
        for secret in ["first-secret", "EAAA-tok", "\"sq\""] {
            assert!(!text.contains(secret), "a secret in the answer: {text}");
        }
        let v: serde_json::Value = serde_json::from_slice(&created.body).unwrap_or_default();
        assert_eq!(v["currency"], "SEK");
        assert_eq!(v["country"], "SE");
        assert_eq!(v["time_zone"], "Europe/Stockholm");
        assert_eq!(v["monthly_budget_usd"], "40");
        assert_eq!(
            v["providers"]["shopify"]["webhook_url"],
            "/v1/webhooks/shopify/nordic"
        );
        assert_eq!(v["providers"]["shopify"]["webhook_secret"], true);
        assert_eq!(v["providers"]["shopify"]["previous_secret"], false);
        assert_eq!(
            v["providers"]["square"]["api"]["credentials"],
            serde_json::json!(["access_token"])
        );
        assert_eq!(
            v["providers"]["square"]["api"]["base_url"],
            "http://127.0.0.1:9"
        );

        // Rotation: the new secret is current, the old one still accepted; square dropped.
        let update = br#"{"currency":"SEK","providers":{"shopify":{"secret":"second-secret"}}}"#;
        let updated = handle(&api, &call("PUT", "/v1/tenants/nordic", update)).await;
        assert_eq!(updated.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&updated.body).unwrap_or_default();
        assert_eq!(v["providers"]["shopify"]["previous_secret"], true);
        assert!(v["providers"]["square"].is_null(), "{v}");
        assert!(v["country"].is_null(), "a PUT replaces the settings: {v}");
        let id = TenantId::parse("nordic").unwrap_or_else(|e| panic!("{e}"));
        let s = api
            .secrets
            .webhook_secrets(&id, Provider::Shopify)
            .await
            .ok()
            .flatten()
            .map(|s| (s.current, s.previous));
        assert_eq!(
            s,
            Some((
                Secret::new("second-secret"),
                Some(Secret::new("first-secret"))
            ))
        );
        let read = handle(&api, &call("GET", "/v1/tenants/nordic", b"")).await;
        assert_eq!((read.status, read.body), (200, updated.body));
        let listed = handle(&api, &call("GET", "/v1/tenants", b"")).await;
        let v: serde_json::Value = serde_json::from_slice(&listed.body).unwrap_or_default();
        assert_eq!(v["tenants"].as_array().map(Vec::len), Some(2), "{v}");
        assert_eq!(
            handle(&api, &call("GET", "/v1/tenants/nobody", b""))
                .await
                .status,
            404
        );

        for bad in [
            &br#"{"currency":"SEK","providers":{},"colour":"red"}"#[..],
            br#"{"currency":"SEK","time_zone":"Europe/Atlantis","providers":{}}"#,
            br#"{"currency":"SEK","country":"SWE","providers":{}}"#,
            br#"{"currency":"XX","providers":{}}"#,
            br#"{"currency":"SEK","providers":{"pos9":{}}}"#,
            br#"{"currency":"SEK","providers":{"square":{"secret":"s"}}}"#,
            br#"{"currency":"SEK","providers":{"shopify":{"secret":"a","previous_secret":"b"}}}"#,
            br#"{"currency":"SEK","providers":{"shopify":{"secret":""}}}"#,
            br#"{"currency":"SEK","max_body_bytes":0,"providers":{}}"#,
            br#"{"currency":"SEK","monthly_budget_usd":"-3","providers":{}}"#,
            br#"{"currency":"SEK","providers":{"shopify":{"api":{"base_url":"ftp://x"}}}}"#,
            b"not json",
        ] {
            let r = handle(&api, &call("PUT", "/v1/tenants/nordic", bad)).await;
            assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bad));
        }
        let bad_id = handle(&api, &call("PUT", "/v1/tenants/bad%20id", update)).await;
        assert_eq!(bad_id.status, 400);
    }

    /// An administrator sets a price override through the API; the tenant's cost of usage
    /// after its date uses it, usage before keeps the map's price.
    #[tokio::test]
    async fn price_overrides_through_the_api_reprice_only_what_follows() {
        let ts = |s: &str| Timestamp::parse_rfc3339(s).unwrap_or(Timestamp::UNIX_EPOCH);
        let start = ts("2026-03-01T00:00:00Z");
        let clock = Arc::new(ManualClock::new(start));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        let api = api_on(table, clock.clone());
        let usage = |id: &str, at: &str| {
            format!(
                r#"{{"request_id":"{id}","operation":"mapping.suggest","provider":"openai","model":"gpt-4o","input_tokens":1000000,"output_tokens":0,"cached_input_tokens":0,"cache_write_tokens":0,"occurred_at":"{at}"}}"#
            )
        };
        let override_body = br#"{"model":"gpt-4o","field":"input_cost_per_token","value":"0.000001","effective_from":"2026-03-10T00:00:00Z","reason":"negotiated"}"#;
        let r = handle(&api, &call("POST", "/v1/prices/overrides", override_body)).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let past = br#"{"model":"gpt-4o","field":"input_cost_per_token","value":"0.000001","effective_from":"2026-02-01T00:00:00Z","reason":"x"}"#;
        assert_eq!(
            handle(&api, &call("POST", "/v1/prices/overrides", past))
                .await
                .status,
            400
        );
        let listed = handle(&api, &call("GET", "/v1/prices/overrides", b"")).await;
        let v: serde_json::Value = serde_json::from_slice(&listed.body).unwrap_or_default();
        assert_eq!(v["overrides"][0]["set_by"], "ops", "{v}");
        // A usage line from the future is refused: it could land in the wrong price regime.
        let future = usage("f", "2026-04-01T00:00:00Z");
        let r = handle(
            &api,
            &call("POST", "/v1/tenants/t1/usage", future.as_bytes()),
        )
        .await;
        assert_eq!(r.status, 400);

        // The usage events go to the bus; record them as the cost-accounting function does.
        clock.advance_secs(19 * 86_400);
        let book = tillbridge_accounting::prices::with_overrides(api.table.as_ref(), &api.prices)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for (id, at) in [
            ("before", "2026-03-05T00:00:00Z"),
            ("after", "2026-03-15T00:00:00Z"),
        ] {
            let body = usage(id, at);
            let r = handle(&api, &call("POST", "/v1/tenants/t1/usage", body.as_bytes())).await;
            assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        }
        let bus = tillbridge_ports::memory::RecordingBus::default();
        for u in [
            ("before", "2026-03-05T00:00:00Z"),
            ("after", "2026-03-15T00:00:00Z"),
        ] {
            let event = tillbridge_accounting::usage_event(
                &TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
                {
                    let mut v: serde_json::Value =
                        serde_json::from_str(&usage(u.0, u.1)).unwrap_or_default();
                    v.as_object_mut().map(|o| o.remove("occurred_at"));
                    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
                },
                ts(u.1),
                &CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            );
            tillbridge_accounting::record_usage(api.table.as_ref(), &bus, &book, &event)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let r = handle(
            &api,
            &Request {
                query: &[
                    ("period".into(), "2026-03".into()),
                    ("group_by".into(), "day".into()),
                ],
                ..call("GET", "/v1/tenants/t1/costs", b"")
            },
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let text = v.to_string();
        // $2.50 before the override, $1.00 after.
        assert!(
            text.contains("2.500000") && text.contains("1.000000"),
            "{text}"
        );
    }

    /// One usage-line format: the CLI's line (tenant_id, no operation, provider or
    /// migration) is accepted as is; the grouped view has a `(none)` migration row, rows
    /// that add up to `totals`, a `(total)` CSV row; `/v1/costs?totals=true` ends with one.
    #[tokio::test]
    async fn the_cli_usage_line_is_accepted_and_tables_add_up() {
        let ts = |s: &str| Timestamp::parse_rfc3339(s).unwrap_or(Timestamp::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(ts("2026-03-20T00:00:00Z")));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        let bus = Arc::new(RecordingBus::default());
        let mut api = api_on(table, clock);
        api.bus = bus.clone();
        let lines = [
            r#"{"request_id":"a","tenant_id":"t1","model":"openai/gpt-4o-mini","input_tokens":333,"output_tokens":7,"occurred_at":"2026-03-02T10:00:00Z"}"#,
            r#"{"request_id":"b","tenant_id":"t1","migration_id":"mig-1","operation":"mapping.suggest","provider":"openai","model":"gpt-4o-mini","input_tokens":111,"output_tokens":3,"cached_input_tokens":5,"occurred_at":"2026-03-03T10:00:00Z"}"#,
            r#"{"request_id":"c","model":"gpt-4o-mini-2024-07-18","input_tokens":1,"output_tokens":1,"occurred_at":"2026-03-03T11:00:00Z"}"#,
        ];
        for line in lines {
            let r = handle(&api, &call("POST", "/v1/tenants/t1/usage", line.as_bytes())).await;
            assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        }
        let other = r#"{"request_id":"d","tenant_id":"t2","model":"gpt-4o","input_tokens":1,"output_tokens":1,"occurred_at":"2026-03-03T11:00:00Z"}"#;
        let r = handle(
            &api,
            &call("POST", "/v1/tenants/t1/usage", other.as_bytes()),
        )
        .await;
        assert_eq!(r.status, 400);
        let book = PriceBook::bundled();
        for event in bus.published() {
            tillbridge_accounting::record_usage(api.table.as_ref(), bus.as_ref(), &book, &event)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let get = |group: &'static str, csv: bool| {
            let mut query = vec![
                ("period".to_owned(), "2026-03".to_owned()),
                ("group_by".to_owned(), group.to_owned()),
            ];
            if csv {
                query.push(("format".to_owned(), "csv".to_owned()));
            }
            query
        };
        let q = get("migration", false);
        let r = handle(
            &api,
            &Request {
                query: &q,
                ..call("GET", "/v1/tenants/t1/costs", b"")
            },
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let keys: Vec<&str> = v["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["migration"].as_str())
            .collect();
        assert_eq!(keys, ["mig-1", "(none)"], "{v}");
        assert_eq!(v["totals"]["requests"], 3, "{v}");
        let q = get("model", false);
        let r = handle(
            &api,
            &Request {
                query: &q,
                ..call("GET", "/v1/tenants/t1/costs", b"")
            },
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["rows"].as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v["rows"][0]["model"], "gpt-4o-mini");
        assert_eq!(
            v["rows"][0]["raw_models"],
            serde_json::json!([
                "gpt-4o-mini",
                "gpt-4o-mini-2024-07-18",
                "openai/gpt-4o-mini"
            ])
        );
        assert_eq!(v["rows"][0]["cost_usd"], v["totals"]["cost_usd"]);
        let q = get("operation", true);
        let r = handle(
            &api,
            &Request {
                query: &q,
                ..call("GET", "/v1/tenants/t1/costs", b"")
            },
        )
        .await;
        let csv = String::from_utf8_lossy(&r.body).to_string();
        assert!(csv.lines().any(|l| l.starts_with("(none),2,")), "{csv}");
        assert!(
            csv.lines()
                .last()
                .is_some_and(|l| l.starts_with("(total),3,")),
            "{csv}"
        );
        let q = vec![
            ("period".to_owned(), "2026-03".to_owned()),
            ("totals".to_owned(), "true".to_owned()),
        ];
        let r = handle(
            &api,
            &Request {
                query: &q,
                ..call("GET", "/v1/costs", b"")
            },
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v[1]["tenant_id"], "(total)", "{v}");
        assert_eq!(v[1]["cost_usd"], v[0]["cost_usd"]);
    }

    /// An administrator sees a dead-letter queue's messages by ids only and moves them back.
    #[tokio::test]
    async fn dead_letters_are_listed_by_ids_and_redriven() {
        use tillbridge_ports::Queue;

        let (clock, table) = store();
        let dlq: Arc<dyn Queue> =
            Arc::new(TableQueue::new("catalog-dlq", table.clone(), clock.clone()));
        let target: Arc<dyn Queue> =
            Arc::new(TableQueue::new("catalog", table.clone(), clock.clone()));
        let api = Api {
            dead_letters: vec![crate::dead_letters::DeadLetters {
                name: "catalog".into(),
                dlq: dlq.clone(),
                target: target.clone(),
            }],
            ..api_on(table, clock)
        };
        let body = r#"{"detail-type":"pos.catalog.item.upserted","detail":{"tenant_id":"t1","event_id":"e1","data":{"item":{"name":"Ann Smith"}}}}"#;
        for _ in 0..3 {
            dlq.send(body).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let listed = handle(&api, &call("GET", "/v1/dead-letters", b"")).await;
        let text = String::from_utf8_lossy(&listed.body).into_owned();
        assert_eq!(listed.status, 200, "{text}");
        assert!(
            text.contains("\"e1\"") && !text.contains("Ann Smith"),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_slice(&listed.body).unwrap_or_default();
        assert_eq!(v["queues"][0]["depth"], 3);
        let moved = handle(&api, &call("POST", "/v1/dead-letters/catalog/redrive", b"")).await;
        let v: serde_json::Value = serde_json::from_slice(&moved.body).unwrap_or_default();
        assert_eq!(
            (v["moved"].as_u64(), v["left"].as_u64()),
            (Some(3), Some(0)),
            "{v}"
        );
        assert_eq!(target.depth().await.ok(), Some(3));
        let none = handle(&api, &call("POST", "/v1/dead-letters/nope/redrive", b"")).await;
        assert_eq!(none.status, 404);
    }

    /// A migration into a vendor without a writer, or without credentials, is refused at the
    /// start, before anything is stored.
    #[tokio::test]
    async fn a_destination_without_a_writer_or_credentials_is_refused_at_the_start() {
        let (clock, table) = store();
        let api = api_with(
            r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{"clover":{"secret":"c","api":{"access_token":"tok"}}}}]}"#,
            table,
            clock,
        );
        for (dest, why) in [
            ("clover", "writer"),
            ("square", "credentials"),
            ("pos9", "unknown"),
        ] {
            let body = format!(
                r#"{{"tenant_id":"t1","source_name":"square","destination":"{dest}","export":[{{"id":"a1","name":"Latte","price":"4.50"}}]}}"#
            );
            let r = handle(&api, &call("POST", "/v1/migrations", body.as_bytes())).await;
            let text = String::from_utf8_lossy(&r.body).into_owned();
            assert_eq!(r.status, 400, "{dest}: {text}");
            assert!(text.contains(why), "{dest}: {text}");
        }
    }

    /// Replaying several deliveries answers each id's outcome; an empty list is refused.
    #[tokio::test]
    async fn replay_many_answers_per_id() {
        let (clock, table) = store();
        let api = api_on(table, clock);
        let path = "/v1/tenants/t1/quarantine/replay";
        let r = handle(&api, &call("POST", path, br#"{"delivery_ids":["nope"]}"#)).await;
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["replayed"]["nope"], "not_found");
        let r = handle(&api, &call("POST", path, br#"{"delivery_ids":[]}"#)).await;
        assert_eq!(r.status, 400);
    }

    /// Following the Link header page by page yields every item once, in id order.
    #[tokio::test]
    async fn items_page_by_cursor_through_the_link_header() {
        let (clock, table) = store();
        for id in ["a1", "a2", "b1", "b2", "c1"] {
            tillbridge_catalog::apply_and_count(table.as_ref(), &upsert(id))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let api = api_on(table, clock);
        let mut query = vec![("limit".to_owned(), "2".to_owned())];
        let mut seen = Vec::new();
        for _ in 0..5 {
            let r = handle(
                &api,
                &Request {
                    method: "GET",
                    path: "/v1/tenants/t1/items",
                    query: &query,
                    headers: &[],
                    operator: "ops",
                    body: b"",
                },
            )
            .await;
            assert_eq!(r.status, 200);
            let items: Vec<serde_json::Value> = serde_json::from_slice(&r.body).unwrap_or_default();
            assert!(items.len() <= 2);
            seen.extend(
                items
                    .iter()
                    .map(|i| i["external_id"].as_str().unwrap_or("").to_owned()),
            );
            let Some((_, link)) = r.headers.iter().find(|(n, _)| *n == "link") else {
                break;
            };
            let cursor = link
                .split("cursor=")
                .nth(1)
                .and_then(|c| c.split('>').next())
                .unwrap_or_default();
            query = vec![
                ("limit".to_owned(), "2".to_owned()),
                ("cursor".to_owned(), cursor.to_owned()),
            ];
        }
        assert_eq!(seen, ["a1", "a2", "b1", "b2", "c1"]);
        let bad = vec![("limit".to_owned(), "0".to_owned())];
        let r = handle(
            &api,
            &Request {
                method: "GET",
                path: "/v1/tenants/t1/items",
                query: &bad,
                headers: &[],
                operator: "ops",
                body: b"",
            },
        )
        .await;
        assert_eq!(r.status, 400);
    }
}

/// Tenancy: an operator granted everything on tenant t1 gets 403 on tenant t2 for every
/// route (the cross-tenant check of issue 12), and is served on t1.
mod tenancy {

    use super::pagination::{api_with_tenants, store};
    use crate::access::{Grants, Permission, set_grants};
    use crate::{ROUTES, Request, RouteId, handle};

    #[tokio::test]
    async fn an_operator_of_one_tenant_is_refused_on_another_on_every_route() {
        let (clock, table) = store();
        let api = api_with_tenants(table.clone(), clock);
        let all = vec![
            Permission::Read,
            Permission::Write,
            Permission::Ai,
            Permission::Admin,
        ];
        let grants = Grants {
            tenants: [("t1".to_owned(), all)].into_iter().collect(),
        };
        set_grants(table.as_ref(), "bob", &grants)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // A migration of t2, started by the administrator.
        let start = br#"{"tenant_id":"t2","source_name":"square","export":[{"id":"a1","name":"Latte","price":"4.50"}]}"#;
        let r = handle(
            &api,
            &Request {
                method: "POST",
                path: "/v1/migrations",
                query: &[],
                headers: &[],
                operator: "ops",
                body: start,
            },
        )
        .await;
        assert_eq!(r.status, 202);
        let view: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let migration = view["id"].as_str().unwrap_or_default().to_owned();

        // The tenant list answers everyone, showing only the tenants they may read.
        for route in ROUTES
            .iter()
            .filter(|r| !matches!(r.id, RouteId::Health | RouteId::ListTenants))
        {
            let id = if route.path.starts_with("/v1/migrations/") {
                migration.as_str()
            } else {
                "x1"
            };
            let path = route
                .path
                .replace("{tenant}", "t2")
                .replace("{provider}", "shopify")
                .replace("{id}", id)
                .replace("{action}", "approve");
            let query: Vec<(String, String)> = match route.id {
                RouteId::ListMigrations => vec![("tenant_id".into(), "t2".into())],
                RouteId::GetGrants | RouteId::PutGrants => vec![("principal".into(), "bob".into())],
                RouteId::AllCosts | RouteId::TenantCosts => {
                    vec![("period".into(), "2026-03".into())]
                }
                _ => Vec::new(),
            };
            let body: &[u8] = if route.id == RouteId::StartMigration {
                start
            } else {
                b"{}"
            };
            let r = handle(
                &api,
                &Request {
                    method: route.method,
                    path: &path,
                    query: &query,
                    headers: &[],
                    operator: "bob",
                    body,
                },
            )
            .await;
            assert_eq!(
                r.status,
                403,
                "{} {path}: {}",
                route.method,
                String::from_utf8_lossy(&r.body)
            );
        }
        let own = handle(
            &api,
            &Request {
                method: "GET",
                path: "/v1/tenants/t1/items",
                query: &[],
                headers: &[],
                operator: "bob",
                body: b"",
            },
        )
        .await;
        assert_eq!(own.status, 200);
        let listed = handle(
            &api,
            &Request {
                method: "GET",
                path: "/v1/tenants",
                query: &[],
                headers: &[],
                operator: "bob",
                body: b"",
            },
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&listed.body).unwrap_or_default();
        let ids: Vec<&str> = v["tenants"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t["tenant_id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!((listed.status, ids), (200, vec!["t1"]));
    }
}

/// The console answers through the same router: same authorization, escaped values.
mod console_pages {
    use super::pagination::{api_with_tenants, store};
    use crate::{Request, handle};

    fn get<'a>(path: &'a str, operator: &'a str, query: &'a [(String, String)]) -> Request<'a> {
        Request {
            method: "GET",
            path,
            query,
            headers: &[],
            operator,
            body: b"",
        }
    }

    #[tokio::test]
    async fn pages_are_html_behind_the_same_authorization() {
        let (clock, table) = store();
        let api = api_with_tenants(table, clock);
        let r = handle(&api, &get("/console/", "ops", &[])).await;
        assert_eq!(r.status, 200);
        assert!(r.content_type.starts_with("text/html"));
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.contains("/console/tenants/t1") && body.contains("/console/tenants/t2"));
        // Somebody without grants sees no tenant and cannot open one.
        let r = handle(&api, &get("/console/", "nobody", &[])).await;
        assert!(!String::from_utf8_lossy(&r.body).contains("/console/tenants/t1"));
        let r = handle(&api, &get("/console/tenants/t1", "nobody", &[])).await;
        assert_eq!(r.status, 403);
        let r = handle(&api, &get("/console/costs", "nobody", &[])).await;
        assert_eq!(r.status, 403);
        let r = handle(&api, &get("/console/static/console.css", "nobody", &[])).await;
        assert_eq!(r.status, 200);
        let r = handle(&api, &get("/console/nope/../x", "ops", &[])).await;
        assert_eq!(r.status, 404);
    }

    #[tokio::test]
    async fn a_hostile_notice_is_escaped() {
        let (clock, table) = store();
        let api = api_with_tenants(table, clock);
        let body = serde_json::json!({
            "tenant_id": "t1",
            "source_name": "lightspeed",
            "export": "Item ID,<img src=x onerror=alert(2)>\nA1,x\n",
        })
        .to_string();
        let r = handle(
            &api,
            &Request {
                method: "POST",
                path: "/v1/migrations",
                query: &[],
                headers: &[],
                operator: "ops",
                body: body.as_bytes(),
            },
        )
        .await;
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        let m: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let id = m["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/console/migrations/{id}");
        let hostile = [("msg".to_owned(), "<script>alert(1)</script>".to_owned())];
        for page in [path.as_str(), "/console/tenants/t1/migrations"] {
            let r = handle(&api, &get(page, "ops", &hostile)).await;
            let html = String::from_utf8_lossy(&r.body);
            assert_eq!(r.status, 200, "{html}");
            assert!(!html.contains("<script>alert") && !html.contains("<img src=x"));
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{html}"
            );
        }
    }
}
