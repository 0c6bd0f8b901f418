//! Runs in one process: chaining, retries with backoff, permanent failure and resume, cancel,
//! idempotency keys, the span tree.

use std::time::Duration;

use idem_engine::{Engine, EngineConfig, Error, RunFilter, RunStatus, StartOptions};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::common::{
    self, effects, parse_traceparent, running, spans_of_trace, status_is, test_config, wait_for,
};
use crate::workflows;

#[sqlx::test(migrations = false)]
async fn three_steps_chain_their_outputs(pool: PgPool) {
    let rt = running(&pool).await;
    let engine = &rt.engine;
    let started = engine
        .start(
            "chain",
            &json!({"n": 0, "trail": []}),
            StartOptions::default(),
        )
        .await
        .unwrap();
    assert!(started.created);
    let run = wait_for(
        engine,
        started.run_id,
        Duration::from_secs(20),
        status_is("succeeded"),
    )
    .await;
    assert_eq!(
        run.output,
        Some(json!({"n": 111, "trail": ["first", "second", "third"]}))
    );
    assert_eq!(run.steps.len(), 3);
    assert_eq!(
        run.steps[0].output,
        Some(json!({"n": 1, "trail": ["first"]}))
    );
    assert_eq!(
        run.steps[1].output,
        Some(json!({"n": 11, "trail": ["first", "second"]}))
    );
    for step in &run.steps {
        assert_eq!(
            (step.status.as_str(), step.attempts),
            ("succeeded", 1),
            "{step:?}"
        );
        assert_eq!(step.attempt_list.len(), 1);
        assert!(step.duration_seconds.is_some());
    }
    for step in ["first", "second", "third"] {
        assert_eq!(
            effects(&pool, started.run_id, step).await.len(),
            1,
            "step {step} ran once"
        );
    }
    assert!(run.summary.started_at.is_some() && run.summary.finished_at.is_some());

    // The same idempotency key returns the same run and starts nothing.
    let key = StartOptions {
        idempotency_key: Some("import-2026-11-29".into()),
    };
    let first = engine
        .start("chain", &json!({"n": 5, "trail": []}), key.clone())
        .await
        .unwrap();
    let again = engine
        .start("chain", &json!({"n": 7, "trail": []}), key)
        .await
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.run_id, again.run_id);
    let run = wait_for(
        engine,
        first.run_id,
        Duration::from_secs(20),
        status_is("succeeded"),
    )
    .await;
    assert_eq!(run.output.unwrap()["n"], 116);
    let page = engine
        .list_runs(&RunFilter {
            workflow: Some("chain".into()),
            status: None,
            page: 1,
            page_size: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total_count, 2);

    assert!(matches!(
        engine.start("nope", &json!({}), StartOptions::default()).await,
        Err(Error::UnknownWorkflow(name)) if name == "nope"
    ));
}

#[sqlx::test(migrations = false)]
async fn retryable_failures_back_off_then_succeed(pool: PgPool) {
    let rt = running(&pool).await;
    let engine = &rt.engine;
    let started = engine
        .start("flaky", &json!({"fail_times": 2}), StartOptions::default())
        .await
        .unwrap();
    let run = wait_for(
        engine,
        started.run_id,
        Duration::from_secs(30),
        status_is("succeeded"),
    )
    .await;
    let call = &run.steps[1];
    assert_eq!(call.name, "call");
    assert_eq!(call.attempts, 3);
    let statuses: Vec<&str> = call
        .attempt_list
        .iter()
        .map(|a| a.status.as_str())
        .collect();
    assert_eq!(statuses, ["retrying", "retrying", "succeeded"]);
    assert_eq!(
        call.attempt_list[0].error.as_deref(),
        Some("service unavailable (attempt 1)")
    );
    assert_eq!(run.output, Some(json!({"called_on_attempt": 3})));
    // Backoff: initial 200 ms doubling, with jitter between half and all of it.
    let gap = |i: usize| {
        let a = &call.attempt_list[i];
        let b = &call.attempt_list[i + 1];
        (b.started_at - a.finished_at.unwrap()).to_std().unwrap()
    };
    assert!(
        gap(0) >= Duration::from_millis(100),
        "first backoff {:?}",
        gap(0)
    );
    assert!(
        gap(1) >= Duration::from_millis(200),
        "second backoff {:?}",
        gap(1)
    );
    assert_eq!(effects(&pool, started.run_id, "call").await.len(), 3);
}

