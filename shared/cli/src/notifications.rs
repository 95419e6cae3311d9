//! `tillbridge notifications set|show`: a tenant's notification settings on the embedded
//! store (what `serve` sends by), as `PUT|GET /v1/tenants/{tenant}/notifications` do. A
//! webhook's `"secret"` goes to `STATE/secrets.json`, never into the table or the output.
//! Locally, endpoints may also be plain HTTP on the loopback interface (a receiver on this
//! machine); the API and the cloud take HTTPS only.

use std::io::Read;
use std::path::PathBuf;

use tillbridge_notifications as notifications;

use crate::{Failure, Outcome};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Replace a tenant's notification settings from a JSON file (`-`: stdin).
    Set(SetArgs),
    /// Print a tenant's notification settings (no secrets) and failed deliveries.
    Show(Target),
}

#[derive(clap::Args)]
pub struct Target {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// State directory of the embedded store.
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (default: STATE/tenants.json, else the bundled samples).
    #[arg(long)]
    tenants: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    target: Target,
    /// The settings (see the README's Notifications section); `-` reads stdin.
    #[arg(long)]
    file: PathBuf,
}

pub fn run(c: Command) -> Outcome {
    let (target, body) = match c {
        Command::Set(a) => {
            let body = if a.file.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
                buf
            } else {
                std::fs::read(&a.file)
                    .map_err(|e| Failure::usage(format!("cannot read {}: {e}", a.file.display())))?
            };
            (a.target, Some(body))
        }
        Command::Show(t) => (t, None),
    };
    let tenant = tillbridge_domain::TenantId::parse(&target.tenant)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let directory = crate::serve::load_tenants(target.tenants.as_deref(), &target.state)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let runtime = crate::serve::open_runtime(&target.state, directory).await?;
        if runtime
            .directory
            .tenant(&tenant)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            return Err(Failure::usage(format!("unknown tenant {tenant}")));
        }
        let store = |e: tillbridge_ports::PortError| Failure::usage(e.to_string());
        if let Some(body) = body {
            notifications::put_settings(
                runtime.table.as_ref(),
                runtime.secrets.as_ref(),
                &tenant,
                &body,
                true,
            )
            .await
            .map_err(|e| match e {
                notifications::SettingsError::Invalid(m) => Failure::rejected(m),
                notifications::SettingsError::Store(e) => store(e),
            })?;
        }
        let settings = notifications::settings(runtime.table.as_ref(), &tenant)
            .await
            .map_err(store)?;
        let failed = notifications::failures(runtime.table.as_ref(), &tenant, 50)
            .await
            .map_err(store)?;
        let out = serde_json::json!({
            "tenant": tenant, "settings": settings, "failed_deliveries": failed
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        Ok(())
    })
}
