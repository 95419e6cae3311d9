use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem with one item. `item` is the external id (or `line N` when the line has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub item: String,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// 1-based line of the input.
    pub line: usize,
    /// The corrected value, where the fix is clear (e.g. a price in minor units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn family(&self) -> &str {
        self.rule.split('.').next().unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub items: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// What `tillbridge validate` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn new(items: usize, mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| (a.line, a.severity, a.rule).cmp(&(b.line, b.severity, b.rule)));
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Self {
            summary: Summary {
                items,
                errors,
                warnings: findings.len() - errors,
            },
            findings,
        }
    }
}
