//! Reconciliation of the metered infrastructure cost against AWS's own bill: an AWS Cost and
//! Usage Report export (CSV; legacy CUR column names `lineItem/ProductCode`,
//! `lineItem/UnblendedCost`, `lineItem/UsageStartDate`, `lineItem/LineItemType`, or CUR 2.0's
//! `line_item_product_code`, `line_item_unblended_cost`, `line_item_usage_start_date`,
//! `line_item_line_item_type`) is summed per service for the month and set beside the sum of
//! every tenant's metered cost of that service. Only usage lines count (`Usage`,
//! `DiscountedUsage`, `SavingsPlanCoveredUsage`); tax, credits, refunds and fees are reported
//! apart. Services the bill has and tillbridge does not meter (CloudTrail, SNS, …) are listed
//! as unmetered, so the difference is explained, never hidden.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde::Serialize;
use tillbridge_costs::format_fixed;
use tillbridge_costs::infra::{AwsPrices, InfraUsage};
use tillbridge_costs::price_list;
use tillbridge_domain::TenantId;
use tillbridge_ports::Table;

use crate::AccountingError;

/// The unit prices infrastructure cost is computed with, and where they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfraPrices {
    /// The unit prices.
    #[serde(skip)]
    pub prices: AwsPrices,
    /// The region priced.
    pub region: String,
    /// Why the region's own prices are not used, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Prices for `region` from an AWS Price List text (`None`: the bundled extract); a region
/// the list does not price falls back to us-east-1's prices, with a note saying so.
pub fn infra_prices(price_list: Option<&str>, region: &str) -> InfraPrices {
    let text = price_list.unwrap_or(price_list::BUNDLED);
    match price_list::aws_prices(text, region) {
        Ok(prices) => InfraPrices {
            prices,
            region: region.to_owned(),
            // The bundled extract's other regions were transcribed, not fetched: say so
            // wherever a cost is shown with them (shared/costs/prices/extract.py).
            note: (price_list.is_none() && region != "us-east-1").then(|| {
                format!(
                    "the bundled {region} prices were transcribed, not fetched from the AWS \
                     Price List: verify them before invoicing (set TILLBRIDGE_AWS_PRICE_LIST to \
                     the offer files)"
                )
            }),
        },
        Err(e) => InfraPrices {
            prices: price_list::aws_prices(text, "us-east-1")
                .unwrap_or_else(|_| AwsPrices::us_east_1()),
            region: "us-east-1".to_owned(),
            note: Some(format!(
                "{e}; priced at us-east-1 list prices (set TILLBRIDGE_AWS_PRICE_LIST to offer files that price {region})"
            )),
        },
    }
}

/// The prices of this process: the offer files at `TILLBRIDGE_AWS_PRICE_LIST` (a path) or the
/// bundled extract, for `AWS_REGION` (default us-east-1). Read once.
pub fn configured_prices() -> &'static InfraPrices {
    static PRICES: LazyLock<InfraPrices> = LazyLock::new(|| {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
        let list = std::env::var("TILLBRIDGE_AWS_PRICE_LIST")
            .ok()
            .and_then(|path| match std::fs::read_to_string(&path) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(path, error = %e, "AWS price list unreadable; using the bundled one");
                    None
                }
            });
        let p = infra_prices(list.as_deref(), &region);
        if let Some(note) = &p.note {
            tracing::warn!(note, "infrastructure prices");
        }
        p
    });
    &PRICES
}

/// Every tenant's metered cost of `period` per service, summed (the meters' side of a
/// reconciliation).
///
/// # Errors
/// The table failed.
pub async fn metered_by_service(
    table: &dyn Table,
    tenants: &[TenantId],
    period: &str,
    prices: &AwsPrices,
) -> Result<BTreeMap<&'static str, Decimal>, AccountingError> {
    let mut out: BTreeMap<&'static str, Decimal> = BTreeMap::new();
    for t in tenants {
        let usage = crate::infra_usage(table, t, period).await?;
        for (service, cost) in cost_by_service(&usage, prices) {
            *out.entry(service).or_default() += cost;
        }
    }
    Ok(out)
}

/// Services tillbridge meters, by the bill's product code: compute and requests (Lambda,
/// HTTP API, SQS, EventBridge, DynamoDB, S3), storage (DynamoDB, S3: the storage census),
/// log ingestion (CloudWatch), Secrets Manager, KMS and X-Ray.
pub const METERED: [&str; 10] = tillbridge_costs::infra::SERVICES;

/// Metered cost per product code at `p`, exact.
pub fn cost_by_service(u: &InfraUsage, p: &AwsPrices) -> BTreeMap<&'static str, Decimal> {
    u.cost_by_service(p)
}