#[sqlx::test(migrations = false)]
async fn permanent_failure_fails_the_run_and_resume_continues_at_the_failed_step(pool: PgPool) {
    let rt = running(&pool).await;
    let engine = &rt.engine;
    let started = engine
        .start(
            "fragile",
            &json!({"file": "a.csv"}),
            StartOptions::default(),
        )
        .await
        .unwrap();
    let run = wait_for(
        engine,
        started.run_id,
        Duration::from_secs(20),
        status_is("failed"),
    )
    .await;
    assert_eq!(
        run.summary.error.as_deref(),
        Some("step 'check' failed: input is invalid: flag 'fixed' is missing")
    );
    let statuses: Vec<&str> = run.steps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses, ["succeeded", "failed", "pending"]);
    assert_eq!(run.steps[1].attempts, 1, "a permanent error is not retried");

    // Fix the cause, resume: `load` is not run again, its output feeds `check`.
    sqlx::query("INSERT INTO testbed_flags VALUES ('fixed')")
        .execute(&pool)
        .await
        .unwrap();
    engine.resume(started.run_id).await.unwrap();
    let run = wait_for(
        engine,
        started.run_id,
        Duration::from_secs(20),
        status_is("succeeded"),
    )
    .await;
    assert_eq!(run.output, Some(json!({"loaded": {"file": "a.csv"}})));
    assert_eq!(effects(&pool, started.run_id, "load").await.len(), 1);
    assert_eq!(effects(&pool, started.run_id, "check").await.len(), 2);
    assert_eq!(effects(&pool, started.run_id, "store").await.len(), 1);
    assert_eq!(run.steps[1].attempts, 2);
    assert!(run.summary.error.is_none());

    // A succeeded run cannot be resumed or cancelled.
    assert!(matches!(
        engine.resume(started.run_id).await,
        Err(Error::InvalidState { status, action: "resume", .. }) if status == "succeeded"
    ));
    assert!(matches!(
        engine.cancel(started.run_id).await,
        Err(Error::InvalidState { .. })
    ));
    assert!(matches!(
        engine.resume(uuid::Uuid::new_v4()).await,
        Err(Error::RunNotFound(_))
    ));
}

#[sqlx::test(migrations = false)]
async fn cancel_stops_a_run_and_resume_continues_it(pool: PgPool) {
    let rt = running(&pool).await;
    let engine = &rt.engine;
    let started = engine
        .start("slow", &json!({"sleep_ms": 5000}), StartOptions::default())
        .await
        .unwrap();
    wait_for(engine, started.run_id, Duration::from_secs(20), |run| {
        run.steps[1].status == "running"
            && run.steps[1].progress.as_ref().is_some_and(|p| p.done >= 2)
    })
    .await;
    engine.cancel(started.run_id).await.unwrap();
    let run = wait_for(engine, started.run_id, Duration::from_secs(20), |run| {
        run.steps[1].status == "cancelled"
    })
    .await;
    assert_eq!(run.summary.status, "cancelled");
    assert_eq!(
        run.steps[2].status, "pending",
        "a pending step never starts"
    );
    let progress = run.steps[1].progress.as_ref().unwrap();
    assert!(
        progress.done < 100 && progress.total == Some(100),
        "{progress:?}"
    );
    assert_eq!(progress.label.as_deref(), Some("slices"));
    // Give a wrongly enqueued `end` step time to run; it must not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(effects(&pool, started.run_id, "end").await.is_empty());
    assert!(effects(&pool, started.run_id, "work").await.is_empty());
    assert_eq!(
        engine.run_status(started.run_id).await.unwrap(),
        Some(RunStatus::Cancelled)
    );

    engine.resume(started.run_id).await.unwrap();
    let run = wait_for(
        engine,
        started.run_id,
        Duration::from_secs(30),
        status_is("succeeded"),
    )
    .await;
    assert_eq!(effects(&pool, started.run_id, "begin").await.len(), 1);
    assert_eq!(effects(&pool, started.run_id, "work").await.len(), 1);
    assert_eq!(run.steps[1].attempts, 2);
}

