//! AWS unit prices from the AWS Price List (the Bulk API's offer files,
//! `https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json`):
//! `{"offerCode", "products": {SKU: {"attributes": {"servicecode", "regionCode",
//! "usagetype", …}}}, "terms": {"OnDemand": {SKU: {TERM: {"priceDimensions": {DIM:
//! {"unit", "beginRange", "pricePerUnit": {"USD": "…"}}}}}}}}`.
//!
//! A file may hold one offer, or several as a JSON array. Each unit price tillbridge meters
//! is found by service code and usage type (without its region prefix, e.g. `USE1-`); for a
//! tiered price the first tier (`beginRange` 0) is taken — per-tenant usage lives there. The
//! bundled file (`prices/aws-price-list.json`) is an extract of those offer files for
//! us-east-1 and eu-north-1 (Stockholm) with exactly the dimensions below, list prices as of
//! 2026-01 (regenerate it with `prices/extract.py`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::CostError;
use crate::infra::AwsPrices;

/// The bundled extract of the AWS Price List (us-east-1 and eu-north-1).
pub const BUNDLED: &str = include_str!("../prices/aws-price-list.json");

/// Where each metered price is in the price list: service code, usage type without the
/// region prefix, and the field it sets. Sources (list prices, 2026-01): the AWS pricing
/// pages of each service (aws.amazon.com/<service>/pricing/: lambda, api-gateway, sqs,
/// eventbridge, dynamodb (on-demand; Standard table class storage), s3 (Standard),
/// cloudwatch (Logs: Standard ingestion), secrets-manager, kms, xray) and the usage types
/// of the Price List API (`aws pricing get-products --service-code <code>`).
const DIMENSIONS: [(&str, &str, &str); 16] = [
    ("AWSLambda", "Lambda-GB-Second-ARM", "lambda_gb_second"),
    ("AWSLambda", "Request-ARM", "lambda_request"),
    (
        "AmazonApiGateway",
        "ApiGatewayHttpRequest",
        "http_api_request",
    ),
    ("AWSQueueService", "Requests-Tier1", "sqs_request"),
    ("AWSEvents", "Event-64K-Chunks", "eventbridge_event"),
    ("AmazonDynamoDB", "WriteRequestUnits", "dynamodb_wru"),
    ("AmazonDynamoDB", "ReadRequestUnits", "dynamodb_rru"),
    ("AmazonS3", "Requests-Tier1", "s3_put"),
    ("AmazonS3", "Requests-Tier2", "s3_get"),
    // $0.25 per GB-month in us-east-1 (DynamoDB Standard table class, after the free 25 GB
    // per account, which is not applied per tenant).
    (
        "AmazonDynamoDB",
        "TimedStorage-ByteHrs",
        "dynamodb_storage_gb_month",
    ),
    // $0.023 per GB-month in us-east-1 (S3 Standard, first 50 TB).
    ("AmazonS3", "TimedStorage-ByteHrs", "s3_storage_gb_month"),
    // $0.50 per GB ingested in us-east-1 (CloudWatch Logs, Standard log class).
    (
        "AmazonCloudWatch",
        "DataProcessing-Bytes",
        "logs_ingested_gb",
    ),
    // $0.40 per secret per month, prorated by the hour; $0.05 per 10,000 API calls.
    (
        "AWSSecretsManager",
        "AWSSecretsManager-Secrets",
        "secret_month",
    ),
    (
        "AWSSecretsManager",
        "AWSSecretsManager-APIRequest",
        "secrets_api_request",
    ),
    // $0.03 per 10,000 symmetric requests (usage type `<region>-KMS-Requests`).
    ("awskms", "KMS-Requests", "kms_request"),
    // $5.00 per million traces recorded.
    ("AWSXRay", "XRay-TracesStored", "xray_trace"),
];

#[derive(Deserialize)]
struct Offer {
    #[serde(default)]
    products: BTreeMap<String, Product>,
    #[serde(default)]
    terms: Terms,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Terms {
    #[serde(rename = "OnDemand", default)]
    on_demand: BTreeMap<String, BTreeMap<String, Term>>,
}

#[derive(Deserialize)]
struct Term {
    #[serde(rename = "priceDimensions", default)]
    price_dimensions: BTreeMap<String, Dimension>,
}

#[derive(Deserialize)]
struct Dimension {
    #[serde(rename = "beginRange", default)]
    begin_range: Option<String>,
    #[serde(rename = "pricePerUnit", default)]
    price_per_unit: BTreeMap<String, String>,
}

/// The usage type without its region prefix (`USE1-Request-ARM` → `Request-ARM`; us-east-1
/// usage types sometimes carry none; KMS prefixes the region code, `us-east-1-KMS-Requests`).
fn bare<'u>(usagetype: &'u str, region: &str) -> &'u str {
    if let Some(rest) = usagetype
        .strip_prefix(region)
        .and_then(|r| r.strip_prefix('-'))
    {
        return rest;
    }
    match usagetype.split_once('-') {
        Some((prefix, rest))
            if prefix.len() >= 3
                && prefix.len() <= 5
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && prefix.chars().any(|c| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => usagetype,
    }
}

