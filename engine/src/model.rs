//! What the engine reports about runs: the shapes the API serialises.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, no step has run yet.
    Pending,
    /// A step is queued or running.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed permanently or exhausted its retries; can be resumed.
    Failed,
    /// Cancelled; can be resumed.
    Cancelled,
}

impl RunStatus {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored or requested status.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    /// Whether the run will change no more unless resumed.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A run as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RunSummary {
    /// Run id.
    pub id: Uuid,
    /// Workflow name.
    pub workflow: String,
    /// Workflow version the run was started with.
    pub workflow_version: i32,
    /// Status (see [`RunStatus`]).
    pub status: String,
    /// The error that failed the run.
    pub error: Option<String>,
    /// The idempotency key it was started with.
    pub idempotency_key: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When its first step began.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a terminal status.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A run with its input, output and steps.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// The run's input.
    pub input: Value,
    /// The last step's output, once the run succeeded.
    pub output: Option<Value>,
    /// The stored W3C traceparent of the run span.
    pub traceparent: Option<String>,
    /// Its steps, in order.
    pub steps: Vec<StepView>,
}

/// One step of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// Position (0-based).
    pub index: i32,
    /// Name.
    pub name: String,
    /// `pending`, `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts started.
    pub attempts: i32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it succeeded or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// When a delayed retry is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Wall time from first start to finish, in seconds.
    pub duration_seconds: Option<f64>,
    /// Progress of the current or last attempt.
    pub progress: Option<ProgressView>,
    /// The step's output (its checkpoint).
    pub output: Option<Value>,
    /// Every attempt.
    pub attempt_list: Vec<AttemptView>,
}

/// Progress of a step.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressView {
    /// Units done.
    pub done: i64,
    /// Units in all, when known.
    pub total: Option<i64>,
    /// What is being counted.
    pub label: Option<String>,
}

/// One attempt of a step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptView {
    /// Attempt number (1-based).
    pub attempt: i32,
    /// The worker that ran it.
    pub worker: String,
    /// `running`, `succeeded`, `retrying`, `failed`, `lost` or `cancelled`.
    pub status: String,
    /// Its error.
    pub error: Option<String>,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The outcome of [`crate::Engine::start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Started {
    /// The run.
    pub run_id: Uuid,
    /// False when the idempotency key named an existing run, which is returned instead.
    pub created: bool,
}

/// Options of [`crate::Engine::start`].
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Starting twice with the same key returns the first run.
    pub idempotency_key: Option<String>,
}

/// Filter and page of [`crate::Engine::list_runs`].
#[derive(Debug, Clone)]
pub struct RunFilter {
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// 1-based page.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
}

/// A page of runs.
#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    /// The runs, newest first.
    pub runs: Vec<RunSummary>,
    /// Runs matching the filter in all.
    pub total_count: i64,
}
