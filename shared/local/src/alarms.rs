//! The template's alarms, evaluated locally: `serve` has no CloudWatch, so it watches its own
//! metrics registry (the numbers it shows on `/metrics`) and its dead-letter queues with the
//! same rules and default thresholds as infra/template.yaml, and turns each state change into
//! the same `operations.alarm.changed` event the notify function makes of an SNS alarm. The
//! event goes on the local bus, so the operators' tenant's notification settings and business
//! calendar route it exactly as in the cloud.
//!
//! Rules (window one hour unless said; "missing data" is not breaching, as in the template):
//! - `<Provider>DeliverySla` (`[critical]`): deliveries processed (published, duplicate,
//!   unhandled) below the provider's target share of those received (plus quarantined and
//!   failed at ingress): Square 99 %, Shopify 98.5 %, Zettle 98 %.
//! - `<Queue>DLQ` (`[critical]` for inbound, catalog and migrations — the last also carries
//!   rollbacks locally): a message waits in a dead-letter queue.
//! - `HighTokenUsage`: AI tokens above 5,000,000 in the window.
//! - `MigrationStalled`: apply steps ran but no item was applied for 30 minutes.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tillbridge_domain::Timestamp;
use tillbridge_domain::event::{AlarmChanged, AlarmState};

/// The metric series the rules read, as (name, dimensions).
type SeriesKey = (&'static str, Vec<(&'static str, &'static str)>);

/// Thresholds (the template's defaults).
#[derive(Debug, Clone)]
pub struct Rules {
    /// Delivery SLA targets per provider, in tenths of a percent (985 = 98.5 %).
    pub sla_permille: Vec<(&'static str, &'static str, u32)>,
    /// `HighTokenUsage` above this many tokens in the window.
    pub tokens_per_window: i64,
    /// How long apply steps may run without an item applied.
    pub stall: Duration,
    /// The evaluation window of the SLA and token rules.
    pub window: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            sla_permille: vec![
                ("square", "Square", 990),
                ("shopify", "Shopify", 985),
                ("zettle", "Zettle", 980),
            ],
            tokens_per_window: 5_000_000,
            stall: Duration::from_secs(30 * 60),
            window: Duration::from_secs(3600),
        }
    }
}

/// Delivery outcomes that count as processed / as failed for the SLA.
const PROCESSED: [&str; 3] = ["published", "duplicate", "unhandled"];
const FAILED: [&str; 2] = ["quarantined", "failed"];
/// Dead-letter queues whose messages are critical (acknowledged deliveries, catalog events,
/// migration steps and rollbacks that stopped).
const CRITICAL_DLQS: [&str; 3] = ["inbound-dlq", "catalog-dlq", "migrations-dlq"];

/// What the rules read at one instant: cumulative metric values and DLQ depths.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Cumulative value of each series the rules read (see [`Alarms::series`]).
    pub totals: BTreeMap<SeriesKey, i64>,
    /// Messages in each dead-letter queue, by its name.
    pub dlq_depths: Vec<(String, usize)>,
}

/// One alarm's verdict.
struct Verdict {
    name: String,
    description: String,
    critical: bool,
    breaching: bool,
    reason: String,
    metric: Option<String>,
}

/// The alarms' states and the recent observations their windows need.
pub struct Alarms {
    rules: Rules,
    history: VecDeque<(Timestamp, BTreeMap<SeriesKey, i64>)>,
    states: BTreeMap<String, AlarmState>,
}

impl Alarms {
    /// Alarms under `rules`, every one `OK` (missing data does not breach).
    pub fn new(rules: Rules) -> Self {
        Alarms {
            rules,
            history: VecDeque::new(),
            states: BTreeMap::new(),
        }
    }

    /// The series the rules read (the caller fills [`Observation::totals`] with them).
    pub fn series(&self) -> Vec<SeriesKey> {
        let mut out = Vec::new();
        for (provider, _, _) in &self.rules.sla_permille {
            for outcome in PROCESSED.iter().chain(FAILED.iter()) {
                out.push((
                    "Deliveries",
                    vec![("provider", *provider), ("outcome", *outcome)],
                ));
            }
        }
        out.push(("AiTokens", vec![]));
        out.push(("MigrationApplySteps", vec![]));
        out.push(("MigrationItemsApplied", vec![]));
        out
    }

