//! The engine handle: register workflows, start, resume, cancel and read runs.

use std::collections::HashMap;
use std::sync::Arc;

use apalis_core::task::builder::TaskBuilder;
use apalis_postgres::PgTask;
use apalis_postgres::queries::push_tasks;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool, Row};
use tracing::Instrument;
use uuid::Uuid;

use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::model::{
    AttemptView, ProgressView, RunDetail, RunFilter, RunPage, RunStatus, RunSummary, StartOptions,
    Started, StepView,
};
use crate::workflow::Workflow;

/// The queue payload: "run attempt `attempt` of step `step` of run `run_id`". It carries no state: the
/// step's row says whether this delivery is current.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct StepTask {
    pub(crate) run_id: Uuid,
    pub(crate) step: u32,
    pub(crate) attempt: u32,
}

/// The durable workflow engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) config: EngineConfig,
    pub(crate) workflows: HashMap<String, Arc<Workflow>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .field(
                "workflows",
                &self.inner.workflows.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Engine {
    /// An engine over `pool` (whose database `idem_migrations::migrate` has set up) running `workflows`.
    pub fn new(pool: PgPool, config: EngineConfig, workflows: Vec<Workflow>) -> Self {
        let workflows = workflows
            .into_iter()
            .map(|w| (w.name.clone(), Arc::new(w)))
            .collect();
        Self {
            inner: Arc::new(Inner {
                pool,
                config,
                workflows,
            }),
        }
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// A registered workflow.
    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.inner.workflows.get(name).map(|w| w.as_ref())
    }

    /// Starts a run of `workflow` with `input`. The run gets a span of its own, a child of the current
    /// span; its traceparent is stored so that every step attempt is a child of it.
    ///
    /// With an idempotency key that an earlier run already has, that run is returned (`created: false`) and
    /// nothing is started.
    pub async fn start(
        &self,
        workflow: &str,
        input: &impl Serialize,
        options: StartOptions,
    ) -> Result<Started> {
        let mut tx = self.inner.pool.begin().await?;
        let started = self.start_in(&mut tx, workflow, input, options).await?;
        tx.commit().await?;
        Ok(started)
    }

    /// Like [`Engine::start`], inside the caller's transaction: the run exists (and its first step is
    /// queued) exactly when the caller commits, so a domain row that points at the run (an import job) is
    /// never left without it. With an existing idempotency key nothing is written.
    pub async fn start_in(
        &self,
        tx: &mut PgConnection,
        workflow: &str,
        input: &impl Serialize,
        options: StartOptions,
    ) -> Result<Started> {
        let wf = self
            .inner
            .workflows
            .get(workflow)
            .ok_or_else(|| Error::UnknownWorkflow(workflow.to_owned()))?;
        let run_id = Uuid::new_v4();
        let span = tracing::info_span!(
            "workflow.run",
            otel.name = %format!("run {workflow}"),
            idem.workflow = %workflow,
            idem.run.id = %run_id,
        );
        let traceparent = idem_otel::traceparent(&span);
        let input = serde_json::to_value(input)?;
        async move {
            let inserted = sqlx::query(
                "INSERT INTO workflow_runs (id, workflow, workflow_version, input, idempotency_key, traceparent)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(run_id)
            .bind(&wf.name)
            .bind(wf.version)
            .bind(&input)
            .bind(&options.idempotency_key)
            .bind(&traceparent)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                let existing: Uuid =
                    sqlx::query_scalar("SELECT id FROM workflow_runs WHERE idempotency_key = $1")
                        .bind(&options.idempotency_key)
                        .fetch_one(&mut *tx)
                        .await?;
                tracing::info!(run_id = %existing, "Idempotency key names an existing run.");
                return Ok(Started { run_id: existing, created: false });
            }
            let names: Vec<&str> = wf.step_names();
            let indexes: Vec<i32> = (0..names.len() as i32).collect();
            sqlx::query(
                "INSERT INTO workflow_steps (run_id, idx, name, status, next_attempt_at)
                 SELECT $1, i, n, CASE WHEN i = 0 THEN 'queued' ELSE 'pending' END,
                        CASE WHEN i = 0 THEN now() END
                 FROM unnest($2::int[], $3::text[]) AS t(i, n)",
            )
            .bind(run_id)
            .bind(&indexes)
            .bind(&names)
            .execute(&mut *tx)
            .await?;
            if names.is_empty() {
                sqlx::query(
                    "UPDATE workflow_runs SET status = 'succeeded', output = input, started_at = now(),
                     finished_at = now() WHERE id = $1",
                )
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
            } else {
                enqueue(tx, &self.inner.config.queue, StepTask { run_id, step: 0, attempt: 1 }, None)
                    .await?;
            }
            tracing::info!("Run started.");
            Ok(Started { run_id, created: true })
        }
        .instrument(span)
        .await
    }

    /// Resumes a failed or cancelled run at its first step that has not succeeded; the outputs of the
    /// steps before it are kept and those steps are not run again. The step gets a fresh retry budget.
    pub async fn resume(&self, run_id: Uuid) -> Result<()> {
        let mut tx = self.inner.pool.begin().await?;
        let status = lock_run(&mut tx, run_id).await?;
        if !matches!(status, RunStatus::Failed | RunStatus::Cancelled) {
            return Err(Error::InvalidState {
                run_id,
                status: status.as_str().into(),
                action: "resume",
            });
        }
        let next = sqlx::query(
            "SELECT idx, status, attempts FROM workflow_steps
             WHERE run_id = $1 AND status <> 'succeeded' ORDER BY idx LIMIT 1 FOR UPDATE",
        )
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(next) = next else {
            // Cancelled after its last step succeeded: nothing is left to run.
            sqlx::query(
                "UPDATE workflow_runs SET status = 'succeeded', error = NULL, finished_at = now(), updated_at = now(),
                 output = (SELECT output FROM workflow_steps WHERE run_id = $1 ORDER BY idx DESC LIMIT 1)
                 WHERE id = $1",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(());
        };
        let idx: i32 = next.get("idx");
        let step_status: String = next.get("status");
        let attempts: i32 = next.get("attempts");
        if step_status == "running" {
            // A cancelled run whose step has not stopped yet: its worker still holds the lease.
            return Err(Error::InvalidState {
                run_id,
                status: "stopping".into(),
                action: "resume",
            });
        }
        sqlx::query(
            "UPDATE workflow_steps SET status = 'queued', attempt_base = attempts, next_attempt_at = now(),
             finished_at = NULL, updated_at = now() WHERE run_id = $1 AND idx = $2",
        )
        .bind(run_id)
        .bind(idx)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE workflow_runs SET status = 'running', error = NULL, finished_at = NULL, updated_at = now()
             WHERE id = $1",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        let task = StepTask {
            run_id,
            step: idx as u32,
            attempt: attempts as u32 + 1,
        };
        enqueue(&mut tx, &self.inner.config.queue, task, None).await?;
        tx.commit().await?;
        tracing::info!(%run_id, step = idx, "Run resumed.");
        Ok(())
    }

    /// Cancels a pending or running run: queued and pending steps never start; a running step is told
    /// through its context and its result is kept as a checkpoint if it finishes.
    pub async fn cancel(&self, run_id: Uuid) -> Result<()> {
        let mut tx = self.inner.pool.begin().await?;
        let status = lock_run(&mut tx, run_id).await?;
        if status.is_terminal() {
            return Err(Error::InvalidState {
                run_id,
                status: status.as_str().into(),
                action: "cancel",
            });
        }
        sqlx::query(
            "UPDATE workflow_runs SET status = 'cancelled', finished_at = now(), updated_at = now(),
             error = 'cancelled' WHERE id = $1",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE workflow_steps SET status = 'cancelled', next_attempt_at = NULL, updated_at = now()
             WHERE run_id = $1 AND status = 'queued'",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(%run_id, "Run cancelled.");
        Ok(())
    }

    /// A run with its steps and attempts, or `None`.
    pub async fn get_run(&self, run_id: Uuid) -> Result<Option<RunDetail>> {
        let pool = &self.inner.pool;
        let Some(row) = sqlx::query(
            "SELECT id, workflow, workflow_version, status, error, idempotency_key, created_at, started_at,
                    finished_at, input, output, traceparent
             FROM workflow_runs WHERE id = $1",
        )
        .bind(run_id)
        .fetch_optional(pool)
        .await?
        else {
            return Ok(None);
        };
        let summary = RunSummary::from_row(&row)?;
        let steps = sqlx::query(include_str!("queries/get_run_steps.sql"))
            .bind(run_id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(step_view)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RunDetail {
            summary,
            input: row.get("input"),
            output: row.get("output"),
            traceparent: row.get("traceparent"),
            steps,
        }))
    }

    /// A page of runs, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<RunPage> {
        let pool = &self.inner.pool;
        let limit = i64::from(filter.page_size.max(1));
        let offset = i64::from(filter.page.max(1) - 1) * limit;
        let status = filter.status.map(RunStatus::as_str);
        let rows = sqlx::query(include_str!("queries/list_runs.sql"))
            .bind(&filter.workflow)
            .bind(status)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total_count = match rows.first() {
            Some(row) => row.get("total_count"),
            None => {
                sqlx::query_scalar(
                    "SELECT count(*) FROM workflow_runs
                     WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text IS NULL OR status = $2)",
                )
                .bind(&filter.workflow)
                .bind(status)
                .fetch_one(pool)
                .await?
            }
        };
        let runs = rows
            .iter()
            .map(RunSummary::from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(RunPage { runs, total_count })
    }

    /// The status of a run, or `None` if there is no such run.
    pub async fn run_status(&self, run_id: Uuid) -> Result<Option<RunStatus>> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM workflow_runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(&self.inner.pool)
                .await?;
        Ok(status.as_deref().and_then(RunStatus::parse))
    }
}

