use std::sync::Arc;

use tillbridge_domain::Timestamp;
use tillbridge_ports::table::{Condition, Item, Table};
use tillbridge_ports::{BlobStore, ManualClock, conformance};

use super::*;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
    ))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tillbridge-embedded-{name}-{}",
        uuid::Uuid::now_v7()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn embedded_table_meets_the_table_contract() {
    let c = clock();
    let e = Embedded::open(&temp_dir("table"), c.clone()).unwrap_or_else(|err| panic!("{err}"));
    conformance::table_contract(e.table, c).await;
}

#[tokio::test]
async fn embedded_table_meets_the_transaction_contract() {
    let e = Embedded::open(&temp_dir("tx"), clock()).unwrap_or_else(|err| panic!("{err}"));
    conformance::transaction_contract(e.table).await;
}

#[tokio::test]
async fn table_queue_on_embedded_meets_the_queue_contract() {
    let c = clock();
    let e = Embedded::open(&temp_dir("queue"), c.clone()).unwrap_or_else(|err| panic!("{err}"));
    conformance::queue_contract(e.table, c).await;
}

#[tokio::test]
async fn state_survives_reopening() {
    let dir = temp_dir("reopen");
    {
        let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
        e.table
            .put(
                Item::new("p", "s", serde_json::Map::new()),
                Condition::IfAbsent,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        e.blobs
            .put("raw/t1/a.json", b"{\"a\":1}")
            .await
            .unwrap_or_else(|err| panic!("{err}"));
    }
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        e.table
            .get("p", "s")
            .await
            .ok()
            .flatten()
            .map(|i| i.version),
        Some(1)
    );
    assert_eq!(
        e.blobs.get("raw/t1/a.json").await.ok().flatten().as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
    assert_eq!(
        e.blobs.list("raw/").await.ok(),
        Some(vec!["raw/t1/a.json".to_owned()])
    );
    assert_eq!(e.blobs.get("raw/t1/missing").await.ok(), Some(None));
    assert!(e.blobs.put("../escape", b"").await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn file_secret_store_meets_the_contract_and_survives_reopening() {
    use tillbridge_domain::{Provider, Secret, TenantId};
    use tillbridge_ports::SecretStore;

    let dir = temp_dir("secrets");
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    conformance::secret_store_contract(e.secrets.as_ref()).await;
    drop(e);
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    let t = TenantId::parse("conformance").unwrap_or_else(|err| panic!("{err}"));
    let s = e
        .secrets
        .webhook_secrets(&t, Provider::Square)
        .await
        .ok()
        .flatten()
        .map(|s| (s.current, s.previous));
    assert_eq!(s, Some((Secret::new("two"), Some(Secret::new("one")))));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secrets.json"))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default();
        assert_eq!(mode, 0o600, "only the owner may read the secrets file");
    }
    let table_file = std::fs::read(dir.join("state.redb")).unwrap_or_default();
    let needle = b"EAAA-new";
    assert!(
        !table_file.windows(needle.len()).any(|w| w == needle),
        "no secret in the table file"
    );
}

#[tokio::test]
async fn file_blob_store_lists_sizes() {
    let dir = temp_dir("blob-sizes");
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    conformance::blob_sizes_contract(e.blobs.as_ref()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_all_land_and_races_have_one_winner() {
    use tillbridge_ports::PortError;
    use tillbridge_ports::table::query_all;

    let dir = temp_dir("group");
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    let table = e.table.clone();
    let ok = |r: std::result::Result<Result<(), PortError>, tokio::task::JoinError>| {
        r.unwrap_or_else(|err| panic!("{err}"))
            .unwrap_or_else(|err| panic!("{err}"));
    };

    // 100 tasks × 20 puts of distinct keys, and 100 tasks adding to one counter.
    let mut tasks = Vec::new();
    for task in 0..100 {
        let t = table.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                t.put(
                    Item::new("g", format!("{task:03}-{i:02}"), serde_json::Map::new()),
                    Condition::IfAbsent,
                )
                .await?;
            }
            t.add("c", "n", &[("hits", 1)]).await.map(|_| ())
        }));
    }
    for t in tasks {
        ok(t.await);
    }
    let items = query_all(table.as_ref(), "g", "")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(items.len(), 2000);
    assert!(items.iter().all(|i| i.version == 1));
    let hits = table.get("c", "n").await.ok().flatten();
    assert_eq!(
        hits.and_then(|i| i.attrs.get("hits").and_then(serde_json::Value::as_i64)),
        Some(100)
    );

    // Races: 16 tasks put the same absent key, then all update it from the version they
    // read; each round has exactly one winner of each.
    for round in 0..20 {
        let sk = format!("r{round}");
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let (t, sk) = (table.clone(), sk.clone());
                tokio::spawn(async move {
                    t.put(
                        Item::new("race", sk, serde_json::Map::new()),
                        Condition::IfAbsent,
                    )
                    .await
                })
            })
            .collect();
        let mut won = 0;
        for r in racers {
            match r.await.unwrap_or_else(|err| panic!("{err}")) {
                Ok(v) => {
                    assert_eq!(v, 1);
                    won += 1;
                }
                Err(PortError::ConditionFailed) => {}
                Err(err) => panic!("{err}"),
            }
        }
        assert_eq!(won, 1, "one IfAbsent winner in round {round}");
        let racers: Vec<_> = (0..16)
            .map(|k| {
                let (t, sk) = (table.clone(), sk.clone());
                tokio::spawn(async move {
                    let mut attrs = serde_json::Map::new();
                    attrs.insert("by".into(), serde_json::Value::from(k));
                    t.put(Item::new("race", sk, attrs), Condition::IfVersion(1))
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for r in racers {
            match r.await.unwrap_or_else(|err| panic!("{err}")) {
                Ok(v) => {
                    assert_eq!(v, 2);
                    won += 1;
                }
                Err(PortError::ConditionFailed) => {}
                Err(err) => panic!("{err}"),
            }
        }
        assert_eq!(won, 1, "one IfVersion winner in round {round}");
    }

    // Everything acknowledged is durable: it is there after reopening.
    drop(table);
    drop(e);
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    let again = query_all(e.table.as_ref(), "g", "")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(again.len(), 2000);
    let _ = std::fs::remove_dir_all(&dir);
}
