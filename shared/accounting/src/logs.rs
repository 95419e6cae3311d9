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

/// Files the log bytes counted per tenant since the last call (function `function`), for
/// code paths without per-record metering (the api function, serve). Never fails: errors are
/// logged without a tenant field (the platform's line, not counted).
pub async fn file_log_bytes(
    table: &dyn tillbridge_ports::Table,
    at: tillbridge_domain::Timestamp,
    function: &str,
) {
    for (tenant, bytes) in tillbridge_ports::meter::take_log_bytes() {
        let Ok(tenant) = tillbridge_domain::TenantId::parse(&tenant) else {
            continue;
        };
        let usage = tillbridge_costs::infra::InfraUsage {
            log_bytes: bytes,
            ..Default::default()
        };
        if let Err(e) = crate::record_infra(table, &tenant, at, function, &usage).await {
            tracing::warn!(function, error = %e, "could not record log bytes");
        }
    }
}

/// The Lambda functions' log setup (in place of `lambda_runtime`'s default subscriber, with
/// the same environment): level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default info),
/// JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the template's `LoggingConfig`), no ANSI, no
/// timestamp (CloudWatch adds one), to stdout — with the tenant byte counting.
pub fn init_lambda() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter =
        EnvFilter::try_new(level.to_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time()
        .with_writer(CountingWriter(std::io::stdout));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(TenantLogLayer);
    let _ = if json {
        registry
            .with(fmt.json().flatten_event(true).with_current_span(false))
            .try_init()
    } else {
        registry.with(fmt).try_init()
    };
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
