//! Infrastructure cost per tenant: what each function handled for a tenant, priced by a
//! documented AWS unit-price table.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// USD per unit. us-east-1 on-demand list prices as of 2026-01 (arm64 Lambda; HTTP API
/// first 300 M requests; SQS standard; EventBridge custom events; DynamoDB on-demand after
/// the Nov 2024 reduction, Standard table class storage; S3 Standard requests and storage,
/// first 50 TB; CloudWatch Logs Standard ingestion; Secrets Manager; KMS symmetric
/// requests; X-Ray traces recorded). Requests to SQS and EventBridge are billed per 64 KB
/// chunk; the meters count chunks. Free tiers are not applied (they are per account, not
/// per tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsPrices {
    /// Lambda compute, USD per GB-second (GB = 1024 MB).
    pub lambda_gb_second: Decimal,
    /// Lambda, USD per invocation.
    pub lambda_request: Decimal,
    /// API Gateway HTTP API, USD per request.
    pub http_api_request: Decimal,
    /// SQS standard, USD per request (64 KB chunk).
    pub sqs_request: Decimal,
    /// EventBridge custom events, USD per event (64 KB chunk).
    pub eventbridge_event: Decimal,
    /// DynamoDB on-demand, USD per write request unit.
    pub dynamodb_wru: Decimal,
    /// DynamoDB on-demand, USD per read request unit.
    pub dynamodb_rru: Decimal,
    /// S3 Standard, USD per PUT request (LIST is billed at the same rate).
    pub s3_put: Decimal,
    /// S3 Standard, USD per GET request.
    pub s3_get: Decimal,
    /// DynamoDB Standard table class storage, USD per GB-month (`TimedStorage-ByteHrs`).
    pub dynamodb_storage_gb_month: Decimal,
    /// S3 Standard storage, USD per GB-month (`TimedStorage-ByteHrs`, first 50 TB).
    pub s3_storage_gb_month: Decimal,
    /// CloudWatch Logs (Standard class) ingestion, USD per GB (`DataProcessing-Bytes`).
    pub logs_ingested_gb: Decimal,
    /// Secrets Manager, USD per secret-month (prorated by the hour).
    pub secret_month: Decimal,
    /// Secrets Manager, USD per API call.
    pub secrets_api_request: Decimal,
    /// KMS, USD per (symmetric) request.
    pub kms_request: Decimal,
    /// X-Ray, USD per trace recorded.
    pub xray_trace: Decimal,
}

impl AwsPrices {
    /// The us-east-1 list prices described on [`AwsPrices`] ($0.20 per million Lambda
    /// requests, $0.0000133334 per arm64 GB-s, $1.00 per million HTTP API requests, $0.25
    /// per DynamoDB GB-month, $0.023 per S3 GB-month, $0.50 per GB of logs, $0.40 per
    /// secret-month, $0.05 per 10,000 Secrets Manager calls, $0.03 per 10,000 KMS requests,
    /// $5.00 per million X-Ray traces).
    pub fn us_east_1() -> Self {
        let d = |s: &str| tillbridge_domain::money::parse_decimal(s).unwrap_or_default();
        Self {
            lambda_gb_second: d("0.0000133334"),
            lambda_request: d("0.0000002"),
            http_api_request: d("0.000001"),
            sqs_request: d("0.0000004"),
            eventbridge_event: d("0.000001"),
            dynamodb_wru: d("0.000000625"),
            dynamodb_rru: d("0.000000125"),
            s3_put: d("0.000005"),
            s3_get: d("0.0000004"),
            dynamodb_storage_gb_month: d("0.25"),
            s3_storage_gb_month: d("0.023"),
            logs_ingested_gb: d("0.50"),
            secret_month: d("0.40"),
            secrets_api_request: d("0.000005"),
            kms_request: d("0.000003"),
            xray_trace: d("0.000005"),
        }
    }
}

/// Bytes in a GB as AWS bills storage and log ingestion (2^30).
pub const GB: u64 = 1 << 30;

/// Hours in a billing month as AWS prorates storage and secrets (730 = 8760 / 12).
pub const HOURS_PER_MONTH: u64 = 730;