/// The bill of one month, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurSums {
    /// Usage cost per product code.
    pub usage: BTreeMap<String, Decimal>,
    /// Non-usage lines (tax, credits, refunds, fees) per line item type.
    pub other: BTreeMap<String, Decimal>,
    /// Lines outside the month.
    pub outside_period: usize,
    /// Lines read.
    pub lines: usize,
}

const USAGE_TYPES: [&str; 3] = ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"];

/// Sums a CUR CSV export for `period` (`YYYY-MM`).
///
/// # Errors
/// A message naming the missing column or the line that is not readable.
pub fn read_cur(bytes: &[u8], period: &str) -> Result<CurSums, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes));
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("CUR: no header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n))
            .ok_or_else(|| format!("CUR: no {} column", names[0]))
    };
    let product = col(&["lineitem/productcode", "line_item_product_code"])?;
    let cost = col(&["lineitem/unblendedcost", "line_item_unblended_cost"])?;
    let start = col(&["lineitem/usagestartdate", "line_item_usage_start_date"])?;
    let kind = col(&["lineitem/lineitemtype", "line_item_line_item_type"]).ok();
    let mut sums = CurSums::default();
    for (i, record) in reader.records().enumerate() {
        let r = record.map_err(|e| format!("CUR line {}: {e}", i + 2))?;
        sums.lines += 1;
        let at = r.get(start).unwrap_or("");
        if at.get(..7) != Some(period) {
            sums.outside_period += 1;
            continue;
        }
        let amount = tillbridge_domain::money::parse_decimal(r.get(cost).unwrap_or("").trim())
            .ok_or_else(|| format!("CUR line {}: cost {:?} is not a number", i + 2, r.get(cost)))?;
        let line_type = kind.and_then(|k| r.get(k)).unwrap_or("Usage").trim();
        if USAGE_TYPES.contains(&line_type) {
            *sums
                .usage
                .entry(r.get(product).unwrap_or("").trim().to_owned())
                .or_default() += amount;
        } else {
            *sums.other.entry(line_type.to_owned()).or_default() += amount;
        }
    }
    Ok(sums)
}

/// One service in the reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLine {
    /// The bill's product code.
    pub service: String,
    /// Sum of every tenant's metered cost, USD (6 places); None for a service not metered.
    pub metered_usd: Option<String>,
    /// The bill's usage cost, USD (6 places).
    pub billed_usd: String,
    /// Billed minus metered (what the meters do not explain), USD.
    pub difference_usd: String,
    /// The difference in percent of the bill (None for a zero bill).
    pub difference_percent: Option<String>,
}

/// The reconciliation of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// `YYYY-MM`.
    pub period: String,
    /// Per service: metered services first, then the bill's other services.
    pub services: Vec<ServiceLine>,
    /// Totals over every service.
    pub total_metered_usd: String,
    /// The bill's usage total.
    pub total_billed_usd: String,
    /// Billed minus metered.
    pub total_difference_usd: String,
    /// Non-usage lines of the bill (tax, credits, …) per type, USD.
    pub not_usage_usd: BTreeMap<String, String>,
    /// Lines of the export outside the month (left out).
    pub lines_outside_period: usize,
    /// The prices the meters were priced with.
    pub priced_with: Option<InfraPrices>,
}

/// Sets the bill beside the meters: `metered` is the sum over tenants per product code.
pub fn reconcile(
    period: &str,
    metered: &BTreeMap<&'static str, Decimal>,
    cur: &CurSums,
) -> Reconciliation {
    let mut services = Vec::new();
    let line = |service: &str, m: Option<Decimal>, b: Decimal| {
        let diff = b - m.unwrap_or_default();
        ServiceLine {
            service: service.to_owned(),
            metered_usd: m.map(|m| format_fixed(m, 6)),
            billed_usd: format_fixed(b, 6),
            difference_usd: format_fixed(diff, 6),
            difference_percent: (!b.is_zero())
                .then(|| format_fixed(diff * Decimal::ONE_HUNDRED / b, 2)),
        }
    };
    for s in METERED {
        let m = metered.get(s).copied().unwrap_or_default();
        let b = cur.usage.get(s).copied().unwrap_or_default();
        services.push(line(s, Some(m), b));
    }
    for (s, b) in cur
        .usage
        .iter()
        .filter(|(s, _)| !METERED.contains(&s.as_str()))
    {
        services.push(line(s, None, *b));
    }
    let total_metered: Decimal = metered.values().copied().sum();
    let total_billed: Decimal = cur.usage.values().copied().sum();
    Reconciliation {
        period: period.to_owned(),
        services,
        total_metered_usd: format_fixed(total_metered, 6),
        total_billed_usd: format_fixed(total_billed, 6),
        total_difference_usd: format_fixed(total_billed - total_metered, 6),
        not_usage_usd: cur
            .other
            .iter()
            .map(|(k, v)| (k.clone(), format_fixed(*v, 6)))
            .collect(),
        lines_outside_period: cur.outside_period,
        priced_with: None,
    }
}

