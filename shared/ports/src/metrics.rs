//! Operational metrics: one process-wide registry, flushed by the Lambdas as CloudWatch
//! Embedded Metric Format (one JSON line per flush group on stdout) and rendered by `serve` in
//! Prometheus' text format on `GET /metrics`.
//!
//! Powertools conventions: namespace [`NAMESPACE`], a `service` dimension (the function), the
//! other dimensions low-cardinality (provider, outcome, queue, model). The tenant is never a
//! dimension: it travels as an EMF property (searchable in Logs Insights) and is absent from
//! the Prometheus labels. Values are integers (counts, tokens, milliseconds, micro-dollars).
//!
//! Metric names (CloudWatch name / Prometheus name `tillbridge_<snake>`):
//! Every metric with dimensions also carries the `[service]` rollup set.
//!
//! - `Deliveries` {provider, outcome}: webhook deliveries; ingress `accepted`/`rejected`,
//!   signature check `published`/`duplicate`/`quarantined`/`unhandled`
//! - `Quarantined` {provider}: deliveries quarantined (forged, malformed, unconfigured)
//! - `ApplyOutcomes` {provider, outcome}: catalog applies (`applied`, `stale`, `duplicate`, …)
//! - `DlqRedriven` {queue}: messages moved from a dead-letter queue back to its source
//! - `FetchCalls` {provider}, `FetchThrottles` {provider}: vendor API calls and 429s
//! - `MigrationApplySteps` (an apply batch ran), `MigrationItemsApplied`, `MigrationDurationMs`,
//!   `MigrationsCompleted` {outcome}
//! - `AiTokens` {model}, `AiCostMicroUsd` {model}: model usage and its exact cost
//! - `BudgetUsedPercent` (gauge), `BudgetThresholdsCrossed`: AI budget use

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace every metric is published under.
pub const NAMESPACE: &str = "tillbridge";

/// A metric's CloudWatch unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// A count of things.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Percent (0–100).
    Percent,
    /// A plain number (tokens, micro-dollars).
    None,
}

impl Unit {
    /// The unit's name in EMF.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Percent => "Percent",
            Unit::None => "None",
        }
    }
}

/// Whether a metric accumulates (counter) or reports a level (gauge: the last value wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Summed.
    Counter,
    /// Last value.
    Gauge,
}

type Dims = Vec<(&'static str, String)>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: &'static str,
    dims: Dims,
}

#[derive(Clone, Copy, Debug)]
struct Meta {
    unit: Unit,
    kind: Kind,
}

/// What one flush group holds: dimension values and tenant shared, one value per metric.
#[derive(Default)]
struct Pending {
    values: BTreeMap<&'static str, (Meta, i64)>,
}

#[derive(Default)]
struct State {
    totals: BTreeMap<Series, (Meta, i64)>,
    /// Since the last flush, grouped by (dimension values, tenant).
    pending: BTreeMap<(Dims, Option<String>), Pending>,
}

/// A registry of metrics: cumulative totals (Prometheus) and what was recorded since the last
/// flush (EMF).
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

/// The process-wide registry the domain records into.
pub fn global() -> &'static Metrics {
    static GLOBAL: OnceLock<Metrics> = OnceLock::new();
    GLOBAL.get_or_init(Metrics::default)
}

/// Adds `value` to counter `name` in the process-wide registry (see [`Metrics::count`]).
pub fn count(name: &'static str, dims: &[(&'static str, &str)], tenant: Option<&str>, value: i64) {
    global().record(name, Unit::Count, Kind::Counter, dims, tenant, value);
}

