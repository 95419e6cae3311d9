use base64::Engine as _;
use proptest::prelude::*;

use super::*;

fn opts(url: Option<&str>, now: i64) -> VerifyOptions<'_> {
    VerifyOptions {
        url,
        now_unix: now,
        tolerance_secs: DEFAULT_TOLERANCE_SECS,
    }
}

// square/square-python-sdk tests/integration/test_webhooks_helper.py
const SQ_BODY: &str = r#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
const SQ_SIG: &str = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=";
const SQ_KEY: &str = "Ibxx_5AKakO-3qeNVR61Dw";
const SQ_URL: &str = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";

fn square(body: &str, sig: &str, key: &str, url: &str) -> Result<Verified, VerifyError> {
    let h = Headers::new().with("x-square-hmacsha256-signature", sig);
    verify(
        Provider::Square,
        &h,
        body.as_bytes(),
        &[Secret::new(key)],
        &opts(Some(url), 0),
    )
}

#[test]
fn square_official_sdk_examples() {
    assert!(square(SQ_BODY, SQ_SIG, SQ_KEY, SQ_URL).is_ok());
    assert!(
        square(
            r#"{"data":{"type":"webhooks","id":">id<"}}"#,
            "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=",
            "signature-key",
            "https://webhook.site/webhooks"
        )
        .is_ok()
    );
    assert!(
        square(
            SQ_BODY,
            SQ_SIG,
            SQ_KEY,
            "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"
        )
        .is_err()
    );
    assert!(square(SQ_BODY, SQ_SIG, "MCmhFRxGX82xMwg5FsaoQA", SQ_URL).is_err());
    assert!(square(SQ_BODY, "1z2n3DEJJiUPKcPzQo1ftvbxGdw=", SQ_KEY, SQ_URL).is_err());
    let reformatted = SQ_BODY.replace(',', ", ");
    assert!(square(&reformatted, SQ_SIG, SQ_KEY, SQ_URL).is_err());
    let h = Headers::new().with("x-square-hmacsha256-signature", SQ_SIG);
    assert_eq!(
        verify(
            Provider::Square,
            &h,
            SQ_BODY.as_bytes(),
            &[Secret::new(SQ_KEY)],
            &opts(None, 0)
        ),
        Err(VerifyError::MissingUrl("square"))
    );
    assert_eq!(
        verify(
            Provider::Square,
            &h,
            SQ_BODY.as_bytes(),
            &[],
            &opts(Some(SQ_URL), 0)
        ),
        Err(VerifyError::NoSecret)
    );
}

// standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py (test_sign_function)
#[test]
fn standard_webhooks_official_sign_example() {
    let body = br#"{"test": 2432232314}"#;
    let h = Headers::new()
        .with("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
        .with("webhook-timestamp", "1614265330")
        .with(
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
    for secret in [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(
            verify(
                Provider::StandardWebhooks,
                &h,
                body,
                &[Secret::new(secret)],
                &opts(None, 1_614_265_330)
            )
            .is_ok()
        );
    }
    // The library's "invalid signature" example differs in the last character.
    let bad = h.clone().with(
        "webhook-signature",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
    );
    let bad = Headers::from_iter(
        bad.iter()
            .filter(|(n, v)| !(*n == "webhook-signature" && v.ends_with("1OE=")))
            .map(|(n, v)| (n.to_owned(), v.to_owned())),
    );
    assert!(
        verify(
            Provider::StandardWebhooks,
            &bad,
            body,
            &[Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
            &opts(None, 1_614_265_330)
        )
        .is_err()
    );
    // Outside ±5 minutes, either way.
    for now in [1_614_265_330 + 301, 1_614_265_330 - 301] {
        assert!(matches!(
            verify(
                Provider::StandardWebhooks,
                &h,
                body,
                &[Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
                &opts(None, now)
            ),
            Err(VerifyError::OutsideTolerance { .. })
        ));
    }
}

// stripe/stripe-python tests/test_webhook.py: header shapes and the tolerance rule.
#[test]
fn stripe_sdk_cases() {
    let body = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
    let secret = [Secret::new("whsec_test_secret")];
    let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test_secret").expect("key");
    mac.update(b"1700000000.");
    mac.update(body);
    let sig = hex::encode(mac.finalize().into_bytes());
    let h = |v: String| Headers::new().with("Stripe-Signature", v);
    assert!(
        verify(
            Provider::Stripe,
            &h(format!("t=1700000000,v1={sig}")),
            body,
            &secret,
            &opts(None, 1_700_000_000)
        )
        .is_ok()
    );
    assert!(
        verify(
            Provider::Stripe,
            &h(format!("t=1700000000,v1={sig},v1=bad_signature")),
            body,
            &secret,
            &opts(None, 1_700_000_010)
        )
        .is_ok()
    );
    assert!(matches!(
        verify(
            Provider::Stripe,
            &h(format!("t=1700000000,v0={sig}")),
            body,
            &secret,
            &opts(None, 1_700_000_000)
        ),
        Err(VerifyError::MalformedHeader { .. })
    ));
    assert!(matches!(
        verify(
            Provider::Stripe,
            &h("i'm not even a real signature header".into()),
            body,
            &secret,
            &opts(None, 0)
        ),
        Err(VerifyError::MalformedHeader { .. })
    ));
    assert!(matches!(
        verify(
            Provider::Stripe,
            &h(format!("t=1700000000,v1={sig}")),
            body,
            &secret,
            &opts(None, 1_700_000_301)
        ),
        Err(VerifyError::OutsideTolerance { .. })
    ));
    // A future timestamp is not rejected by Stripe's SDKs.
    assert!(
        verify(
            Provider::Stripe,
            &h(format!("t=1700000000,v1={sig}")),
            body,
            &secret,
            &opts(None, 1_699_999_000)
        )
        .is_ok()
    );
}

#[derive(serde::Deserialize)]
struct Vector {
    name: String,
    provider: String,
    secret: String,
    previous_secret: Option<String>,
    body_b64: String,
    headers: std::collections::BTreeMap<String, String>,
    url: Option<String>,
    now: Option<i64>,
    expect: String,
}

/// Vectors computed independently (Python stdlib hmac) by tests/data/generate_vectors.py.
#[test]
fn independent_vectors_for_every_provider() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("../../tests/data/vectors.json")).expect("vectors parse");
    let mut seen = std::collections::BTreeSet::new();
    for v in &vectors {
        let provider: Provider = v.provider.parse().expect("provider");
        seen.insert(provider);
        let body = base64::engine::general_purpose::STANDARD
            .decode(&v.body_b64)
            .expect("body");
        let headers: Headers = v
            .headers
            .iter()
            .map(|(k, val)| (k.clone(), val.clone()))
            .collect();
        let mut secrets = vec![Secret::new(v.secret.as_str())];
        secrets.extend(v.previous_secret.as_deref().map(Secret::new));
        let got = verify(
            provider,
            &headers,
            &body,
            &secrets,
            &opts(v.url.as_deref(), v.now.unwrap_or(0)),
        );
        assert_eq!(got.is_ok(), v.expect == "valid", "{}: {got:?}", v.name);
        if v.previous_secret.is_some() {
            assert_eq!(got.map(|x| x.secret_index).ok(), Some(1), "{}", v.name);
        }
    }
    assert_eq!(
        seen.len(),
        Provider::ALL.len(),
        "every provider has vectors"
    );
}

#[test]
fn secrets_never_print() {
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_headers_and_bodies(
        provider in prop::sample::select(Provider::ALL.to_vec()),
        name in prop::sample::select(vec!["x-square-hmacsha256-signature", "x-shopify-hmac-sha256", "x-clover-auth", "toast-signature", "x-izettle-signature", "x-wc-webhook-signature", "x-signature", "webhook-signature", "webhook-timestamp", "webhook-id", "stripe-signature", "svix-signature"]),
        value in ".{0,120}",
        body in prop::collection::vec(any::<u8>(), 0..300),
        now in any::<i64>(),
    ) {
        let h = Headers::new().with(name, value.clone()).with("webhook-id", "m").with("webhook-timestamp", value);
        let o = VerifyOptions { url: Some("https://x"), now_unix: now, tolerance_secs: 300 };
        let _ = verify(provider, &h, &body, &[Secret::new("s")], &o);
        let _ = crate::precheck(provider, &h, &body, now, 300);
    }

    #[test]
    fn a_valid_shopify_signature_fails_after_any_single_byte_change(body in prop::collection::vec(any::<u8>(), 1..200), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").expect("key");
        mac.update(&body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let h = Headers::new().with("X-Shopify-Hmac-Sha256", sig);
        let o = VerifyOptions { url: None, now_unix: 0, tolerance_secs: 300 };
        prop_assert!(verify(Provider::Shopify, &h, &body, &[Secret::new("k")], &o).is_ok());
        let mut tampered = body.clone();
        let i = at.index(tampered.len());
        tampered[i] ^= flip;
        prop_assert!(verify(Provider::Shopify, &h, &tampered, &[Secret::new("k")], &o).is_err());
    }
}
