//! The worker side: apalis delivers step tasks; each delivery is checked against the step's row, run under
//! a renewed lease, and its outcome (checkpoint + next task, retry, or failure) committed in one
//! transaction. A reaper re-queues the steps of workers that died.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data, TaskId, WorkerBuilder, WorkerBuilderExt};
use apalis_core::backend::ext::poll_strategy::{PollWith, Strategy};
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use serde_json::Value;
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::context::{Progress, StepContext};
use crate::engine::{Engine, StepTask, enqueue};
use crate::error::{Error, Result, StepError};
use crate::workflow::{RetryPolicy, Step, Workflow};

impl Engine {
    /// Runs this process's workers (`config.workers` step slots) and the lease reaper until `shutdown` is
    /// cancelled. On shutdown the workers stop taking tasks and let running steps finish; a step that does
    /// not finish (the process is killed) is re-queued when its lease expires.
    pub async fn run_workers(&self, shutdown: CancellationToken) -> Result<()> {
        // `<host>:<pid>:<nonce>`: unique per process start, readable in attempt rows and spans.
        let process = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // One apalis worker runs `workers` steps at once: several apalis workers in one process were
        // measured to miss each other's insert notifications (new tasks then waited for the next heartbeat).
        let mut tasks = tokio::task::JoinSet::new();
        {
            let engine = self.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move { engine.run_one_worker(process, shutdown).await });
        }
        let reaper = {
            let engine = self.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { engine.reap_until(shutdown).await })
        };
        tracing::info!(workers = self.inner.config.workers, queue = %self.inner.config.queue, "Workers started.");
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined
                .map_err(|e| Error::Worker(e.to_string()))
                .and_then(|r| r);
            if let Err(error) = outcome {
                if self.inner.pool.is_closed() {
                    // The owner closed the pool: the process is going away.
                    tracing::debug!(%error, "Worker stopped: the database pool was closed.");
                    continue;
                }
                tracing::error!(%error, "Worker stopped with an error.");
                shutdown.cancel();
                first_error.get_or_insert(error);
            }
        }
        reaper.abort();
        tracing::info!("Workers stopped.");
        first_error.map_or(Ok(()), Err)
    }

    async fn run_one_worker(&self, name: String, shutdown: CancellationToken) -> Result<()> {
        let config = &self.inner.config;
        let queue = QueueConfig::default()
            .queue(&config.queue)
            // One task per free slot: a busy slot takes its next task itself (see `finish_run.sql`), so
            // a prefetched batch would wait in apalis's buffer behind it.
            .batch_size(1)
            .heartbeat_interval(Duration::from_secs(2))
            .missed_heartbeats(3)
            // idem's step rows say what is running; apalis's extra lock write per task is not needed (a
            // fetched task is already locked to this worker as `Queued`).
            .lock_tasks(false)
            // The claim statement acknowledges the task in the same transaction (see `claim_step.sql`).
            .persist_results(false);
        // LISTEN/NOTIFY picks up new tasks at once; the interval picks up delayed retries, whose insert
        // does not notify.
        let strategy = Strategy::new()
            .stream(Pubsub::new(self.inner.pool.clone(), config.queue.clone()))
            .interval(config.poll_interval);
        let backend = PollWith::new(
            PostgresStorage::<StepTask>::new(&self.inner.pool).with_config(queue),
            strategy,
        );
        let worker = WorkerBuilder::new(name.as_str())
            .backend(backend)
            .concurrency(config.workers.max(1))
            .data(WorkerData {
                engine: self.clone(),
                shutdown: shutdown.clone(),
            })
            .build(handle_task);
        let signal = async move {
            shutdown.cancelled().await;
            Ok::<(), std::io::Error>(())
        };
        worker
            .run_until(signal)
            .await
            .map_err(|e| Error::Worker(e.to_string()))
    }

    async fn reap_until(&self, shutdown: CancellationToken) {
        const PURGE_EVERY: Duration = Duration::from_secs(60);
        let mut tick = tokio::time::interval(self.inner.config.reaper_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = self.reap_expired_leases().await {
                tracing::warn!(%error, "Lease reaper failed; will try again.");
            }
            if last_purge.elapsed() >= PURGE_EVERY {
                last_purge = tokio::time::Instant::now();
                if let Err(error) = self.purge_done_tasks().await {
                    tracing::warn!(%error, "Purging done queue tasks failed; will try again.");
                }
            }
        }
    }

    /// Deletes this queue's acknowledged apalis tasks older than the retention: the step rows keep the
    /// history, and apalis would otherwise keep every task for ever.
    pub async fn purge_done_tasks(&self) -> Result<u64> {
        let deleted = sqlx::query(
            "DELETE FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'
             AND done_at < now() - make_interval(secs => $2)",
        )
        .bind(&self.inner.config.queue)
        .bind(self.inner.config.task_retention.as_secs_f64())
        .execute(&self.inner.pool)
        .await?
        .rows_affected();
        if deleted > 0 {
            tracing::debug!(deleted, "Purged done queue tasks.");
        }
        Ok(deleted)
    }

    /// Re-queues (or fails, when the budget is spent) every running step whose lease has expired. Returns
    /// how many steps it took over.
    pub async fn reap_expired_leases(&self) -> Result<usize> {
        let mut tx = self.inner.pool.begin().await?;
        let rows = sqlx::query(include_str!("queries/reap_expired.sql"))
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            let run_id: uuid::Uuid = row.get("run_id");
            let idx: i32 = row.get("idx");
            let attempts: i32 = row.get("attempts");
            let base: i32 = row.get("attempt_base");
            let name: String = row.get("name");
            let workflow: String = row.get("workflow");
            let run_status: String = row.get("run_status");
            let lost = format!("attempt {attempts} lost: its worker stopped renewing the lease");
            tracing::warn!(%run_id, step = %name, attempt = attempts, "Step lease expired; taking the step over.");
            sqlx::query(
                "UPDATE workflow_step_attempts SET status = 'lost', error = $4, finished_at = now()
                 WHERE run_id = $1 AND idx = $2 AND attempt = $3",
            )
            .bind(run_id)
            .bind(idx)
            .bind(attempts)
            .bind(&lost)
            .execute(&mut *tx)
            .await?;
            let max = self.retry_policy(&workflow, idx).max_attempts as i32;
            if run_status == "cancelled" {
                set_step(&mut tx, run_id, idx, "cancelled", Some(&lost), None).await?;
            } else if attempts - base >= max {
                set_step(&mut tx, run_id, idx, "failed", Some(&lost), None).await?;
                fail_run(
                    &mut tx,
                    run_id,
                    &format!("step '{name}' failed after {max} attempts: {lost}"),
                )
                .await?;
            } else {
                set_step(&mut tx, run_id, idx, "queued", Some(&lost), None).await?;
                let task = StepTask {
                    run_id,
                    step: idx as u32,
                    attempt: attempts as u32 + 1,
                };
                enqueue(&mut tx, &self.inner.config.queue, task, None).await?;
            }
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    fn retry_policy(&self, workflow: &str, idx: i32) -> RetryPolicy {
        self.inner
            .workflows
            .get(workflow)
            .and_then(|w| w.steps.get(idx as usize))
            .map(|s| s.retry.clone())
            .unwrap_or_default()
    }

    /// Runs one delivered task, and then the run's following steps for as long as they succeed and the
    /// process is not shutting down. `task_id` is the apalis task, acknowledged by the claim itself.
    ///
    /// Errors returned here are infrastructure errors (the database is unreachable). Before the claim
    /// commits they are retried here with a capped backoff: apalis keeps an unacknowledged task locked to
    /// this worker, and gives it to another worker only once this one stops heartbeating (which a
    /// shutdown does). After the claim, a step whose outcome cannot be recorded keeps its lease until it
    /// expires, and the reaper queues it again.
    async fn execute(
        &self,
        task: StepTask,
        task_id: &str,
        worker: &str,
        shutdown: &CancellationToken,
    ) -> Result<()> {
        let mut backoff = Duration::from_millis(100);
        let claimed = loop {
            match self.claim(task, task_id, worker).await {
                Ok(claimed) => break claimed,
                Err(error) if !shutdown.is_cancelled() => {
                    tracing::warn!(%error, run_id = %task.run_id, step = task.step, "Claiming a step failed; will try again.");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(error),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(error) => return Err(error),
            }
        };
        let Some(row) = claimed else {
            tracing::debug!(run_id = %task.run_id, step = task.step, attempt = task.attempt, "Stale delivery ignored.");
            return Ok(());
        };
        let mut attempt = Claimed::from_row(task, &row);
        loop {
            match self.run_claimed(attempt, worker, shutdown).await? {
                Some(next) => attempt = next,
                None => return Ok(()),
            }
        }
    }

    /// Claims the attempt a task asks for and acknowledges the task, in one statement; `None` when the
    /// delivery is stale.
    async fn claim(
        &self,
        task: StepTask,
        task_id: &str,
        worker: &str,
    ) -> Result<Option<sqlx::postgres::PgRow>> {
        Ok(sqlx::query(include_str!("queries/claim_step.sql"))
            .bind(task.run_id)
            .bind(task.step as i32)
            .bind(task.attempt as i32)
            .bind(worker)
            .bind(self.inner.config.lease.as_secs_f64())
            .bind(task_id)
            .fetch_optional(&self.inner.pool)
            .await?)
    }

    /// Runs one claimed attempt and records its outcome; returns the next step's attempt when this worker
    /// claimed it in the same transaction.
    async fn run_claimed(
        &self,
        claimed: Claimed,
        worker: &str,
        shutdown: &CancellationToken,
    ) -> Result<Option<Claimed>> {
        let Claimed {
            task,
            name,
            base,
            workflow: workflow_name,
            version,
            traceparent,
            input,
        } = claimed;
        let span = tracing::info_span!(
            "workflow.step",
            otel.name = %name,
            idem.workflow = %workflow_name,
            idem.run.id = %task.run_id,
            idem.step = %name,
            idem.step.attempt = task.attempt,
            idem.worker = %worker,
            otel.status_code = tracing::field::Empty,
        );
        if let Some(traceparent) = &traceparent {
            idem_otel::set_parent(&span, traceparent);
        }

        let step = self.inner.workflows.get(&workflow_name).and_then(|wf| {
            (wf.version == version)
                .then(|| wf.steps.get(task.step as usize))
                .flatten()
                .map(|s| (wf, s))
        });
        // The last step finishes the run (and its worker takes the next task of the queue).
        let last = step.is_some_and(|(wf, _)| task.step as usize + 1 == wf.steps.len());
        let outcome = match (step, input) {
            (Some((wf, step)), Some(input)) => {
                self.run_attempt(wf, step, task, worker, input)
                    .instrument(span.clone())
                    .await
            }
            (None, _) => Err(StepError::permanent(Error::Worker(format!(
                "workflow '{workflow_name}' version {version} step {} is not registered in this worker",
                task.step
            )))),
            (_, None) => Err(StepError::permanent(Error::Worker(
                "the previous step's output is missing".into(),
            ))),
        };
        match outcome {
            Ok(output) => {
                let next = self
                    .complete(task, last, worker, &output, !shutdown.is_cancelled())
                    .instrument(span)
                    .await?;
                Ok(next.map(|next| match next {
                    Next::SameRun { task, name, base } => Claimed {
                        task,
                        name,
                        base,
                        workflow: workflow_name,
                        version,
                        traceparent,
                        input: Some(output),
                    },
                    Next::Other(claimed) => claimed,
                }))
            }
            Err(error) => {
                let retry = self.retry_policy(&workflow_name, task.step as i32);
                self.fail(task, worker, &name, base, &retry, error)
                    .instrument(span)
                    .await?;
                Ok(None)
            }
        }
    }

    async fn run_attempt(
        &self,
        wf: &Arc<Workflow>,
        step: &Step,
        task: StepTask,
        worker: &str,
        input: Value,
    ) -> Result<Value, StepError> {
        let cancel = CancellationToken::new();
        let progress = Progress::default();
        let ctx = StepContext {
            run_id: task.run_id,
            workflow: wf.name.as_str().into(),
            step: step.name.as_str().into(),
            step_index: task.step,
            attempt: task.attempt,
            pool: self.inner.pool.clone(),
            cancel: cancel.clone(),
            progress: progress.clone(),
        };
        let heartbeat =
            tokio::spawn(
                self.clone()
                    .heartbeat(task, worker.to_owned(), progress, cancel.clone()),
            );
        tracing::info!("Step attempt started.");
        let result = (step.run)(ctx, input).await;
        heartbeat.abort();
        result
    }

    /// Renews the lease and writes progress until aborted; cancels the step when the run was cancelled or
    /// the lease was lost.
    async fn heartbeat(
        self,
        task: StepTask,
        worker: String,
        progress: Progress,
        cancel: CancellationToken,
    ) {
        let config = &self.inner.config;
        let mut tick = tokio::time::interval(config.heartbeat_interval());
        tick.tick().await;
        loop {
            tick.tick().await;
            let p = progress.snapshot();
            let renewed = sqlx::query_scalar::<_, String>(include_str!("queries/heartbeat.sql"))
                .bind(task.run_id)
                .bind(task.step as i32)
                .bind(task.attempt as i32)
                .bind(&worker)
                .bind(config.lease.as_secs_f64())
                .bind(p.done)
                .bind(p.total)
                .bind(&p.label)
                .fetch_optional(&self.inner.pool)
                .await;
            match renewed {
                Ok(Some(status)) if status == "cancelled" => cancel.cancel(),
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::warn!("Step lease lost; stopping this attempt.");
                    cancel.cancel();
                    return;
                }
                Err(error) => tracing::warn!(%error, "Heartbeat failed; will try again."),
            }
        }
    }

    /// The success path, the hot one: one statement records the checkpoint and claims (or queues) the next
    /// step, or, after the last step, finishes the run and claims the next due task of the queue, so a busy
    /// worker commits once per step. That one statement is atomic without a transaction around it (which
    /// would cost two more round trips); a queued step's task is inserted in a transaction with it.
    async fn complete(
        &self,
        task: StepTask,
        last: bool,
        worker: &str,
        output: &Value,
        continue_here: bool,
    ) -> Result<Option<Next>> {
        let sql = if last {
            include_str!("queries/finish_run.sql")
        } else {
            include_str!("queries/complete_step.sql")
        };
        let query = sqlx::query(sql)
            .bind(task.run_id)
            .bind(task.step as i32)
            .bind(task.attempt as i32)
            .bind(worker)
            .bind(output)
            .bind(continue_here)
            .bind(self.inner.config.lease.as_secs_f64());
        if last {
            let row = query
                .bind(&self.inner.config.queue)
                .fetch_one(&self.inner.pool)
                .await?;
            if !owned(&row) {
                return Ok(None);
            }
            tracing::info!("Step attempt succeeded; run finished.");
            return Ok(row.get::<Option<uuid::Uuid>, _>("run_id").map(|run_id| {
                let claimed = StepTask {
                    run_id,
                    step: row.get::<i32, _>("idx") as u32,
                    attempt: row.get::<i32, _>("attempt") as u32,
                };
                Next::Other(Claimed::from_row(claimed, &row))
            }));
        }
        if continue_here {
            let row = query.fetch_one(&self.inner.pool).await?;
            if !owned(&row) {
                return Ok(None);
            }
            tracing::info!("Step attempt succeeded.");
            return Ok(row
                .get::<Option<i32>, _>("next_attempts")
                .map(|attempts| Next::SameRun {
                    task: StepTask {
                        run_id: task.run_id,
                        step: task.step + 1,
                        attempt: attempts as u32,
                    },
                    name: row.get("next_name"),
                    base: row.get("next_base"),
                }));
        }
        let mut tx = self.inner.pool.begin().await?;
        let row = query.fetch_one(&mut *tx).await?;
        if !owned(&row) {
            return Ok(None);
        }
        tracing::info!("Step attempt succeeded.");
        if let Some(attempts) = row.get::<Option<i32>, _>("next_attempts") {
            let queued = StepTask {
                run_id: task.run_id,
                step: task.step + 1,
                attempt: attempts as u32 + 1,
            };
            enqueue(&mut tx, &self.inner.config.queue, queued, None).await?;
        }
        tx.commit().await?;
        Ok(None)
    }

    /// The failure path: cancelled, retry after a backoff, or fail the run.
    async fn fail(
        &self,
        task: StepTask,
        worker: &str,
        name: &str,
        base: i32,
        retry: &RetryPolicy,
        error: StepError,
    ) -> Result<()> {
        let run_id = task.run_id;
        let idx = task.step as i32;
        let attempt = task.attempt as i32;
        let mut tx = self.inner.pool.begin().await?;
        let run_status: Option<String> =
            sqlx::query_scalar("SELECT status FROM workflow_runs WHERE id = $1 FOR UPDATE")
                .bind(run_id)
                .fetch_optional(&mut *tx)
                .await?;
        // Still ours? A reaper may have taken the step over while this attempt ran without its lease.
        let owned: Option<i32> = sqlx::query_scalar(
            "SELECT idx FROM workflow_steps WHERE run_id = $1 AND idx = $2 AND attempts = $3
             AND lease_owner = $4 AND status = 'running' FOR UPDATE",
        )
        .bind(run_id)
        .bind(idx)
        .bind(attempt)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        if owned.is_none() {
            tracing::warn!("Attempt finished after losing its lease; its outcome is discarded.");
            return Ok(());
        }
        let message = error.to_string();
        tracing::Span::current().record("otel.status_code", "ERROR");
        let attempt_status = if run_status.as_deref() == Some("cancelled") {
            set_step(&mut tx, run_id, idx, "cancelled", Some(&message), None).await?;
            tracing::info!(error = %message, "Step attempt ended by cancellation.");
            "cancelled"
        } else if error.is_retryable() && attempt - base < retry.max_attempts as i32 {
            let delay = retry.backoff((attempt - base) as u32);
            set_step(&mut tx, run_id, idx, "queued", Some(&message), Some(delay)).await?;
            let next = StepTask {
                run_id,
                step: task.step,
                attempt: task.attempt + 1,
            };
            enqueue(&mut tx, &self.inner.config.queue, next, Some(delay)).await?;
            tracing::warn!(error = %message, delay_ms = delay.as_millis() as u64, "Step failed; will retry.");
            "retrying"
        } else {
            set_step(&mut tx, run_id, idx, "failed", Some(&message), None).await?;
            let why = if error.is_retryable() {
                format!(
                    "step '{name}' failed after {} attempts: {message}",
                    retry.max_attempts
                )
            } else {
                format!("step '{name}' failed: {message}")
            };
            fail_run(&mut tx, run_id, &why).await?;
            tracing::error!(error = %message, "Step failed; run failed.");
            "failed"
        };
        sqlx::query(
            "UPDATE workflow_step_attempts SET status = $4, error = $5, finished_at = now()
             WHERE run_id = $1 AND idx = $2 AND attempt = $3",
        )
        .bind(run_id)
        .bind(idx)
        .bind(attempt)
        .bind(attempt_status)
        .bind(&message)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn set_step(
    conn: &mut sqlx::PgConnection,
    run_id: uuid::Uuid,
    idx: i32,
    status: &str,
    error: Option<&str>,
    delay: Option<Duration>,
) -> Result<()> {
    sqlx::query(
        "UPDATE workflow_steps SET status = $3, last_error = COALESCE($4, last_error), lease_owner = NULL,
         lease_expires_at = NULL, updated_at = now(),
         next_attempt_at = CASE WHEN $3 = 'queued' THEN now() + make_interval(secs => $5) END,
         finished_at = CASE WHEN $3 IN ('failed', 'cancelled') THEN now() END
         WHERE run_id = $1 AND idx = $2",
    )
    .bind(run_id)
    .bind(idx)
    .bind(status)
    .bind(error)
    .bind(delay.unwrap_or_default().as_secs_f64())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn fail_run(conn: &mut sqlx::PgConnection, run_id: uuid::Uuid, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE workflow_runs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(run_id)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the apalis handler needs: the engine, and the process's shutdown signal (after which a worker
/// finishes its current step but claims no further one).
#[derive(Clone)]
struct WorkerData {
    engine: Engine,
    shutdown: CancellationToken,
}

/// What a worker runs after a step succeeded: the run's next step, or, after the run's last step, the step
/// of the queue task it took.
enum Next {
    SameRun {
        task: StepTask,
        name: String,
        base: i32,
    },
    Other(Claimed),
}

/// A claimed step attempt, ready to run.
struct Claimed {
    task: StepTask,
    name: String,
    base: i32,
    workflow: String,
    version: i32,
    traceparent: Option<String>,
    input: Option<Value>,
}

impl Claimed {
    /// The claimed attempt `task` from a claiming statement's row (`claim_step.sql`, or the claim of
    /// `finish_run.sql`, which names its columns the same).
    fn from_row(task: StepTask, row: &sqlx::postgres::PgRow) -> Self {
        Self {
            task,
            name: row.get("name"),
            base: row.get("attempt_base"),
            workflow: row.get("workflow"),
            version: row.get("workflow_version"),
            traceparent: row.get("traceparent"),
            input: row.get("input"),
        }
    }
}

/// Whether a completing statement's attempt still held its lease (`owned`); logs when it did not.
fn owned(row: &sqlx::postgres::PgRow) -> bool {
    let owned = row.get::<bool, _>("owned");
    if !owned {
        tracing::warn!("Attempt finished after losing its lease; its outcome is discarded.");
    }
    owned
}

/// The apalis handler. The claim acknowledges the task (apalis's own acknowledgement, a transaction of its
/// own per batch, is off); an error returned here is an infrastructure error, logged.
async fn handle_task(
    task: StepTask,
    task_id: TaskId,
    data: Data<WorkerData>,
    worker: apalis::prelude::WorkerContext,
) -> Result<(), BoxDynError> {
    let task_id = task_id.to_string();
    data.engine.execute(task, &task_id, worker.name(), &data.shutdown).await.map_err(|e| {
        tracing::error!(error = %e, run_id = %task.run_id, step = task.step, "Step task failed to run.");
        Box::new(e) as BoxDynError
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned())
}