/// Counted usage of one tenant (per function, or summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfraUsage {
    /// Lambda invocations.
    pub lambda_requests: u64,
    /// Memory (MB) × billed duration (ms), summed over invocations.
    pub lambda_mb_ms: u64,
    /// HTTP API requests received.
    pub http_api_requests: u64,
    /// SQS requests, in 64 KB chunks.
    pub sqs_requests: u64,
    /// EventBridge events put, in 64 KB chunks.
    pub eventbridge_events: u64,
    /// DynamoDB write request units consumed.
    pub dynamodb_wru: u64,
    /// DynamoDB read request units consumed.
    pub dynamodb_rru: u64,
    /// S3 PUT-priced requests (PUT and LIST).
    pub s3_put: u64,
    /// S3 GET requests.
    pub s3_get: u64,
    /// DynamoDB storage of the tenant's items, byte-hours (storage census).
    #[serde(default)]
    pub dynamodb_byte_hours: u64,
    /// S3 storage of the tenant's objects, byte-hours (storage census).
    #[serde(default)]
    pub s3_byte_hours: u64,
    /// Bytes of log lines carrying the tenant, as formatted (CloudWatch Logs ingestion).
    #[serde(default)]
    pub log_bytes: u64,
    /// Secrets of the tenant × hours stored (storage census).
    #[serde(default)]
    pub secret_hours: u64,
    /// Secrets Manager API calls for the tenant.
    #[serde(default)]
    pub secrets_api_calls: u64,
    /// KMS requests those calls caused (customer-managed key only).
    #[serde(default)]
    pub kms_requests: u64,
    /// X-Ray traces recorded (sampled invocations).
    #[serde(default)]
    pub xray_traces: u64,
}

/// The product codes of AWS's bill (Cost and Usage Report `lineItem/ProductCode`) the
/// meters price, in the order of [`InfraUsage::cost_by_service`].
pub const SERVICES: [&str; 10] = [
    "AWSLambda",
    "AmazonApiGateway",
    "AWSQueueService",
    "AWSEvents",
    "AmazonDynamoDB",
    "AmazonS3",
    "AmazonCloudWatch",
    "AWSSecretsManager",
    "awskms",
    "AWSXRay",
];

impl InfraUsage {
    /// Exact USD at the prices `p`, unrounded: the sum of [`InfraUsage::cost_by_service`].
    pub fn cost(&self, p: &AwsPrices) -> Decimal {
        self.cost_by_service(p).values().copied().sum()
    }

    /// USD per product code at `p`, unrounded. MB·ms become GB-s as / 1024 / 1000;
    /// byte-hours become GB-months as / (2^30 × 730); log bytes become GB as / 2^30;
    /// secret-hours become secret-months as / 730. Each product is taken before its single
    /// division (exact for Lambda and logs, 28 significant digits for the / 730 ones).
    pub fn cost_by_service(&self, p: &AwsPrices) -> BTreeMap<&'static str, Decimal> {
        let n = Decimal::from;
        let gb_month = Decimal::from(GB) * Decimal::from(HOURS_PER_MONTH);
        let per = |v: Decimal, d: Decimal| v.checked_div(d).unwrap_or_default();
        BTreeMap::from([
            (
                "AWSLambda",
                per(
                    n(self.lambda_mb_ms) * p.lambda_gb_second,
                    Decimal::from(1_024_000),
                ) + n(self.lambda_requests) * p.lambda_request,
            ),
            (
                "AmazonApiGateway",
                n(self.http_api_requests) * p.http_api_request,
            ),
            ("AWSQueueService", n(self.sqs_requests) * p.sqs_request),
            (
                "AWSEvents",
                n(self.eventbridge_events) * p.eventbridge_event,
            ),
            (
                "AmazonDynamoDB",
                n(self.dynamodb_wru) * p.dynamodb_wru
                    + n(self.dynamodb_rru) * p.dynamodb_rru
                    + per(
                        n(self.dynamodb_byte_hours) * p.dynamodb_storage_gb_month,
                        gb_month,
                    ),
            ),
            (
                "AmazonS3",
                n(self.s3_put) * p.s3_put
                    + n(self.s3_get) * p.s3_get
                    + per(n(self.s3_byte_hours) * p.s3_storage_gb_month, gb_month),
            ),
            (
                "AmazonCloudWatch",
                per(n(self.log_bytes) * p.logs_ingested_gb, Decimal::from(GB)),
            ),
            (
                "AWSSecretsManager",
                per(
                    n(self.secret_hours) * p.secret_month,
                    Decimal::from(HOURS_PER_MONTH),
                ) + n(self.secrets_api_calls) * p.secrets_api_request,
            ),
            ("awskms", n(self.kms_requests) * p.kms_request),
            ("AWSXRay", n(self.xray_traces) * p.xray_trace),
        ])
    }

    /// The counters as (name, value) pairs, in a fixed order (the table's attribute names).
    pub fn counters(&self) -> [(&'static str, u64); 16] {
        [
            ("lambda_requests", self.lambda_requests),
            ("lambda_mb_ms", self.lambda_mb_ms),
            ("http_api_requests", self.http_api_requests),
            ("sqs_requests", self.sqs_requests),
            ("eventbridge_events", self.eventbridge_events),
            ("dynamodb_wru", self.dynamodb_wru),
            ("dynamodb_rru", self.dynamodb_rru),
            ("s3_put", self.s3_put),
            ("s3_get", self.s3_get),
            ("dynamodb_byte_hours", self.dynamodb_byte_hours),
            ("s3_byte_hours", self.s3_byte_hours),
            ("log_bytes", self.log_bytes),
            ("secret_hours", self.secret_hours),
            ("secrets_api_calls", self.secrets_api_calls),
            ("kms_requests", self.kms_requests),
            ("xray_traces", self.xray_traces),
        ]
    }

    /// The usage whose counters `get` returns by name (the inverse of
    /// [`InfraUsage::counters`]).
    pub fn from_counters(get: impl Fn(&str) -> u64) -> Self {
        Self {
            lambda_requests: get("lambda_requests"),
            lambda_mb_ms: get("lambda_mb_ms"),
            http_api_requests: get("http_api_requests"),
            sqs_requests: get("sqs_requests"),
            eventbridge_events: get("eventbridge_events"),
            dynamodb_wru: get("dynamodb_wru"),
            dynamodb_rru: get("dynamodb_rru"),
            s3_put: get("s3_put"),
            s3_get: get("s3_get"),
            dynamodb_byte_hours: get("dynamodb_byte_hours"),
            s3_byte_hours: get("s3_byte_hours"),
            log_bytes: get("log_bytes"),
            secret_hours: get("secret_hours"),
            secrets_api_calls: get("secrets_api_calls"),
            kms_requests: get("kms_requests"),
            xray_traces: get("xray_traces"),
        }
    }

    /// Adds `o` counter by counter (summing functions or days), saturating.
    pub fn add(&mut self, o: &InfraUsage) {
        let sum: Vec<u64> = self
            .counters()
            .iter()
            .zip(o.counters())
            .map(|((_, a), (_, b))| a.saturating_add(b))
            .collect();
        let names = self.counters().map(|(n, _)| n);
        *self = Self::from_counters(|name| {
            names
                .iter()
                .position(|n| *n == name)
                .and_then(|i| sum.get(i).copied())
                .unwrap_or_default()
        });
    }
}