#[sqlx::test(migrations = false)]
async fn a_run_is_one_trace_with_a_span_per_step_attempt(pool: PgPool) {
    let rt = running(&pool).await;
    let engine = &rt.engine;
    let request = tracing::info_span!("http.request");
    let started = engine
        .start("flaky", &json!({"fail_times": 1}), StartOptions::default())
        .instrument(request.clone())
        .await
        .unwrap();
    drop(request);
    let run = wait_for(
        engine,
        started.run_id,
        Duration::from_secs(30),
        status_is("succeeded"),
    )
    .await;
    let (trace_id, run_span_id) =
        parse_traceparent(run.traceparent.as_deref().expect("traceparent stored"));
    // Spans are exported when they end; the last step's span ends just after the run's status commits.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let spans = loop {
        let spans = spans_of_trace(&trace_id);
        if spans.iter().filter(|s| s.name == "finish").count() == 1
            || std::time::Instant::now() > deadline
        {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let request = spans
        .iter()
        .find(|s| s.name == "http.request")
        .expect("request span");
    let run_span = spans
        .iter()
        .find(|s| s.name == "run flaky")
        .expect("run span");
    assert_eq!(run_span.span_context.span_id().to_string(), run_span_id);
    assert_eq!(run_span.parent_span_id, request.span_context.span_id());
    let mut children: Vec<&str> = spans
        .iter()
        .filter(|s| s.parent_span_id == run_span.span_context.span_id())
        .map(|s| s.name.as_ref())
        .collect();
    children.sort();
    // prepare once, call twice (one retry), finish once: one span per attempt, all children of the run.
    assert_eq!(children, ["call", "call", "finish", "prepare"]);
}

#[sqlx::test(migrations = false)]
async fn done_queue_tasks_are_purged_after_the_retention(pool: PgPool) {
    let rt = running(&pool).await;
    let engine = &rt.engine;
    let started = engine
        .start(
            "chain",
            &json!({"n": 0, "trail": []}),
            StartOptions::default(),
        )
        .await
        .unwrap();
    wait_for(
        engine,
        started.run_id,
        Duration::from_secs(20),
        status_is("succeeded"),
    )
    .await;
    // The claim acknowledges a task (in the claim's own statement, so this wait is short): wait until no
    // task is outstanding. (The worker that finished a step ran the next one itself, so the run needed a
    // single task.)
    let statuses = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM apalis.jobs ORDER BY status")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all = statuses().await;
        if !all.is_empty() && all.iter().all(|s| s == "Done") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tasks were not acknowledged: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = statuses().await.len() as u64;
    assert_eq!(
        engine.purge_done_tasks().await.unwrap(),
        0,
        "younger than the retention"
    );
    sqlx::query("UPDATE apalis.jobs SET done_at = now() - interval '2 hours'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(engine.purge_done_tasks().await.unwrap(), done);
    assert!(statuses().await.is_empty());
    // The run's history is in idem's tables, not in the queue.
    assert_eq!(
        engine
            .get_run(started.run_id)
            .await
            .unwrap()
            .unwrap()
            .steps
            .len(),
        3
    );
}

#[sqlx::test(migrations = false)]
async fn a_worker_that_finishes_a_run_takes_the_next_queued_run_itself(pool: PgPool) {
    let engine = Engine::new(
        pool.clone(),
        EngineConfig {
            workers: 1,
            ..test_config()
        },
        workflows::all(),
    );
    // Migrates the test database.
    common::engine(&pool).await;
    let mut runs = Vec::new();
    for n in 0..5 {
        let started = engine
            .start(
                "chain",
                &json!({"n": n, "trail": []}),
                StartOptions::default(),
            )
            .await
            .unwrap();
        runs.push(started.run_id);
    }
    // A queued run that is cancelled before any worker starts: its task is acknowledged by whoever takes it,
    // and nothing of it runs.
    let cancelled = runs.remove(2);
    engine.cancel(cancelled).await.unwrap();

    let shutdown = CancellationToken::new();
    let workers = tokio::spawn({
        let engine = engine.clone();
        let stop = shutdown.clone();
        async move { engine.run_workers(stop).await }
    });
    for (run_id, n) in runs.iter().zip([0, 1, 3, 4]) {
        let run = wait_for(
            &engine,
            *run_id,
            Duration::from_secs(20),
            status_is("succeeded"),
        )
        .await;
        assert_eq!(run.output.unwrap()["n"], 111 + n);
        for step in ["first", "second", "third"] {
            assert_eq!(
                effects(&pool, *run_id, step).await.len(),
                1,
                "{step} ran once"
            );
        }
    }
    // Every task is acknowledged; with a single slot, apalis delivered a task only when the slot was free
    // (at the start, and after the cancelled run's stale task): the finishing worker took the others.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (done, fetched): (i64, i64) = loop {
        let counts: (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE status = 'Done'), count(lock_by) FROM apalis.jobs",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if counts.0 == counts.1 || std::time::Instant::now() > deadline {
            assert_eq!(counts.0, 5, "one task per run");
            break (counts.1, counts.2);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done, 5, "every task is acknowledged");
    assert!(
        fetched <= 2,
        "{fetched} of 5 tasks went through apalis's fetch"
    );
    let run = engine.get_run(cancelled).await.unwrap().unwrap();
    assert_eq!(run.summary.status, "cancelled");
    assert!(
        run.steps.iter().all(|s| s.attempt_list.is_empty()),
        "{run:?}"
    );
    assert!(effects(&pool, cancelled, "first").await.is_empty());
    shutdown.cancel();
    workers.await.unwrap().unwrap();
}
