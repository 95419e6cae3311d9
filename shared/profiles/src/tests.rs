use serde_json::json;
use tillbridge_domain::event::EventData;
use tillbridge_domain::{Currency, ProfileName, Secret, Timestamp};
use tillbridge_webhooks::{Headers, NormalizeContext, Normalized};

use super::*;

fn name(s: &str) -> ProfileName {
    ProfileName::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn shipped(s: &str) -> Profile {
    builtin(name(s)).unwrap_or_else(|| panic!("no built-in profile {s}"))
}

fn run(p: &Profile, headers: &Headers, body: &[u8]) -> Normalized {
    let ctx = NormalizeContext {
        currency: Currency::parse("USD").unwrap_or_else(|e| panic!("{e}")),
        headers,
        received_at: Timestamp::from_unix_seconds(1_750_000_000).unwrap_or_else(|| panic!()),
    };
    normalize(p, &ctx, body).unwrap_or_else(|e| panic!("{}: {e}", p.name()))
}

fn items(n: &Normalized) -> Vec<serde_json::Value> {
    n.events
        .iter()
        .map(|e| match &e.data {
            EventData::CatalogItemUpserted(u) => serde_json::to_value(&u.item).unwrap_or_default(),
            other => panic!("not an upsert: {other:?}"),
        })
        .collect()
}

#[test]
fn every_shipped_profile_parses_under_its_file_name() {
    assert_eq!(BUILTIN_FILES.len(), 9);
    for (file, text) in BUILTIN_FILES {
        let p = Profile::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(format!("{}.json", p.name()), *file);
        assert!(!p.doc().sources.is_empty(), "{file}: sources");
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/profile.schema.json");
    let generated = serde_json::to_string_pretty(&json_schema()).unwrap_or_default() + "\n";
    if std::env::var_os("TILLBRIDGE_WRITE_SCHEMAS").is_some() {
        std::fs::write(path, &generated).unwrap_or_else(|e| panic!("{e}"));
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/profile.schema.json is stale: TILLBRIDGE_WRITE_SCHEMAS=1 cargo test -p tillbridge-profiles"
    );
}

#[test]
fn bad_profiles_are_refused_with_the_path_of_each_problem() {
    let unknown = Profile::parse(
        r#"{"name":"x","version":1,"title":"X","sources":["s"],"mapping":{"fields":[]},"colour":1}"#,
    );
    let e = unknown.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("unknown field `colour`"), "{e}");

    let nested = Profile::parse(
        r#"{"name":"x","version":1,"title":"X","sources":["s"],"webhooks":{"signature":{"scheme":"hmac","algorithm":"md5","signature":{"header":"s"},"encoding":"hex"},"event_type":{"constant":"a"},"events":[]},"mapping":{"fields":[]}}"#,
    );
    let e = nested.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("webhooks.signature") && e.contains("md5"), "{e}");

    let builtin_name = Profile::parse(
        r#"{"name":"shopify","version":1,"title":"X","sources":["s"],"mapping":{"fields":[]}}"#,
    );
    let e = builtin_name
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("name") && e.contains("built-in"), "{e}");

    let rules = Profile::parse(
        r#"{"name":"x","version":1,"title":"X","sources":["s"],
        "webhooks":{"signature":{"scheme":"hmac","algorithm":"sha256","signature":{"header":"s"},"encoding":"hex","signed":["timestamp","body"]},
          "event_type":{"pointer":"type"},
          "events":[{"types":["a"],"meaning":"stock","records":"data"}]},
        "mapping":{"fields":[{"source":"id","target":"identifier"}]}}"#,
    );
    let problems = rules.err().map(|e| e.problems).unwrap_or_default();
    let all = problems.join("\n");
    for expected in [
        "webhooks.signature.signed[0]: signs the timestamp",
        "webhooks.event_type: \"type\" is not a JSON pointer",
        "webhooks.events[0].records",
        "webhooks.events[0].fields.id: required",
        "webhooks.events[0].fields.quantity: required",
        "mapping.fields[0].target: \"identifier\" is not a canonical field",
        "nothing maps to external_id",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in\n{all}");
    }
}

