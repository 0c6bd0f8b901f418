//! Workflows of the engine's own tests and benchmark. The testbed binary (`src/bin`) includes this file
//! too, so a worker *process* runs exactly what the in-process tests run.

use std::time::Duration;

use idem_engine::{RetryPolicy, StepContext, StepError, Workflow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Tables the test workflows write their effects to.
pub const TESTBED_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS testbed_effects (
        run_id uuid NOT NULL, step text NOT NULL, attempt integer NOT NULL, worker_pid integer NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE IF NOT EXISTS testbed_flags (name text PRIMARY KEY);";

#[derive(Debug, Serialize, Deserialize)]
pub struct Trail {
    pub n: i64,
    pub trail: Vec<String>,
}

/// Records that a step ran (the effect whose duplication the crash test looks for).
async fn effect(ctx: &StepContext) -> Result<(), StepError> {
    sqlx::query(
        "INSERT INTO testbed_effects (run_id, step, attempt, worker_pid) VALUES ($1, $2, $3, $4)",
    )
    .bind(ctx.run_id())
    .bind(ctx.step())
    .bind(ctx.attempt() as i32)
    .bind(std::process::id() as i32)
    .execute(ctx.pool())
    .await?;
    Ok(())
}

fn push(mut t: Trail, name: &str, add: i64) -> Trail {
    t.n += add;
    t.trail.push(name.to_owned());
    t
}

/// `chain`: three steps; each adds to `n` and appends its name, so the output shows the chaining.
pub fn chain() -> Workflow {
    Workflow::new("chain", 1)
        .step("first", |ctx: StepContext, t: Trail| async move {
            effect(&ctx).await?;
            Ok(push(t, "first", 1))
        })
        .step("second", |ctx: StepContext, t: Trail| async move {
            effect(&ctx).await?;
            Ok(push(t, "second", 10))
        })
        .step("third", |ctx: StepContext, t: Trail| async move {
            effect(&ctx).await?;
            Ok(push(t, "third", 100))
        })
}

/// `flaky`: the middle step fails with a retryable error until its attempt number exceeds `fail_times`.
pub fn flaky() -> Workflow {
    let retry = RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        multiplier: 2.0,
    };
    Workflow::new("flaky", 1)
        .step(
            "prepare",
            |_ctx: StepContext, v: Value| async move { Ok(v) },
        )
        .step_with("call", retry, |ctx: StepContext, v: Value| async move {
            effect(&ctx).await?;
            let fail_times = v["fail_times"].as_u64().unwrap_or(0) as u32;
            if ctx.attempt() <= fail_times {
                return Err(StepError::retryable(std::io::Error::other(format!(
                    "service unavailable (attempt {})",
                    ctx.attempt()
                ))));
            }
            Ok(json!({"called_on_attempt": ctx.attempt()}))
        })
        .step("finish", |_ctx: StepContext, v: Value| async move { Ok(v) })
}

/// `fragile`: the second step fails permanently until the flag `fixed` exists.
pub fn fragile() -> Workflow {
    Workflow::new("fragile", 1)
        .step("load", |ctx: StepContext, v: Value| async move {
            effect(&ctx).await?;
            Ok(json!({"loaded": v}))
        })
        .step("check", |ctx: StepContext, v: Value| async move {
            effect(&ctx).await?;
            let fixed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM testbed_flags WHERE name = 'fixed')",
            )
            .fetch_one(ctx.pool())
            .await?;
            if !fixed {
                return Err(StepError::permanent(std::io::Error::other(
                    "input is invalid: flag 'fixed' is missing",
                )));
            }
            Ok(v)
        })
        .step("store", |ctx: StepContext, v: Value| async move {
            effect(&ctx).await?;
            Ok(v)
        })
}

/// `slow`: the middle step works for `sleep_ms` in 50 ms slices, reporting progress and stopping when
/// cancelled, and records its effect only once the work is done.
pub fn slow() -> Workflow {
    Workflow::new("slow", 1)
        .step("begin", |ctx: StepContext, v: Value| async move {
            effect(&ctx).await?;
            Ok(v)
        })
        .step("work", |ctx: StepContext, v: Value| async move {
            let slices = v["sleep_ms"].as_u64().unwrap_or(1000) / 50;
            ctx.progress().start("slices", Some(slices));
            for _ in 0..slices {
                if ctx.is_cancelled() {
                    return Err(StepError::permanent(std::io::Error::other("cancelled")));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                ctx.progress().inc(1);
            }
            effect(&ctx).await?;
            Ok(v)
        })
        .step("end", |ctx: StepContext, v: Value| async move {
            effect(&ctx).await?;
            Ok(v)
        })
}

/// `noop`: three steps that do nothing (engine overhead benchmark).
pub fn noop() -> Workflow {
    Workflow::new("noop", 1)
        .step("a", |_ctx: StepContext, v: Value| async move { Ok(v) })
        .step("b", |_ctx: StepContext, v: Value| async move { Ok(v) })
        .step("c", |_ctx: StepContext, v: Value| async move { Ok(v) })
}

/// Every test workflow.
pub fn all() -> Vec<Workflow> {
    vec![chain(), flaky(), fragile(), slow(), noop()]
}
