//! What a running step gets: its identity, the database pool, a cancellation signal and a progress
//! reporter.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The context of one step attempt.
#[derive(Clone, Debug)]
pub struct StepContext {
    pub(crate) run_id: Uuid,
    pub(crate) workflow: Arc<str>,
    pub(crate) step: Arc<str>,
    pub(crate) step_index: u32,
    pub(crate) attempt: u32,
    pub(crate) pool: PgPool,
    pub(crate) cancel: CancellationToken,
    pub(crate) progress: Progress,
}

impl StepContext {
    /// The run.
    pub fn run_id(&self) -> Uuid {
        self.run_id
    }
    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }
    /// The step's name.
    pub fn step(&self) -> &str {
        &self.step
    }
    /// The step's position (0-based).
    pub fn step_index(&self) -> u32 {
        self.step_index
    }
    /// This attempt's number (1-based, counted over the whole life of the run).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
    /// Whether the run was cancelled or this attempt lost its lease: stop as soon as it is safe.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
    /// Resolves when the run is cancelled or this attempt lost its lease.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }
    /// The progress reporter; what it holds is written to the step's row by the heartbeat.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }
}

/// Progress of a step in units of work (`done` of `total`) with a label; cheap to update from hot loops.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    inner: Arc<ProgressInner>,
}

#[derive(Debug, Default)]
struct ProgressInner {
    done: AtomicU64,
    total: AtomicU64,
    has_total: AtomicBool,
    label: Mutex<Option<String>>,
}

/// A snapshot of [`Progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgressSnapshot {
    pub(crate) done: i64,
    pub(crate) total: Option<i64>,
    pub(crate) label: Option<String>,
}

impl Progress {
    /// Starts a phase: resets `done`, sets the total (if known) and the label.
    pub fn start(&self, label: impl Into<String>, total: Option<u64>) {
        *self.inner.label.lock().unwrap_or_else(|e| e.into_inner()) = Some(label.into());
        self.inner
            .total
            .store(total.unwrap_or(0), Ordering::Relaxed);
        self.inner
            .has_total
            .store(total.is_some(), Ordering::Relaxed);
        self.inner.done.store(0, Ordering::Relaxed);
    }
    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        self.inner.done.fetch_add(n, Ordering::Relaxed);
    }
    /// Sets the units done.
    pub fn set(&self, done: u64) {
        self.inner.done.store(done, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self) -> ProgressSnapshot {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        ProgressSnapshot {
            done: clamp(self.inner.done.load(Ordering::Relaxed)),
            total: self
                .inner
                .has_total
                .load(Ordering::Relaxed)
                .then(|| clamp(self.inner.total.load(Ordering::Relaxed))),
            label: self
                .inner
                .label
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