    /// Takes an observation at `at` and returns the alarms whose state changed.
    pub fn observe(&mut self, at: Timestamp, now: Observation) -> Vec<AlarmChanged> {
        // The first observation is the baseline: counting starts there.
        if self.history.is_empty() {
            self.history.push_back((at, now.totals.clone()));
        }
        let since = |d: Duration| at.plus_seconds(-i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let delta = |history: &VecDeque<(Timestamp, BTreeMap<SeriesKey, i64>)>,
                     from: Timestamp,
                     key: &SeriesKey| {
            // The oldest observation inside the window (or the baseline).
            let base = history
                .iter()
                .find(|(t, _)| *t >= from)
                .or_else(|| history.back())
                .and_then(|(_, m)| m.get(key).copied())
                .unwrap_or(0);
            now.totals
                .get(key)
                .copied()
                .unwrap_or(0)
                .saturating_sub(base)
        };
        let mut verdicts = Vec::new();
        let window_start = since(self.rules.window);
        for (provider, label, permille) in &self.rules.sla_permille {
            let sum = |outcomes: &[&'static str]| -> i64 {
                outcomes
                    .iter()
                    .map(|o| {
                        delta(
                            &self.history,
                            window_start,
                            &("Deliveries", vec![("provider", *provider), ("outcome", *o)]),
                        )
                    })
                    .sum()
            };
            let (ok, bad) = (sum(&PROCESSED), sum(&FAILED));
            let total = ok + bad;
            let breaching = total > 0 && ok * 1000 < i64::from(*permille) * total;
            verdicts.push(Verdict {
                name: format!("{label}DeliverySla"),
                description: format!(
                    "[critical] {label} deliveries processed (published, duplicate or unhandled) below {}.{} % of those received over the last hour.",
                    permille / 10,
                    permille % 10
                ),
                critical: true,
                breaching,
                reason: format!(
                    "{ok} of {total} deliveries processed in the window (target {}.{} %).",
                    permille / 10,
                    permille % 10
                ),
                metric: None,
            });
        }
        let tokens = delta(&self.history, window_start, &("AiTokens", vec![]));
        verdicts.push(Verdict {
            name: "HighTokenUsage".into(),
            description: format!(
                "AI tokens (all tenants, all models) in one hour exceed {}.",
                self.rules.tokens_per_window
            ),
            critical: false,
            breaching: tokens > self.rules.tokens_per_window,
            reason: format!("{tokens} tokens in the window."),
            metric: Some("tillbridge/AiTokens".into()),
        });
        let stall_start = since(self.rules.stall);
        let stalled_long_enough = self.history.front().is_some_and(|(t, _)| *t <= stall_start);
        let steps = delta(&self.history, stall_start, &("MigrationApplySteps", vec![]));
        let applied = delta(
            &self.history,
            stall_start,
            &("MigrationItemsApplied", vec![]),
        );
        verdicts.push(Verdict {
            name: "MigrationStalled".into(),
            description:
                "A migration is applying (apply steps run) but no item was applied for 30 minutes."
                    .into(),
            critical: false,
            breaching: stalled_long_enough && steps > 0 && applied == 0,
            reason: format!("{steps} apply steps and {applied} items applied in the period."),
            metric: None,
        });
        for (queue, depth) in &now.dlq_depths {
            verdicts.push(Verdict {
                name: format!("{queue}-alarm"),
                description: format!(
                    "{}Messages failed 5 times and wait in the {queue} dead-letter queue.",
                    if CRITICAL_DLQS.contains(&queue.as_str()) {
                        "[critical] "
                    } else {
                        ""
                    }
                ),
                critical: CRITICAL_DLQS.contains(&queue.as_str()),
                breaching: *depth > 0,
                reason: format!("{depth} messages in {queue}."),
                metric: Some("local/DeadLetters".into()),
            });
        }
        let mut changes = Vec::new();
        for v in verdicts {
            let state = if v.breaching {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
            let previous = self
                .states
                .insert(v.name.clone(), state)
                .unwrap_or(AlarmState::Ok);
            if previous != state {
                changes.push(AlarmChanged {
                    alarm_name: v.name,
                    description: v.description,
                    state,
                    previous_state: previous,
                    reason: v.reason,
                    metric: v.metric,
                    critical: v.critical,
                    changed_at: at,
                });
            }
        }
        self.history.push_back((at, now.totals));
        // Keep what the longest window needs (and one observation before it).
        let keep = since(self.rules.window.max(self.rules.stall));
        while self.history.len() > 2 && self.history.get(1).is_some_and(|(t, _)| *t < keep) {
            self.history.pop_front();
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_781_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn obs(deliveries: &[(&'static str, &'static str, i64)], tokens: i64) -> Observation {
        let mut totals = BTreeMap::new();
        for (p, o, n) in deliveries {
            totals.insert(("Deliveries", vec![("provider", *p), ("outcome", *o)]), *n);
        }
        totals.insert(("AiTokens", vec![]), tokens);
        Observation {
            totals,
            dlq_depths: vec![("inbound-dlq".into(), 0), ("costs-dlq".into(), 0)],
        }
    }

    #[test]
    fn an_sla_breach_alarms_once_and_recovers_when_the_window_moves_on() {
        let mut a = Alarms::new(Rules::default());
        assert!(a.observe(at(0), obs(&[], 0)).is_empty(), "baseline: all OK");
        // 97 of 100 Shopify deliveries processed: below 98.5 %.
        let bad = obs(
            &[("shopify", "published", 97), ("shopify", "quarantined", 3)],
            0,
        );
        let changes = a.observe(at(60), bad.clone());
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].alarm_name, "ShopifyDeliverySla");
        assert_eq!(changes[0].state, AlarmState::Alarm);
        assert!(changes[0].critical);
        assert!(changes[0].reason.contains("97 of 100"));
        // Still breaching: no new change.
        assert!(a.observe(at(120), bad.clone()).is_empty());
        // An hour later with 1,000 good deliveries since: back to OK.
        let mut good = bad.clone();
        good.totals.insert(
            (
                "Deliveries",
                vec![("provider", "shopify"), ("outcome", "published")],
            ),
            1097,
        );
        let changes = a.observe(at(3700), good);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].state, AlarmState::Ok);
        assert_eq!(changes[0].previous_state, AlarmState::Alarm);
        // Square at 99 % exactly is not below its target.
        let mut b = Alarms::new(Rules::default());
        b.observe(at(0), obs(&[], 0));
        let edge = obs(&[("square", "published", 99), ("square", "failed", 1)], 0);
        assert!(b.observe(at(60), edge).is_empty());
    }

