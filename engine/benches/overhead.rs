//! Engine overhead benchmark (not a test): throughput of 3-step no-op runs with 1 and 4 workers, and the
//! delay from `start` to the first step running.
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p idem-engine --bench overhead`
//! (uses the server and connection options of `DATABASE_URL`, e.g. `?sslmode=disable`, whatever database
//! it names, and creates, uses and drops a database `idem_bench_engine`; `BENCH_RUNS` overrides the 10,000
//! runs, `BENCH_PROCESSES` runs that many engines, each with its own apalis worker, standing in for worker
//! processes; `BENCH_WORKERS`, e.g. `4`, measures only those worker counts instead of `1,4`).
//!
//! Besides wall-clock throughput, which depends on how loaded the (shared) machine is, it reports the CPU
//! time spent per step by this process and by the PostgreSQL backends of the benchmark database (from
//! `/proc`, Linux only): that figure hardly moves with the load, so it compares two versions of the engine
//! even when the wall-clock figures are noisy.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

#[allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    reason = "shared with the tests"
)]
#[path = "../tests/it/workflows.rs"]
mod workflows;

use std::time::{Duration, Instant};

use idem_engine::{Engine, EngineConfig, StartOptions};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server (and options such as `sslmode`) of DATABASE_URL; the benchmark works in a database of its
    // own, created through the server's `postgres` database, whatever database the URL names.
    let server: PgConnectOptions = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
        .parse()?;
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(server.clone().database("postgres"))
        .await?;
    sqlx::query("DROP DATABASE IF EXISTS idem_bench_engine WITH (FORCE)")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE idem_bench_engine")
        .execute(&admin)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(24)
        .connect_with(server.database("idem_bench_engine"))
        .await?;
    idem_migrations::migrate(&pool).await?;

    println!("engine overhead: {runs} runs x 3 no-op steps");
    let worker_counts: Vec<usize> = std::env::var("BENCH_WORKERS")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .map(|w| w.trim().parse())
        .collect::<Result<_, _>>()?;
    for workers in worker_counts {
        let config = EngineConfig {
            workers,
            ..EngineConfig::default()
        };
        let engine = Engine::new(pool.clone(), config, workflows::all());
        // Fill the queue first, then time the drain.
        let started = Instant::now();
        let input = json!({});
        for chunk in (0..runs).collect::<Vec<_>>().chunks(500) {
            let starts = chunk
                .iter()
                .map(|_| engine.start("noop", &input, StartOptions::default()));
            for s in futures::future::join_all(starts).await {
                s?;
            }
        }
        let enqueue = started.elapsed();
        let shutdown = CancellationToken::new();
        let processes: usize = std::env::var("BENCH_PROCESSES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        for _ in 1..processes {
            // Extra engines stand in for extra worker processes (each runs its own apalis worker).
            let config = EngineConfig {
                workers,
                ..EngineConfig::default()
            };
            let extra = Engine::new(pool.clone(), config, workflows::all());
            let stop = shutdown.clone();
            tokio::spawn(async move { extra.run_workers(stop).await });
        }
        let handle = tokio::spawn({
            let engine = engine.clone();
            let stop = shutdown.clone();
            async move { engine.run_workers(stop).await }
        });
        let t0 = Instant::now();
        let cpu0 = cpu_ticks(&pool).await?;
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM workflow_runs WHERE status <> 'succeeded'",
            )
            .fetch_one(&pool)
            .await?;
            if left == 0 {
                break;
            }
            // Polling is the benchmark's own cost; keep it small next to the work measured.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let drain = t0.elapsed();
        let cpu1 = cpu_ticks(&pool).await?;
        let per_step = |ticks: u64| ticks as f64 * 1e6 / CLOCK_TICKS_PER_SEC / (runs * 3) as f64;
        println!(
            "  workers={workers}: start {runs} runs {:.2}s ({:.0} runs/s); drain {:.2}s = {:.0} steps/s",
            enqueue.as_secs_f64(),
            runs as f64 / enqueue.as_secs_f64(),
            drain.as_secs_f64(),
            (runs * 3) as f64 / drain.as_secs_f64()
        );
        println!(
            "  workers={workers}: cpu per step: engine {:.0} us, postgres backends {:.0} us",
            per_step(cpu1.own - cpu0.own),
            per_step(cpu1.backends_since(&cpu0)),
        );

        // Latency from start to the first step running, on idle workers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut delays = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let run = engine
                .start("noop", &json!({}), StartOptions::default())
                .await?
                .run_id;
            loop {
                let started: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
                    "SELECT started_at FROM workflow_steps WHERE run_id = $1 AND idx = 0",
                )
                .bind(run)
                .fetch_one(&pool)
                .await?;
                if started.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            delays.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        delays.sort();
        println!(
            "  workers={workers}: start -> first step running: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            delays[delays.len() / 2].as_secs_f64() * 1e3,
            delays[delays.len() * 95 / 100].as_secs_f64() * 1e3,
            delays[delays.len() - 1].as_secs_f64() * 1e3
        );
        shutdown.cancel();
        handle.await??;
        sqlx::query(
            "TRUNCATE workflow_step_attempts, workflow_steps, workflow_runs, apalis.jobs CASCADE",
        )
        .execute(&pool)
        .await?;
    }
    pool.close().await;
    sqlx::query("DROP DATABASE IF EXISTS idem_bench_engine WITH (FORCE)")
        .execute(&admin)
        .await?;
    Ok(())
}

/// `sysconf(_SC_CLK_TCK)`, the unit of the CPU times in `/proc/<pid>/stat`: 100 on every Linux platform
/// this runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// CPU time (user + system, in clock ticks) of this process and of each PostgreSQL backend connected to
/// the benchmark database.
struct CpuTicks {
    own: u64,
    backends: std::collections::HashMap<i32, u64>,
}

impl CpuTicks {
    /// Backend CPU spent since `earlier` (a backend that connected meanwhile counts from zero).
    fn backends_since(&self, earlier: &CpuTicks) -> u64 {
        self.backends
            .iter()
            .map(|(pid, t)| t - earlier.backends.get(pid).copied().unwrap_or(0))
            .sum()
    }
}

async fn cpu_ticks(pool: &sqlx::PgPool) -> Result<CpuTicks, Box<dyn std::error::Error>> {
    fn ticks(pid: &str) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'",
    )
    .fetch_all(pool)
    .await?;
    Ok(CpuTicks {
        own: ticks("self").unwrap_or(0),
        backends: pids
            .into_iter()
            .map(|pid| (pid, ticks(&pid.to_string()).unwrap_or(0)))
            .collect(),
    })
}