/// Byte-hours of `bytes` kept for `seconds` (floor), saturating.
pub fn byte_hours(bytes: u64, seconds: u64) -> u64 {
    u64::try_from(u128::from(bytes) * u128::from(seconds) / 3600).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_webhooks_cost_what_the_price_list_says() {
        // 1 M webhooks through ingress (128 MB, 10 ms billed each): requests + GB-s + HTTP API.
        let u = InfraUsage {
            lambda_requests: 1_000_000,
            lambda_mb_ms: 128 * 10 * 1_000_000,
            http_api_requests: 1_000_000,
            ..InfraUsage::default()
        };
        // 0.20 + 1250 GB-s × 0.0000133334 (= 0.01666675) + 1.00
        let cost = u.cost(&AwsPrices::us_east_1());
        assert_eq!(crate::format_fixed(cost, 6), "1.216667");
    }

    #[test]
    fn storage_logs_secrets_kms_and_xray_are_priced_per_their_units() {
        let p = AwsPrices::us_east_1();
        // 10 GiB for a 730-hour month in each store: 10 GB-months.
        let month = 10 * GB * HOURS_PER_MONTH;
        let u = InfraUsage {
            dynamodb_byte_hours: month,
            s3_byte_hours: month,
            log_bytes: 2 * GB,
            secret_hours: 3 * HOURS_PER_MONTH,
            secrets_api_calls: 10_000,
            kms_requests: 10_000,
            xray_traces: 1_000_000,
            ..InfraUsage::default()
        };
        let by = u.cost_by_service(&p);
        let f = |s: &str| crate::format_fixed(by[s], 6);
        assert_eq!(f("AmazonDynamoDB"), "2.500000");
        assert_eq!(f("AmazonS3"), "0.230000");
        assert_eq!(f("AmazonCloudWatch"), "1.000000");
        assert_eq!(f("AWSSecretsManager"), "1.250000");
        assert_eq!(f("awskms"), "0.030000");
        assert_eq!(f("AWSXRay"), "5.000000");
        assert_eq!(crate::format_fixed(u.cost(&p), 6), "10.010000");
        assert_eq!(by.len(), SERVICES.len());
        assert!(SERVICES.iter().all(|s| by.contains_key(s)));
        // A day of 1 GiB: 24 byte-hours per byte.
        assert_eq!(byte_hours(GB, 86_400), 24 * GB);
        assert_eq!(byte_hours(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn counters_round_trip_and_add_saturates() {
        let mut u = InfraUsage {
            lambda_requests: 1,
            xray_traces: u64::MAX,
            log_bytes: 7,
            ..InfraUsage::default()
        };
        let c = u.counters();
        let back =
            InfraUsage::from_counters(|n| c.iter().find(|(k, _)| *k == n).map_or(0, |(_, v)| *v));
        assert_eq!(back, u);
        u.add(&back);
        assert_eq!(
            (u.lambda_requests, u.xray_traces, u.log_bytes),
            (2, u64::MAX, 14)
        );
    }
}
