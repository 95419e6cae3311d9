//! Infrastructure cost per tenant: what each function handled for a tenant, priced by a
//! documented AWS unit-price table.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// USD per unit. us-east-1 on-demand list prices as of 2026-01 (arm64 Lambda; HTTP API
/// first 300 M requests; SQS standard; EventBridge custom events; DynamoDB on-demand after
/// the Nov 2024 reduction; S3 Standard requests). Requests to SQS and EventBridge are billed
/// per 64 KB chunk; the meters count chunks.
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
}

impl AwsPrices {
    /// The us-east-1 list prices described on [`AwsPrices`] ($0.20 per million Lambda
    /// requests, $0.0000133334 per arm64 GB-s, $1.00 per million HTTP API requests, …).
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
        }
    }
}

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
}

impl InfraUsage {
    /// Exact USD at the prices `p` (MB·ms converted to GB-s as / 1024 / 1000), unrounded.
    pub fn cost(&self, p: &AwsPrices) -> Decimal {
        let n = Decimal::from;
        // GB-s = MB·ms / 1024 / 1000
        n(self.lambda_mb_ms) * p.lambda_gb_second / Decimal::from(1_024_000)
            + n(self.lambda_requests) * p.lambda_request
            + n(self.http_api_requests) * p.http_api_request
            + n(self.sqs_requests) * p.sqs_request
            + n(self.eventbridge_events) * p.eventbridge_event
            + n(self.dynamodb_wru) * p.dynamodb_wru
            + n(self.dynamodb_rru) * p.dynamodb_rru
            + n(self.s3_put) * p.s3_put
            + n(self.s3_get) * p.s3_get
    }

    /// Adds `o` counter by counter (summing functions or days).
    pub fn add(&mut self, o: &InfraUsage) {
        self.lambda_requests += o.lambda_requests;
        self.lambda_mb_ms += o.lambda_mb_ms;
        self.http_api_requests += o.http_api_requests;
        self.sqs_requests += o.sqs_requests;
        self.eventbridge_events += o.eventbridge_events;
        self.dynamodb_wru += o.dynamodb_wru;
        self.dynamodb_rru += o.dynamodb_rru;
        self.s3_put += o.s3_put;
        self.s3_get += o.s3_get;
    }
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
}