/// The unit prices of `region` in the offer file(s) `json`.
///
/// # Errors
/// [`CostError::Prices`] when the text is not an offer file (or an array of them), or a
/// metered dimension has no first-tier USD price for the region (named, with where it was
/// looked for).
pub fn aws_prices(json: &str, region: &str) -> Result<AwsPrices, CostError> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| CostError::Prices(format!("AWS price list: {e}")))?;
    let offers: Vec<Offer> = match value {
        Value::Array(a) => a
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>(),
        v => serde_json::from_value(v).map(|o| vec![o]),
    }
    .map_err(|e| CostError::Prices(format!("AWS price list: not an offer file: {e}")))?;
    let mut found: BTreeMap<&str, Decimal> = BTreeMap::new();
    for offer in &offers {
        for (sku, product) in &offer.products {
            let a = &product.attributes;
            if a.get("regionCode").map(String::as_str) != Some(region) {
                continue;
            }
            let (Some(service), Some(usage)) = (a.get("servicecode"), a.get("usagetype")) else {
                continue;
            };
            let Some((_, _, field)) = DIMENSIONS
                .iter()
                .find(|(s, u, _)| s == service && *u == bare(usage, region))
            else {
                continue;
            };
            let first_tier = offer
                .terms
                .on_demand
                .get(sku)
                .into_iter()
                .flat_map(|terms| terms.values())
                .flat_map(|t| t.price_dimensions.values())
                .filter(|d| d.begin_range.as_deref().is_none_or(|b| b == "0"))
                .find_map(|d| d.price_per_unit.get("USD"))
                .and_then(|p| tillbridge_domain::money::parse_decimal(p));
            if let Some(price) = first_tier {
                found.insert(field, price);
            }
        }
    }
    let get = |field: &str| {
        found.get(field).copied().ok_or_else(|| {
            let (s, u, _) = DIMENSIONS
                .iter()
                .find(|(_, _, f)| *f == field)
                .copied()
                .unwrap_or(("?", "?", "?"));
            CostError::Prices(format!(
                "AWS price list: no first-tier USD price of {s} {u} in {region}"
            ))
        })
    };
    Ok(AwsPrices {
        lambda_gb_second: get("lambda_gb_second")?,
        lambda_request: get("lambda_request")?,
        http_api_request: get("http_api_request")?,
        sqs_request: get("sqs_request")?,
        eventbridge_event: get("eventbridge_event")?,
        dynamodb_wru: get("dynamodb_wru")?,
        dynamodb_rru: get("dynamodb_rru")?,
        s3_put: get("s3_put")?,
        s3_get: get("s3_get")?,
        dynamodb_storage_gb_month: get("dynamodb_storage_gb_month")?,
        s3_storage_gb_month: get("s3_storage_gb_month")?,
        logs_ingested_gb: get("logs_ingested_gb")?,
        secret_month: get("secret_month")?,
        secrets_api_request: get("secrets_api_request")?,
        kms_request: get("kms_request")?,
        xray_trace: get("xray_trace")?,
    })
}

/// The regions the offer file(s) price every metered dimension in, sorted.
pub fn regions(json: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    let mut all: Vec<String> = value
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![value.clone()])
        .iter()
        .flat_map(|o| o["products"].as_object().cloned().unwrap_or_default())
        .filter_map(|(_, p)| p["attributes"]["regionCode"].as_str().map(str::to_owned))
        .collect();
    all.sort();
    all.dedup();
    all.retain(|r| aws_prices(json, r).is_ok());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_extract_gives_the_documented_us_east_1_prices() {
        let p = aws_prices(BUNDLED, "us-east-1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, AwsPrices::us_east_1());
        assert_eq!(regions(BUNDLED), ["eu-north-1", "us-east-1"]);
    }

    #[test]
    fn the_bundled_extract_prices_stockholm() {
        let p = aws_prices(BUNDLED, "eu-north-1").unwrap_or_else(|e| panic!("{e}"));
        let us = AwsPrices::us_east_1();
        // Same list prices as us-east-1 for Lambda, SQS, EventBridge, Secrets Manager, KMS
        // and X-Ray; the others are Stockholm's own.
        assert_eq!(
            (
                p.lambda_gb_second,
                p.secret_month,
                p.kms_request,
                p.xray_trace
            ),
            (
                us.lambda_gb_second,
                us.secret_month,
                us.kms_request,
                us.xray_trace
            )
        );
        assert_ne!(p, us);
    }

    #[test]
    fn a_region_the_list_does_not_price_is_named() {
        let e = aws_prices(BUNDLED, "ap-south-2")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("ap-south-2") && e.contains("AWSLambda")),
            "{e:?}"
        );
    }

    #[test]
    fn the_first_tier_and_the_bare_usage_type_are_read() {
        assert_eq!(bare("USE1-Request-ARM", "us-east-1"), "Request-ARM");
        assert_eq!(bare("EUN1-Requests-Tier1", "eu-north-1"), "Requests-Tier1");
        assert_eq!(bare("Requests-Tier1", "us-east-1"), "Requests-Tier1");
        assert_eq!(
            bare("eu-north-1-KMS-Requests", "eu-north-1"),
            "KMS-Requests"
        );
        assert_eq!(
            bare("AWSSecretsManager-Secrets", "us-east-1"),
            "AWSSecretsManager-Secrets"
        );
        let offer = r#"{"products": {"S1": {"attributes": {"servicecode": "AWSLambda", "regionCode": "eu-north-1", "usagetype": "EUN1-Request-ARM"}}},
          "terms": {"OnDemand": {"S1": {"S1.T": {"priceDimensions": {
            "S1.T.B": {"beginRange": "1000000", "pricePerUnit": {"USD": "0.0000001"}},
            "S1.T.A": {"beginRange": "0", "pricePerUnit": {"USD": "0.0000002"}}}}}}}}"#;
        let e = aws_prices(offer, "eu-north-1").err().map(|e| e.to_string());
        // Only one dimension is in this offer: the error names the next missing one.
        assert!(e.is_some_and(|e| e.contains("Lambda-GB-Second-ARM")));
    }
}
