//! A worker process running the engine's test workflows, for the engine's process-level tests (SIGKILL
//! recovery, traces across processes) and its benchmark. Not part of an idem install.
//!
//! Environment: `DATABASE_URL`, `TESTBED_WORKERS` (default 2), `TESTBED_LEASE_MS` (default 2000), and the
//! standard `OTEL_*` variables. Stops on SIGTERM.

#[allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    reason = "shared with the tests, which use other parts"
)]
#[path = "../../tests/it/workflows.rs"]
mod workflows;

use std::time::Duration;

use idem_engine::{Engine, EngineConfig};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str| std::env::var(k).ok();
    let otel = idem_otel::OtelConfig {
        otlp_endpoint: env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        service_name: env("OTEL_SERVICE_NAME").unwrap_or_else(|| "idem-engine-testbed".into()),
        log_filter: env("RUST_LOG").unwrap_or_else(|| "info".into()),
    };
    let telemetry = idem_otel::init(&otel)?;
    let url = env("DATABASE_URL").ok_or("DATABASE_URL is required")?;
    let workers: usize = env("TESTBED_WORKERS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let lease_ms: u64 = env("TESTBED_LEASE_MS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(workers as u32 * 3 + 4)
        .connect(&url)
        .await?;
    sqlx::raw_sql(workflows::TESTBED_SCHEMA)
        .execute(&pool)
        .await?;
    let config = EngineConfig {
        workers,
        lease: Duration::from_millis(lease_ms),
        ..EngineConfig::default()
    };
    let engine = Engine::new(pool, config, workflows::all());
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        term.recv().await;
        trigger.cancel();
    });
    // Tests wait for this line before they start runs.
    tracing::info!("testbed ready");
    engine.run_workers(shutdown).await?;
    telemetry.flush();
    Ok(())
}