    #[test]
    fn tokens_dead_letters_and_stalls() {
        let mut a = Alarms::new(Rules::default());
        a.observe(at(0), obs(&[], 1_000));
        let mut o = obs(&[], 6_000_001);
        o.dlq_depths = vec![("inbound-dlq".into(), 2), ("costs-dlq".into(), 1)];
        let changes = a.observe(at(60), o);
        let names: Vec<_> = changes
            .iter()
            .map(|c| (c.alarm_name.as_str(), c.critical))
            .collect();
        assert_eq!(
            names,
            vec![
                ("HighTokenUsage", false),
                ("inbound-dlq-alarm", true),
                ("costs-dlq-alarm", false)
            ]
        );
        // A migration stepping without applying: only after 30 minutes of it.
        let mut m = Alarms::new(Rules::default());
        let steps = |s: i64, applied: i64| {
            let mut o = obs(&[], 0);
            o.totals.insert(("MigrationApplySteps", vec![]), s);
            o.totals.insert(("MigrationItemsApplied", vec![]), applied);
            o
        };
        m.observe(at(0), steps(0, 500));
        assert!(m.observe(at(600), steps(10, 500)).is_empty());
        let changes = m.observe(at(1900), steps(40, 500));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].alarm_name, "MigrationStalled");
        let changes = m.observe(at(2000), steps(41, 600));
        assert_eq!(changes[0].state, AlarmState::Ok);
    }

    #[test]
    fn history_stays_bounded() {
        let mut a = Alarms::new(Rules::default());
        for i in 0..10_000 {
            a.observe(at(i * 60), obs(&[], 0));
        }
        assert!(a.history.len() <= 62, "{}", a.history.len());
    }
}