/// Records `value` of `name` with `unit` and `kind` in the process-wide registry.
pub fn record(
    name: &'static str,
    unit: Unit,
    kind: Kind,
    dims: &[(&'static str, &str)],
    tenant: Option<&str>,
    value: i64,
) {
    global().record(name, unit, kind, dims, tenant, value);
}

/// Dimension values are bounded: anything outside `[A-Za-z0-9._-]` becomes `_`, 64 at most.
fn clean(v: &str) -> String {
    v.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Metrics {
    /// Adds `value` to counter `name`.
    pub fn count(
        &self,
        name: &'static str,
        dims: &[(&'static str, &str)],
        tenant: Option<&str>,
        value: i64,
    ) {
        self.record(name, Unit::Count, Kind::Counter, dims, tenant, value);
    }

    /// Records one value. Dimensions are sorted by name; the tenant is a property only.
    pub fn record(
        &self,
        name: &'static str,
        unit: Unit,
        kind: Kind,
        dims: &[(&'static str, &str)],
        tenant: Option<&str>,
        value: i64,
    ) {
        let mut dims: Dims = dims.iter().map(|(k, v)| (*k, clean(v))).collect();
        dims.sort();
        let meta = Meta { unit, kind };
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let total = s
            .totals
            .entry(Series {
                name,
                dims: dims.clone(),
            })
            .or_insert((meta, 0));
        match kind {
            Kind::Counter => total.1 = total.1.saturating_add(value),
            Kind::Gauge => total.1 = value,
        }
        let group = s
            .pending
            .entry((dims, tenant.map(clean)))
            .or_default()
            .values
            .entry(name)
            .or_insert((meta, 0));
        match kind {
            Kind::Counter => group.1 = group.1.saturating_add(value),
            Kind::Gauge => group.1 = value,
        }
    }

    /// The cumulative value of one series (tests, `serve`).
    pub fn value(&self, name: &str, dims: &[(&str, &str)]) -> i64 {
        let Ok(s) = self.state.lock() else { return 0 };
        s.totals
            .iter()
            .filter(|(k, _)| {
                k.name == name
                    && dims
                        .iter()
                        .all(|(dk, dv)| k.dims.iter().any(|(n, v)| n == dk && v == dv))
            })
            .map(|(_, (_, v))| *v)
            .sum()
    }

    /// Takes what was recorded since the last flush as EMF documents, one per group of
    /// (dimension values, tenant); each has the `service` dimension and at most 100 metrics
    /// (EMF's limit). Nothing recorded: no documents.
    pub fn take_emf(&self, service: &str, timestamp_ms: i64) -> Vec<Value> {
        let pending = match self.state.lock() {
            Ok(mut s) => std::mem::take(&mut s.pending),
            Err(_) => return Vec::new(),
        };
        let mut docs = Vec::new();
        for ((dims, tenant), group) in pending {
            let values: Vec<_> = group.values.into_iter().collect();
            for chunk in values.chunks(100) {
                let mut doc = Map::new();
                let mut names = vec![Value::from("service")];
                doc.insert("service".into(), Value::from(clean(service)));
                for (k, v) in &dims {
                    names.push(Value::from(*k));
                    doc.insert((*k).into(), Value::from(v.as_str()));
                }
                let metrics: Vec<Value> = chunk
                    .iter()
                    .map(|(name, (meta, _))| json!({ "Name": name, "Unit": meta.unit.as_str() }))
                    .collect();
                for (name, (_, v)) in chunk {
                    doc.insert((*name).into(), Value::from(*v));
                }
                if let Some(t) = &tenant {
                    doc.insert("tenant".into(), Value::from(t.as_str()));
                }
                doc.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": dimension_sets(names),
                            "Metrics": metrics,
                        }],
                    }),
                );
                docs.push(Value::Object(doc));
            }
        }
        docs
    }

    /// Prints what was recorded since the last flush to stdout, one EMF JSON line per group:
    /// CloudWatch Logs turns those lines into metrics. Called at the end of each invocation.
    pub fn flush_emf(&self, service: &str) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let docs = self.take_emf(service, now_ms);
        if docs.is_empty() {
            return;
        }
        let mut out = String::new();
        for d in docs {
            out.push_str(&d.to_string());
            out.push('\n');
        }
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }

    /// The cumulative values in Prometheus' text exposition format (version 0.0.4): counters
    /// `tillbridge_<snake name>_total`, gauges `tillbridge_<snake name>`; no tenant label.
    pub fn prometheus(&self) -> String {
        let totals = match self.state.lock() {
            Ok(s) => s.totals.clone(),
            Err(_) => return String::new(),
        };
        let mut out = String::new();
        let mut last: Option<&str> = None;
        for (series, (meta, value)) in &totals {
            let base = format!("{NAMESPACE}_{}", snake(series.name));
            let name = match meta.kind {
                Kind::Counter => format!("{base}_total"),
                Kind::Gauge => base,
            };
            if last != Some(series.name) {
                let kind = match meta.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                };
                let _ = writeln!(
                    out,
                    "# HELP {name} {} ({})",
                    series.name,
                    meta.unit.as_str()
                );
                let _ = writeln!(out, "# TYPE {name} {kind}");
                last = Some(series.name);
            }
            out.push_str(&name);
            if !series.dims.is_empty() {
                out.push('{');
                for (i, (k, v)) in series.dims.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    // Values are already cleaned to [A-Za-z0-9._-]: nothing to escape.
                    let _ = write!(out, "{k}=\"{v}\"");
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
        out
    }
}

/// The full dimension set and, when it has more than `service`, the per-service rollup (so an
/// alarm can read a total without a SEARCH expression, which alarms do not support).
fn dimension_sets(names: Vec<Value>) -> Value {
    if names.len() > 1 {
        json!([names, ["service"]])
    } else {
        json!([names])
    }
}

/// `DlqRedriven` → `dlq_redriven`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The EMF specification's required shape: `_aws.Timestamp` (ms), `_aws.CloudWatchMetrics`
    /// a list of directives with a Namespace, Dimensions (a list of dimension sets, each
    /// naming top-level string members, at most 30) and Metrics (Name, Unit among
    /// CloudWatch's units, at most 100), every metric a top-level number.
    fn assert_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_i64().is_some_and(|t| t > 0));
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert!(!directives.is_empty());
        for d in directives {
            assert_eq!(d["Namespace"], NAMESPACE);
            for set in d["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(!set.is_empty() && set.len() <= 30);
                for name in set {
                    let name = name.as_str().unwrap();
                    assert!(
                        doc[name].is_string(),
                        "dimension {name} is a top-level string"
                    );
                }
            }
            let metrics = d["Metrics"].as_array().unwrap();
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for m in metrics {
                let name = m["Name"].as_str().unwrap();
                assert!(
                    ["Count", "Milliseconds", "Percent", "None"]
                        .contains(&m["Unit"].as_str().unwrap())
                );
                assert!(doc[name].is_number(), "metric {name} is a top-level number");
            }
        }
    }

    #[test]
    fn emf_groups_by_dimensions_keeps_tenant_a_property_and_resets() {
        let m = Metrics::default();
        for _ in 0..3 {
            m.count(
                "Deliveries",
                &[("provider", "square"), ("outcome", "published")],
                Some("t1"),
                1,
            );
        }
        m.count(
            "Deliveries",
            &[("provider", "shopify"), ("outcome", "quarantined")],
            Some("t1"),
            1,
        );
        m.count("Quarantined", &[("provider", "shopify")], Some("t1"), 1);
        m.record(
            "AiCostMicroUsd",
            Unit::None,
            Kind::Counter,
            &[("model", "m")],
            Some("t2"),
            1_250,
        );
        let docs = m.take_emf("signature-check", 1_700_000_000_000);
        assert_eq!(docs.len(), 4);
        for d in &docs {
            assert_emf(d);
            let dims = d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
                .as_array()
                .unwrap();
            assert_eq!(dims[0], "service");
            // The per-service rollup beside the full set.
            assert_eq!(
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][1],
                json!(["service"])
            );
            assert!(
                !dims.contains(&Value::from("tenant")),
                "tenant is no dimension"
            );
            assert!(d["tenant"].is_string());
            assert_eq!(d["service"], "signature-check");
        }
        let square = docs.iter().find(|d| d["provider"] == "square").unwrap();
        assert_eq!(square["Deliveries"], 3);
        assert_eq!(square["outcome"], "published");
        let cost = docs.iter().find(|d| d["model"] == "m").unwrap();
        assert_eq!(cost["AiCostMicroUsd"], 1_250);
        assert_eq!(cost["tenant"], "t2");
        // A flush takes what was pending; totals remain.
        assert!(m.take_emf("signature-check", 1).is_empty());
        assert_eq!(m.value("Deliveries", &[("provider", "square")]), 3);
        assert_eq!(m.value("Deliveries", &[]), 4);
    }

    #[test]
    fn dimension_values_are_bounded_and_gauges_keep_the_last_value() {
        let m = Metrics::default();
        m.record(
            "BudgetUsedPercent",
            Unit::Percent,
            Kind::Gauge,
            &[],
            Some("t\"1\n"),
            40,
        );
        m.record(
            "BudgetUsedPercent",
            Unit::Percent,
            Kind::Gauge,
            &[],
            Some("t\"1\n"),
            85,
        );
        m.count("FetchCalls", &[("provider", "evil\"}\n")], None, 2);
        let docs = m.take_emf("api", 1);
        let budget = docs
            .iter()
            .find(|d| d.get("BudgetUsedPercent").is_some())
            .unwrap();
        assert_eq!(budget["BudgetUsedPercent"], 85);
        assert_eq!(budget["tenant"], "t_1_");
        let text = m.prometheus();
        assert!(text.contains("# TYPE tillbridge_budget_used_percent gauge\n"));
        assert!(text.contains("tillbridge_budget_used_percent 85\n"));
        assert!(text.contains("tillbridge_fetch_calls_total{provider=\"evil___\"} 2\n"));
        assert!(!text.contains("t_1_"), "no tenant in Prometheus labels");
    }

    #[test]
    fn prometheus_text_is_well_formed() {
        let m = Metrics::default();
        m.count(
            "Deliveries",
            &[("provider", "square"), ("outcome", "accepted")],
            Some("t"),
            2,
        );
        m.count(
            "Deliveries",
            &[("provider", "zettle"), ("outcome", "accepted")],
            Some("u"),
            1,
        );
        let text = m.prometheus();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "# HELP tillbridge_deliveries_total Deliveries (Count)",
                "# TYPE tillbridge_deliveries_total counter",
                "tillbridge_deliveries_total{outcome=\"accepted\",provider=\"square\"} 2",
                "tillbridge_deliveries_total{outcome=\"accepted\",provider=\"zettle\"} 1",
            ]
        );
    }
}