impl Reconciliation {
    /// The services as CSV (header, one row per service, a `(total)` row).
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("service,metered_usd,billed_usd,difference_usd,difference_percent\r\n");
        for s in &self.services {
            out.push_str(&format!(
                "{},{},{},{},{}\r\n",
                s.service,
                s.metered_usd.as_deref().unwrap_or("not metered"),
                s.billed_usd,
                s.difference_usd,
                s.difference_percent.as_deref().unwrap_or("")
            ));
        }
        out.push_str(&format!(
            "(total),{},{},{},\r\n",
            self.total_metered_usd, self.total_billed_usd, self.total_difference_usd
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUR: &str = "identity/LineItemId,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/LineItemType,lineItem/UnblendedCost\n\
        a,2026-03-01T00:00:00Z,AWSLambda,Usage,1.25\n\
        b,2026-03-02T00:00:00Z,AWSLambda,Usage,0.75\n\
        c,2026-03-02T00:00:00Z,AmazonSNS,Usage,0.40\n\
        d,2026-03-31T00:00:00Z,AmazonDynamoDB,Usage,0.10\n\
        e,2026-03-31T00:00:00Z,AWSLambda,Tax,0.20\n\
        f,2026-04-01T00:00:00Z,AWSLambda,Usage,9.00\n";

    #[test]
    fn the_bill_is_summed_per_service_and_set_beside_the_meters() {
        let cur = read_cur(CUR.as_bytes(), "2026-03").unwrap_or_default();
        assert_eq!(cur.outside_period, 1);
        let metered = BTreeMap::from([
            ("AWSLambda", Decimal::new(18, 1)),
            ("AmazonDynamoDB", Decimal::new(1, 1)),
        ]);
        let r = reconcile("2026-03", &metered, &cur);
        let lambda = &r.services[0];
        assert_eq!(
            (
                lambda.billed_usd.as_str(),
                lambda.difference_usd.as_str(),
                lambda.difference_percent.as_deref()
            ),
            ("2.000000", "0.200000", Some("10.00"))
        );
        let watch = r.services.iter().find(|s| s.service == "AmazonSNS");
        assert_eq!(
            watch.and_then(|s| s.metered_usd.clone()),
            None,
            "not metered, named"
        );
        assert_eq!(r.total_billed_usd, "2.500000");
        assert_eq!(r.total_difference_usd, "0.600000");
        assert_eq!(
            r.not_usage_usd.get("Tax").map(String::as_str),
            Some("0.200000")
        );
        assert!(
            r.to_csv()
                .ends_with("(total),1.900000,2.500000,0.600000,\r\n")
        );
    }

    #[test]
    fn cur_2_column_names_are_read_and_a_missing_column_is_named() {
        let cur2 = "line_item_usage_start_date,line_item_product_code,line_item_unblended_cost\n2026-03-05T00:00:00Z,AmazonS3,0.0123\n";
        let s = read_cur(cur2.as_bytes(), "2026-03").unwrap_or_default();
        assert_eq!(s.usage.get("AmazonS3"), Some(&Decimal::new(123, 4)));
        let e = read_cur(b"a,b\n1,2\n", "2026-03").err();
        assert!(e.is_some_and(|e| e.contains("productcode")));
    }

    #[test]
    fn an_unpriced_region_falls_back_with_a_note() {
        let p = infra_prices(None, "ap-south-2");
        assert_eq!(
            (p.region.as_str(), p.prices),
            ("us-east-1", AwsPrices::us_east_1())
        );
        assert!(p.note.is_some_and(|n| n.contains("ap-south-2")));
        assert_eq!(infra_prices(None, "us-east-1").note, None);
        // Stockholm (the Swedish deployment) is in the bundled extract: its own prices, with
        // the warning that they were transcribed; offer files given priced the same carry none.
        let se = infra_prices(None, "eu-north-1");
        assert_eq!(se.region, "eu-north-1");
        assert!(se.note.is_some_and(|n| n.contains("transcribed")));
        let given = infra_prices(Some(tillbridge_costs::price_list::BUNDLED), "eu-north-1");
        assert_eq!((given.region.as_str(), given.note), ("eu-north-1", None));
    }

    #[test]
    fn every_meter_lands_in_its_service() {
        let u = InfraUsage {
            lambda_requests: 1_000_000,
            lambda_mb_ms: 128 * 10 * 1_000_000,
            http_api_requests: 1_000_000,
            s3_get: 10,
            ..InfraUsage::default()
        };
        let p = AwsPrices::us_east_1();
        let by = cost_by_service(&u, &p);
        assert_eq!(by.values().copied().sum::<Decimal>(), u.cost(&p));
        assert_eq!(format_fixed(by["AWSLambda"], 6), "0.216667");
    }
}
