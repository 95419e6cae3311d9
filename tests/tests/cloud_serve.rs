//! `tillbridge serve --backend aws`: the same pipeline on the AWS adapters (DynamoDB, S3)
//! against moto, driven over HTTP like the embedded one: webhooks, then a migration and its
//! rollback.

mod support;

use std::time::Duration;

use support::*;
use tillbridge_aws::moto::{Moto, provision};
use tillbridge_aws::{emulator_config, s3_client};

const WAIT: Duration = Duration::from_secs(60);

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

#[test]
fn serve_on_the_aws_adapters_runs_webhooks_and_migrations() {
    let moto = Moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let (table, bucket) = (unique("serve"), unique("serve"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let cfg = emulator_config(&moto.endpoint).await;
        provision::table(&aws_sdk_dynamodb::Client::new(&cfg), &table)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        s3_client(&cfg)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    });
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("TABLE_NAME", table.clone()),
        ("BUCKET_NAME", bucket.clone()),
    ];
    let s = Server::start_with(
        temp_state("aws"),
        &["--backend", "aws", "--operator", "ana@ops"],
        &env,
    );

    let (status, reply) = post_shopify(
        &s.addr,
        "t1",
        "d1",
        &product(7, 71, "4.50", "2026-03-01T10:00:00Z"),
        "shp-secret",
    );
    assert_eq!(status, 202, "{reply}");
    s.eventually("the webhook item in DynamoDB", WAIT, |s| {
        let (status, body) = s.get("/v1/tenants/t1/items/71");
        status == 200 && json(&body)["price_minor"] == 450
    });
    let (status, _) = post_shopify(&s.addr, "t1", "d2", b"{}", "wrong-secret");
    assert_eq!(status, 202);
    s.eventually("the forgery quarantined in S3 + DynamoDB", WAIT, |s| {
        let (_, body) = s.get("/v1/tenants/t1/quarantine");
        body.contains("signature")
    });

    let operator = [
        ("content-type", "text/csv".to_owned()),
        ("x-tillbridge-operator", "ana@ops".to_owned()),
    ];
    let (status, body) = s.request(
        "POST",
        "/v1/migrations?tenant_id=t1&source_name=lightspeed",
        &operator,
        b"Item ID,Item Name,Price\nA1,Latte,4.50\nA2,Mocha,5.00\n",
    );
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().unwrap_or_default().to_owned();
    let status_of = |s: &Server| json(&s.get(&format!("/v1/migrations/{id}")).1)["status"].clone();
    s.eventually("suggestions", WAIT, |s| status_of(s) == "mapping_review");
    let (status, _) = s.request(
        "POST",
        &format!("/v1/migrations/{id}/approve"),
        &operator[1..],
        b"",
    );
    assert_eq!(status, 202);
    s.eventually("the apply", WAIT, |s| status_of(s) == "completed");
    let (_, item) = s.get("/v1/tenants/t1/items/A2");
    assert_eq!(json(&item)["price_minor"], 500);
    let (status, _) = s.request(
        "POST",
        &format!("/v1/migrations/{id}/rollback"),
        &operator[1..],
        b"",
    );
    assert_eq!(status, 202);
    s.eventually("the rollback", WAIT, |s| status_of(s) == "rolled_back");
    assert_eq!(s.get("/v1/tenants/t1/items/A2").0, 404);
    assert_eq!(
        json(&s.get("/v1/tenants/t1/items/71").1)["price_minor"],
        450
    );
    let (_, report) = s.get(&format!("/v1/migrations/{id}/rollback-report"));
    assert_eq!(json(&report)["verified"], true, "{report}");
}
