//! Log ingestion per tenant: CloudWatch Logs bills the bytes a function writes to its log
//! group. A [`TenantLogLayer`] notes the `tenant` (or `tenant_id`) field of each event, and the
//! [`CountingWriter`] around the formatter's output adds the bytes of the formatted line to
//! that tenant ([`tillbridge_ports::meter::add_log_bytes`]); the function's metering files
//! them with the record's usage. Lines without a tenant are the platform's, not counted.
//!
//! Layer order matters: the tenant layer must see an event before the formatting layer
//! writes it (`registry().with(filter).with(TenantLogLayer).with(fmt_layer)`; layers run
//! from the registry outwards).

use std::cell::RefCell;
use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Notes the tenant of each event for the [`CountingWriter`] (same thread, same event).
pub struct TenantLogLayer;

struct TenantField(Option<String>);

impl Visit for TenantField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "tenant" | "tenant_id") {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "tenant" | "tenant_id") && self.0.is_none() {
            let text = format!("{value:?}");
            self.0 = Some(text.trim_matches('"').to_owned());
        }
    }
}

impl<S: Subscriber> Layer<S> for TenantLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = TenantField(None);
        event.record(&mut v);
        CURRENT.with(|c| *c.borrow_mut() = v.0);
    }
}

/// A [`MakeWriter`] whose writers count what they write for the current event's tenant.
pub struct CountingWriter<M>(pub M);

/// The writer of one formatted line.
pub struct Counted<W> {
    inner: W,
    tenant: Option<String>,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for CountingWriter<M> {
    type Writer = Counted<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Counted {
            inner: self.0.make_writer(),
            tenant: CURRENT.with(|c| c.borrow().clone()),
        }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(t) = &self.tenant {
            tillbridge_ports::meter::add_log_bytes(t, n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_formatted_bytes_of_lines_with_a_tenant_are_counted_for_it() {
        let sink = Sink::default();
        let out = sink.clone();
        let fmt = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(CountingWriter(move || out.clone()));
        let subscriber = tracing_subscriber::registry()
            .with(TenantLogLayer)
            .with(fmt);
        let _ = tillbridge_ports::meter::take_log_bytes();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(tenant = "log-t1", "usage recorded");
            tracing::info!("no tenant here");
            tracing::warn!(tenant_id = %"log-t2", error = "x", "failed");
        });
        let written = sink.0.lock().map(|v| v.clone()).unwrap_or_default();
        let lines: Vec<&[u8]> = written.split_inclusive(|b| *b == b'\n').collect::<Vec<_>>();
        assert_eq!(lines.len(), 3);
        let taken = tillbridge_ports::meter::take_log_bytes();
        let of = |t: &str| taken.iter().find(|(k, _)| k == t).map(|(_, v)| *v);
        assert_eq!(of("log-t1"), Some(lines[0].len() as u64));
        assert_eq!(of("log-t2"), Some(lines[2].len() as u64));
        assert_eq!(taken.len(), 2, "{taken:?}");
    }
}
