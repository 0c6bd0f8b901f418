//! Worker processes: a worker killed with SIGKILL mid-step, another process finishing the run, and the
//! run's trace spanning both processes.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use idem_engine::StartOptions;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{
    ReceivedSpans, database_url, effects, engine, otlp_receiver, parse_traceparent, status_is,
    wait_for,
};

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(url: &str, otlp: &str) -> Worker {
    let child = Command::new(env!("CARGO_BIN_EXE_idem-engine-testbed"))
        .env("DATABASE_URL", url)
        .env("TESTBED_WORKERS", "2")
        .env("TESTBED_LEASE_MS", "1500")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("testbed starts");
    Worker(child)
}

#[sqlx::test(migrations = false)]
async fn a_killed_workers_step_is_finished_by_another_process(pool: PgPool) {
    let engine = engine(&pool).await;
    let url = database_url(&pool);
    let (otlp, received) = otlp_receiver().await;
    let mut first = spawn_worker(&url, &otlp);
    let started = engine
        .start("slow", &json!({"sleep_ms": 3000}), StartOptions::default())
        .await
        .unwrap();
    wait_for(&engine, started.run_id, Duration::from_secs(30), |run| {
        run.steps[1].status == "running"
            && run.steps[1].progress.as_ref().is_some_and(|p| p.done >= 3)
    })
    .await;
    let first_pid = first.0.id() as i32;
    // SIGKILL: no shutdown, no flush, the lease just stops being renewed.
    first.0.kill().expect("SIGKILL");
    first.0.wait().unwrap();

    let second = spawn_worker(&url, &otlp);
    let run = wait_for(
        &engine,
        started.run_id,
        Duration::from_secs(60),
        status_is("succeeded"),
    )
    .await;
    let work = &run.steps[1];
    assert_eq!(work.attempts, 2);
    let statuses: Vec<&str> = work
        .attempt_list
        .iter()
        .map(|a| a.status.as_str())
        .collect();
    assert_eq!(statuses, ["lost", "succeeded"]);
    assert_ne!(work.attempt_list[0].worker, work.attempt_list[1].worker);
    assert!(
        work.attempt_list[0]
            .worker
            .contains(&format!(":{first_pid}:"))
    );
    // The step's effect happened once, in the second process.
    let done = effects(&pool, started.run_id, "work").await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0], (2, second.0.id() as i32));
    assert_eq!(
        effects(&pool, started.run_id, "begin").await,
        vec![(1, first_pid)]
    );
    // Each queue task was acknowledged by the claim that used it, the killed worker's too: the run took
    // the first task and the reaper's task for attempt 2, and apalis has nothing left to re-deliver.
    let tasks: Vec<String> = sqlx::query_scalar("SELECT status FROM apalis.jobs ORDER BY status")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(tasks, ["Done", "Done"]);

    // One trace across both processes: every step span is a child of the stored run span.
    let (trace_id, run_span_id) = parse_traceparent(run.traceparent.as_deref().unwrap());
    let spans = wait_for_spans(&received, &trace_id, 3).await;
    for span in &spans {
        assert_eq!(span.parent_span_id, run_span_id, "{span:?}");
    }
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["begin", "end", "work"],
        "the killed attempt never ended, so it exported nothing"
    );
    // Worker names are `<host>:<pid>:<nonce>`.
    let processes: std::collections::BTreeSet<&str> = spans
        .iter()
        .map(|s| s.worker.split(':').nth(1).unwrap_or_default())
        .collect();
    let expected = [first_pid.to_string(), second.0.id().to_string()];
    assert_eq!(
        processes,
        expected.iter().map(String::as_str).collect(),
        "spans from both processes"
    );
}

async fn wait_for_spans(
    received: &ReceivedSpans,
    trace_id: &str,
    n: usize,
) -> Vec<crate::common::ReceivedSpan> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let spans: Vec<_> = received
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect();
        if spans.len() >= n || std::time::Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn two_worker_processes_share_runs_without_running_a_step_twice(pool: PgPool) {
    let engine = engine(&pool).await;
    let url = database_url(&pool);
    let (otlp, _received) = otlp_receiver().await;
    let a = spawn_worker(&url, &otlp);
    let b = spawn_worker(&url, &otlp);
    let mut runs = Vec::new();
    for n in 0..60 {
        let started = engine
            .start(
                "chain",
                &json!({"n": n, "trail": []}),
                StartOptions::default(),
            )
            .await
            .unwrap();
        runs.push((n, started.run_id));
    }
    for (n, run_id) in &runs {
        let run = wait_for(
            &engine,
            *run_id,
            Duration::from_secs(60),
            status_is("succeeded"),
        )
        .await;
        assert_eq!(run.output.unwrap()["n"], n + 111);
    }
    let (total, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT (run_id, step)) FROM testbed_effects")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total, distinct), (180, 180), "every step ran exactly once");
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT DISTINCT worker_pid FROM testbed_effects ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut expected = vec![a.0.id() as i32, b.0.id() as i32];
    expected.sort();
    assert_eq!(pids, expected, "both processes took work");
}