fn step_view(row: sqlx::postgres::PgRow) -> Result<StepView> {
    let started_at: Option<chrono::DateTime<chrono::Utc>> = row.try_get("started_at")?;
    let finished_at: Option<chrono::DateTime<chrono::Utc>> = row.try_get("finished_at")?;
    let done: Option<i64> = row.try_get("progress_done")?;
    let attempts: Value = row.try_get("attempt_list")?;
    Ok(StepView {
        index: row.try_get("idx")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        started_at,
        finished_at,
        next_attempt_at: row.try_get("next_attempt_at")?,
        duration_seconds: started_at
            .zip(finished_at)
            .map(|(s, f)| (f - s).num_microseconds().unwrap_or(0) as f64 / 1e6),
        progress: done.map(|done| ProgressView {
            done,
            total: row.get("progress_total"),
            label: row.get("progress_label"),
        }),
        output: row.try_get("output")?,
        attempt_list: serde_json::from_value::<Vec<AttemptView>>(attempts)?,
    })
}

async fn lock_run(conn: &mut PgConnection, run_id: Uuid) -> Result<RunStatus> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM workflow_runs WHERE id = $1 FOR UPDATE")
            .bind(run_id)
            .fetch_optional(&mut *conn)
            .await?;
    let status = status.ok_or(Error::RunNotFound(run_id))?;
    RunStatus::parse(&status).ok_or_else(|| Error::Worker(format!("unknown run status '{status}'")))
}

/// Puts a step task on the queue inside the caller's transaction, so the state change that calls for the
/// task and the task itself commit together (apalis's own workflows enqueue the next step before they
/// acknowledge the current one; here there is no window in which one exists without the other).
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    queue: &str,
    task: StepTask,
    delay: Option<std::time::Duration>,
) -> Result<()> {
    let mut builder = TaskBuilder::new(serde_json::to_vec(&task)?);
    if let Some(delay) = delay {
        // apalis stores `run_at` in whole seconds: round up, so a retry never runs before its backoff.
        let due = std::time::SystemTime::now() + delay;
        let secs = due
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        builder = builder.run_at_timestamp(secs.as_secs() + u64::from(secs.subsec_nanos() > 0));
    }
    let task: PgTask = builder.build();
    push_tasks(conn, queue, vec![task]).await?;
    Ok(())
}
