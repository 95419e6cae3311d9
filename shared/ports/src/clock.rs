//! The clock port: where "now" comes from, so tests and replays can set it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tillbridge_domain::Timestamp;

/// A source of the current time. Expiry, queue visibility and event times all read it.
pub trait Clock: Send + Sync {
    /// The current instant (UTC, nanosecond resolution).
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Timestamp::from_unix_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `at` until advanced.
    pub fn new(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.unix_nanos()))
    }

    /// The clock's time in Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now().unix_seconds()
    }

    /// Moves the clock forward by `secs` seconds (backward when negative).
    pub fn advance_secs(&self, secs: i64) {
        self.0
            .fetch_add(secs.saturating_mul(1_000_000_000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.0.load(Ordering::SeqCst))
    }
}