/// A vendor that signs per Standard Webhooks (the spec's own test vector) is verified by a
/// profile and its events mean what the profile says — no longer "unhandled".
fn standard_webhooks_vendor() -> Profile {
    Profile::parse(
        r#"{"name":"acme-pos","version":1,"title":"Acme POS","sources":["https://www.standardwebhooks.com/"],
        "webhooks":{
          "signature":{"scheme":"hmac","algorithm":"sha256","signature":{"header":"webhook-signature"},
            "encoding":"base64","prefix":"v1,","separator":" ",
            "signed":[{"header":"webhook-id"},{"literal":"."},"timestamp",{"literal":"."},"body"],
            "timestamp":{"header":"webhook-timestamp","tolerance_secs":300},
            "secret":{"strip_prefix":"whsec_","decode":"base64"}},
          "delivery_id":{"header":"webhook-id"},
          "event_type":{"pointer":"/type"},
          "events":[
            {"types":["item.updated","item.created"],"meaning":"upsert","records":"/data"},
            {"types":["item.deleted"],"meaning":"delete","records":"/data","fields":{"id":"/id"}},
            {"types":["stock.*"],"meaning":"stock","records":"/data/levels","fields":{"id":"/item","quantity":"/on_hand","location":"/store"}}]},
        "mapping":{"fields":[
          {"source":"id","target":"external_id"},{"source":"title","target":"name"},
          {"source":"price","target":"price_minor","conversion":"major_to_minor"}]}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn verifies_the_standard_webhooks_test_vector_with_rotation_and_tolerance() {
    let p = standard_webhooks_vendor();
    let body = br#"{"test": 2432232314}"#;
    let h = Headers::new()
        .with("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
        .with("webhook-timestamp", "1614265330")
        .with(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
    let current = Secret::new(b"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let previous = Secret::new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(precheck(&p, &h, body, 1614265330, 300), Ok(()));
    assert_eq!(
        verify(
            &p,
            &h,
            body,
            &[current.clone(), previous.clone()],
            None,
            1614265330,
            300
        ),
        Ok(1),
        "the previous secret (rotation) matches"
    );
    assert!(matches!(
        verify(&p, &h, body, &[current], None, 1614265330, 300),
        Err(CheckError::Request(m)) if m.contains("does not match")
    ));
    assert!(matches!(
        verify(&p, &h, body, std::slice::from_ref(&previous), None, 1614265330 + 301, 300),
        Err(CheckError::Request(m)) if m.contains("tolerance")
    ));
    assert!(matches!(
        verify(
            &p,
            &h,
            b"{\"test\": 2432232315}",
            &[previous],
            None,
            1614265330,
            300
        ),
        Err(CheckError::Request(_))
    ));
    assert!(matches!(
        precheck(&p, &Headers::new(), body, 0, 300),
        Err(CheckError::Request(m)) if m.contains("missing signature")
    ));
    assert_eq!(
        delivery_key(&p, &h, body),
        "id:msg_p5jXN8AQM9LWM0D4loKWxJek"
    );
}

#[test]
fn a_profile_vendors_events_become_canonical_events() {
    let p = standard_webhooks_vendor();
    let h = Headers::new();
    let n = run(
        &p,
        &h,
        br#"{"type":"item.updated","data":{"id":"sku-1","title":"Oat latte","price":"4.50"}}"#,
    );
    assert!(!n.unhandled);
    assert_eq!(
        items(&n),
        vec![
            json!({"external_id":"sku-1","name":"Oat latte","price_minor":450,"currency":"USD","updated_at":"2025-06-15T15:06:40Z"})
        ]
    );

    let n = run(&p, &h, br#"{"type":"item.deleted","data":{"id":"sku-1"}}"#);
    assert!(
        matches!(&n.events[0].data, EventData::CatalogItemDeleted(d) if d.external_id == "sku-1")
    );

    let n = run(&p, &h, br#"{"type":"stock.changed","data":{"levels":[{"item":"sku-1","on_hand":"2.5","store":"s1"},{"item":"sku-2","on_hand":0,"store":"s1"}]}}"#);
    assert_eq!(n.events.len(), 2);
    assert!(
        matches!(&n.events[0].data, EventData::InventoryAdjusted(a) if a.quantity.map(|q| q.to_string()) == Some("2.5".into()) && a.location_id.as_deref() == Some("s1"))
    );

    let n = run(&p, &h, br#"{"type":"customer.created","data":{}}"#);
    assert!(n.unhandled && n.vendor_event == "customer.created");

    // Money is exact or refused: three decimals in USD is not an amount.
    let ctx = NormalizeContext {
        currency: Currency::parse("USD").unwrap_or_else(|e| panic!("{e}")),
        headers: &h,
        received_at: Timestamp::UNIX_EPOCH,
    };
    let bad = normalize(
        &p,
        &ctx,
        br#"{"type":"item.updated","data":{"id":"x","price":"4.505"}}"#,
    );
    assert!(
        matches!(&bad, Err(tillbridge_webhooks::NormalizeError::Malformed(m)) if m.contains("mapping")),
        "{bad:?}"
    );
    assert!(normalize(&p, &ctx, b"not json").is_err());
    assert!(
        normalize(&p, &ctx, br#"{"data":{}}"#).is_err(),
        "no event type"
    );
}

#[test]
fn treez_product_webhook_with_its_bearer_token() {
    let p = shipped("treez");
    // From code.treez.io/docs/dispensary-webhook-product (trimmed).
    let body = br#"{"event_type":"PRODUCT","dispensary_short_name":"partnersandbox3","data":{"product_id":"2a55b36d-c577-11e7-b8a4-94c691122fa5","product_status":"ACTIVE","last_updated_at":"2019-08-29T09:42:33.000-07:00","sellable_quantity":500,"category_type":"EDIBLE","product_configurable_fields":{"brand":"DR. NORMS COOKIES","name":"100MG CHOCOLATE CHIP (BAG) TEN-10MG COOKIES","uom":"GRAMS"},"pricing":{"price_type":"FLAT","price_sell":21,"tier_name":null},"product_barcodes":[{"sku":"EiYmuixmSy","type":"USER_DEFINED"},{"sku":"W280","type":"GENERATED"}]}}"#;
    let received = Headers::new().with("Authorization", "Bearer CHQUBXBIFOJG26KFRLL0J3HC");
    assert_eq!(precheck(&p, &received, body, 0, 300), Ok(()));
    // The ingress forwards only the token's digest.
    let (hname, digest) = forwarded_token(&p, &received).unwrap_or_default();
    assert!(!digest.contains("CHQUBX"));
    let forwarded = Headers::new().with(&hname, digest);
    let secret = Secret::new(b"CHQUBXBIFOJG26KFRLL0J3HC");
    assert_eq!(verify(&p, &forwarded, body, &[secret], None, 0, 300), Ok(0));
    assert!(verify(&p, &forwarded, body, &[Secret::new(b"other")], None, 0, 300).is_err());
    assert!(precheck(&p, &Headers::new(), body, 0, 300).is_err());

    let n = run(&p, &forwarded, body);
    assert_eq!(
        items(&n),
        vec![json!({
            "external_id": "2a55b36d-c577-11e7-b8a4-94c691122fa5",
            "sku": "EiYmuixmSy",
            "name": "100MG CHOCOLATE CHIP (BAG) TEN-10MG COOKIES",
            "category": "EDIBLE",
            "price_minor": 2100,
            "currency": "USD",
            "quantity_on_hand": 500,
            "is_active": true,
            "brand": "DR. NORMS COOKIES",
            "unit_of_measure": "GRAMS",
            "updated_at": "2019-08-29T16:42:33Z"
        })]
    );
    // Inventory: changed, fetch the product.
    let inv = br#"{"event_type":"INVENTORY","dispensary_short_name":"partnersandbox3","data":{"id":"123634587522","productId":"9f3fadfb-2f24-4a08-bd3b-a430e267b72f","inventory":[{"location":"DISPLAY CASE 1","quantity":{"available":795.0}}]}}"#;
    let n = run(&p, &forwarded, inv);
    assert!(
        matches!(&n.events[0].data, EventData::FetchRequested(f) if f.object_type == "product" && f.object_id.as_deref() == Some("9f3fadfb-2f24-4a08-bd3b-a430e267b72f"))
    );
}

#[test]
fn ikas_product_webhook_signed_over_its_data_string() {
    let p = shipped("ikas");
    let data = r#"{"id":"p-1","name":"Keten Gömlek","brand":{"name":"Atölye"},"updatedAt":1718000000000,"variants":[{"id":"v-1","sku":"KG-S","barcodeList":["8690000000011"],"prices":[{"sellPrice":349.9,"currency":"TRY"}]},{"id":"v-2","sku":"KG-M","barcodeList":[],"prices":[{"sellPrice":"359.90"}]}]}"#;
    let mut hook = json!({"id":"wh-1","createdAt":"2024-06-10T06:13:20Z","scope":"store/product/updated","merchantId":"m-1","data":data,"signature":"","authorizedAppId":"app-1"});
    let unsigned = serde_json::to_vec(&hook).unwrap_or_default();
    let sig = sign_hmac(&p, b"client-secret", &Headers::new(), &unsigned, None).unwrap_or_default();
    assert_eq!(sig.len(), 64, "hex HMAC-SHA256");
    hook["signature"] = json!(sig);
    let body = serde_json::to_vec(&hook).unwrap_or_default();
    let h = Headers::new();
    assert_eq!(
        verify(
            &p,
            &h,
            &body,
            &[Secret::new(b"client-secret")],
            None,
            0,
            300
        ),
        Ok(0)
    );
    assert!(verify(&p, &h, &body, &[Secret::new(b"wrong")], None, 0, 300).is_err());
    assert_eq!(delivery_key(&p, &h, &body), "id:wh-1");

    let ctx = NormalizeContext {
        currency: Currency::parse("TRY").unwrap_or_else(|e| panic!("{e}")),
        headers: &h,
        received_at: Timestamp::UNIX_EPOCH,
    };
    let n = normalize(&p, &ctx, &body).unwrap_or_else(|e| panic!("{e}"));
    let got = items(&n);
    let variants: Vec<_> = got.iter().filter(|i| i["external_id"] != "p-1").collect();
    assert_eq!(variants.len(), 2, "{got:#?}");
    assert_eq!(variants[0]["external_id"], "v-1");
    assert_eq!(variants[0]["sku"], "KG-S");
    assert_eq!(variants[0]["price_minor"], 34990);
    assert_eq!(variants[0]["barcode"], "8690000000011");
    assert_eq!(variants[1]["price_minor"], 35990);
    assert_eq!(variants[0]["name"], "Keten Gömlek");

    let stock = json!({"id":"wh-2","createdAt":"2024-06-10T06:13:20Z","scope":"store/stock/updated","merchantId":"m-1","data":r#"{"variantId":"v-1","productId":"p-1","stockLocationId":"loc-1","stockCount":7}"#,"signature":"x","authorizedAppId":"a"});
    let n = normalize(&p, &ctx, &serde_json::to_vec(&stock).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&n.events[0].data, EventData::InventoryAdjusted(a) if a.external_id.as_deref() == Some("v-1") && a.location_id.as_deref() == Some("loc-1"))
    );
}

#[test]
fn magento_product_hook_with_its_authorization_header() {
    let p = shipped("magento");
    let body = br#"{"eventName":"observer.catalog_product_save_after","data":{"product":{"id":42,"sku":"MH01-XS-Black","name":"Chaz Kangeroo Hoodie","price":52,"weight":1,"updated_at":"2024-05-01 10:00:00"}}}"#;
    let received = Headers::new().with("authorization", "Bearer s3cret-token");
    let (n_, d_) = forwarded_token(&p, &received).unwrap_or_default();
    let fwd = Headers::new().with(&n_, d_);
    assert_eq!(
        verify(&p, &fwd, body, &[Secret::new(b"s3cret-token")], None, 0, 0),
        Ok(0)
    );
    let n = run(&p, &fwd, body);
    assert_eq!(
        items(&n),
        vec![
            json!({"external_id":"MH01-XS-Black","sku":"MH01-XS-Black","name":"Chaz Kangeroo Hoodie","price_minor":5200,"currency":"USD","weight":1,"updated_at":"2024-05-01T10:00:00Z"})
        ]
    );
}

#[test]
fn vendors_without_documented_signing_are_refused_and_still_normalize_for_checks() {
    let samples: [(&str, &[u8], serde_json::Value); 6] = [
        ("dutchie", br#"[{"productId":1001,"sku":"DT-1","productName":"Blue Dream 3.5g","brandName":"Acme Farms","category":"Flower","price":35.0,"isActive":true,"lastModifiedDateUTC":"2024-03-01T12:00:00Z"}]"#,
            json!({"external_id":"1001","sku":"DT-1","name":"Blue Dream 3.5g","category":"Flower","price_minor":3500,"currency":"USD","is_active":true,"brand":"Acme Farms","updated_at":"2024-03-01T12:00:00Z"})),
        ("flowhub", br#"{"data":[{"productId":"fh-1","productName":"Gelato 1g Cart","sku":"GC1","brand":"Stiiizy","category":"Vape","price":"40.00","quantity":12}]}"#,
            json!({"external_id":"fh-1","sku":"GC1","name":"Gelato 1g Cart","category":"Vape","price_minor":4000,"currency":"USD","quantity_on_hand":12,"brand":"Stiiizy","updated_at":"2025-06-15T15:06:40Z"})),
        ("cova", br#"{"Products":[{"ProductId":"c-1","Name":"Pink Kush 7g","Sku":"PK7","ClassificationName":"Dried Flower","Prices":[{"RegularPrice":59.99}],"UpdatedDateUtc":"2024-02-02T00:00:00Z"}]}"#,
            json!({"external_id":"c-1","sku":"PK7","name":"Pink Kush 7g","category":"Dried Flower","price_minor":5999,"currency":"USD","updated_at":"2024-02-02T00:00:00Z"})),
        ("blaze", br#"{"id":"b-1","name":"OG Kush Pre-roll","sku":"OGPR","unitPrice":8.5,"category":{"name":"Pre-Rolls"},"brand":{"name":"House"},"active":true,"modified":1704067200000}"#,
            json!({"external_id":"b-1","sku":"OGPR","name":"OG Kush Pre-roll","category":"Pre-Rolls","price_minor":850,"currency":"USD","is_active":true,"brand":"House","updated_at":"2024-01-01T00:00:00Z"})),
        ("lightspeed-x", b"payload=%7B%22id%22%3A%22ls-1%22%2C%22name%22%3A%22Coffee%20Mug%22%2C%22sku%22%3A%2210001%22%2C%22price%22%3A%2212.50%22%2C%22supply_price%22%3A%224.00%22%2C%22active%22%3Atrue%2C%22updated_at%22%3A%222024-04-04%2010%3A00%3A00%22%7D&domain_prefix=demo",
            json!({"external_id":"ls-1","sku":"10001","name":"Coffee Mug","price_minor":1250,"currency":"USD","cost_minor":400,"is_active":true,"updated_at":"2024-04-04T10:00:00Z"})),
        ("ideasoft", br#"[{"id":77,"name":"Seramik Kupa","sku":"SK-77","price1":"129.90","stockAmount":40,"updatedAt":"2024-05-05T08:00:00+03:00"}]"#,
            json!({"external_id":"77","sku":"SK-77","name":"Seramik Kupa","price_minor":12990,"currency":"USD","quantity_on_hand":40,"updated_at":"2024-05-05T05:00:00Z"})),
    ];
    for (vendor, body, expected) in samples {
        let p = shipped(vendor);
        let h = Headers::new().with("x-anything", "1");
        assert!(
            matches!(precheck(&p, &h, body, 0, 300), Err(CheckError::Configuration(m)) if m.contains("not accepted")),
            "{vendor} must be refused at the ingress"
        );
        let n = run(&p, &h, body);
        assert_eq!(items(&n), vec![expected], "{vendor}");
    }
}

#[test]
fn a_migration_mapping_replaces_the_mapping_section_and_bumps_the_version() {
    let base = shipped("treez");
    let fields = vec![
        tillbridge_mapping::MappedField {
            source: "sku_code".into(),
            target: "external_id".into(),
            conversion: tillbridge_mapping::Conversion::AsIs,
        },
        tillbridge_mapping::MappedField {
            source: "retail".into(),
            target: "price_minor".into(),
            conversion: tillbridge_mapping::Conversion::MajorToMinor,
        },
    ];
    let section = mapping_section(&fields, "migration m1");
    let p =
        with_mapping(base.doc(), section, base.doc().version + 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.doc().version, base.doc().version + 1);
    assert_eq!(p.mapping(), &fields[..]);
    assert_eq!(p.doc().webhooks, base.doc().webhooks);
    assert_eq!(p.doc().mapping.origin.as_deref(), Some("migration m1"));
    // A migration that mapped nothing to external_id cannot become a normalizer.
    let bad = mapping_section(&fields[1..], "migration m2");
    let e = with_mapping(base.doc(), bad, 9)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(e.problems.iter().any(|p| p.contains("external_id")), "{e}");
}

#[test]
fn pulled_records_become_items_one_refused_record_never_sinks_the_others() {
    let p = Profile::parse(
        &json!({"name":"pull-pos","version":1,"title":"Pull POS","sources":["docs"],
        "mapping":{"fields":[{"source":"id","target":"external_id"},
            {"source":"price","target":"price_minor","conversion":"major_to_minor"}]}})
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let usd = Currency::parse("USD").unwrap_or_else(|e| panic!("{e}"));
    let out = super::items(
        &p,
        usd,
        &[
            json!({"id":"a","price":"1.10"}),
            json!({"id":"b","price":"1.105"}),
        ],
    );
    let first = out[0].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first[0].price_minor, Some(110));
    assert_eq!(first[0].currency, Some(usd));
    assert!(
        out[1].is_err(),
        "a third decimal in USD is refused, not rounded"
    );
}

#[test]
fn offset_and_page_sizes_must_be_positive() {
    let doc = json!({"name":"pull-pos","version":1,"title":"Pull POS","sources":["docs"],
        "api":{"base_url":"https://x.example","auth":{"type":"bearer"},"list":{"path":"/p"},
            "pagination":{"type":"offset","param":"offset","size_param":"limit","size":0}},
        "mapping":{"fields":[{"source":"id","target":"external_id"}]}});
    let e = Profile::parse(&doc.to_string())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(
        e.problems
            .iter()
            .any(|p| p.starts_with("api.pagination.size")),
        "{e}"
    );
}

#[test]
fn bad_delta_settings_are_refused_with_their_path() {
    let doc = json!({"name":"pull-pos","version":1,"title":"Pull POS","sources":["docs"],
        "api":{"base_url":"https://x.example","auth":{"type":"bearer"},"list":{"path":"/p"},
            "pagination":{"type":"none"},
            "changes":{"param":" ","deleted":{"pointer":"deleted_at","id":"/id","at":"when"}}},
        "mapping":{"fields":[{"source":"id","target":"external_id"}]}});
    let e = Profile::parse(&doc.to_string())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    let all = e.problems.join("\n");
    for expected in [
        "api.changes.param: empty",
        "api.changes.deleted.pointer: \"deleted_at\" is not a JSON pointer",
        "api.changes.deleted.at: \"when\" is not a JSON pointer",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in\n{all}");
    }
    let mut typo = doc.clone();
    typo["api"]["changes"] = json!({"param": "since", "fromat": "unix_seconds"});
    let e = Profile::parse(&typo.to_string())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("api.changes") && e.contains("unknown field `fromat`"),
        "{e}"
    );
    let mut format = doc;
    format["api"]["changes"] = json!({"param": "since", "format": "iso"});
    let e = Profile::parse(&format.to_string())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("api.changes.format"), "{e}");
}
