//! Per-tenant infrastructure metering for the Lambda functions: the ports are wrapped in
//! metering decorators sharing one [`Meter`]; after each record the meter's reading and the
//! record's duration are added to the record's tenant.

use std::sync::Arc;
use std::time::Instant;

use tillbridge_domain::TenantId;
use tillbridge_ports::meter::Meter;
use tillbridge_ports::{Clock, Table};
use tracing::warn;

use crate as accounting;

/// Per-record infrastructure metering of one Lambda function.
pub struct Metering {
    /// The meter the function's metered adapters share.
    pub meter: Arc<Meter>,
    /// The unmetered table the readings are written to.
    pub table: Arc<dyn Table>,
    /// Now (the month the usage is filed under).
    pub clock: Arc<dyn Clock>,
    /// The function's name (the sort key usage is filed under).
    pub function: &'static str,
    /// The function's memory in MB (Lambda GB-seconds).
    pub memory_mb: u64,
}

impl Metering {
    /// Memory from the Lambda environment (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), else 128 MB.
    pub fn from_env(
        function: &'static str,
        meter: Arc<Meter>,
        table: Arc<dyn Table>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let memory_mb = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()
            .and_then(|m| m.parse().ok())
            .unwrap_or(128);
        Self {
            meter,
            table,
            clock,
            function,
            memory_mb,
        }
    }

    /// Attributes everything metered since the last call, and the time since `started`, to
    /// `tenant`. Metering never fails the record it measures: errors are logged.
    pub async fn record(&self, tenant: Option<&TenantId>, started: Instant, http: bool) {
        let units = self.meter.take();
        let now = self.clock.now();
        let mut logs = tillbridge_ports::meter::take_log_bytes();
        if let Some(tenant) = tenant {
            let mut usage =
                accounting::infra_for_record(units, started.elapsed(), self.memory_mb, http);
            usage.xray_traces = u64::from(xray_sampled());
            if let Some(i) = logs.iter().position(|(t, _)| t == tenant.as_str()) {
                usage.log_bytes = logs.swap_remove(i).1;
            }
            self.file(tenant, now, &usage).await;
        }
        // Log lines about other tenants (a batch's earlier records, background work).
        for (t, bytes) in logs {
            if let Ok(t) = TenantId::parse(&t) {
                let usage = tillbridge_costs::infra::InfraUsage {
                    log_bytes: bytes,
                    ..Default::default()
                };
                self.file(&t, now, &usage).await;
            }
        }
    }

    async fn file(
        &self,
        tenant: &TenantId,
        now: tillbridge_domain::Timestamp,
        usage: &tillbridge_costs::infra::InfraUsage,
    ) {
        if let Err(e) =
            accounting::record_infra(self.table.as_ref(), tenant, now, self.function, usage).await
        {
            warn!(tenant = %tenant, function = self.function, error = %e, "could not record infrastructure usage");
        }
    }
}

/// Whether this invocation's trace is recorded by X-Ray: the template enables active tracing
/// (`Tracing: Active`), and Lambda passes the sampling decision in `_X_AMZN_TRACE_ID`
/// (`Root=…;Parent=…;Sampled=1`). The default sampling rule records the first request each
/// second and 5 % of the others; one trace is counted per record handled in a sampled
/// invocation (an upper bound for SQS batches, whose records share the invocation's trace).
/// Outside Lambda (no variable) nothing is traced.
pub fn xray_sampled() -> bool {
    std::env::var("_X_AMZN_TRACE_ID").is_ok_and(|h| sampled(&h))
}

/// `Sampled=1` in an X-Ray trace header.
pub fn sampled(header: &str) -> bool {
    header.split(';').any(|p| p.trim() == "Sampled=1")
}
