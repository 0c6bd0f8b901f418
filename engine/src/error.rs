//! The engine's errors, and the classification of step failures (retryable or permanent) in one place.

use std::fmt;

use uuid::Uuid;

/// A boxed error from a step or from a library it calls.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the engine's own operations (start, resume, cancel, reads, the worker loop).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The queue (apalis) failed.
    #[error("queue error: {0}")]
    Queue(#[from] apalis_postgres::Error),
    /// A value could not be (de)serialised as JSON.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// No workflow of that name is registered in this process.
    #[error("unknown workflow '{0}'")]
    UnknownWorkflow(String),
    /// No run has that id.
    #[error("run {0} not found")]
    RunNotFound(Uuid),
    /// The run's status does not allow the operation (e.g. resuming a succeeded run).
    #[error("cannot {action} run {run_id}: it is {status}")]
    InvalidState {
        /// The run.
        run_id: Uuid,
        /// Its current status.
        status: String,
        /// What was asked (`resume`, `cancel`).
        action: &'static str,
    },
    /// A worker could not run.
    #[error("worker error: {0}")]
    Worker(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a step failed: the engine retries a retryable failure (with backoff, within the step's budget) and
/// fails the run on a permanent one.
#[derive(Debug)]
pub struct StepError {
    retryable: bool,
    source: BoxError,
}

impl StepError {
    /// A transient failure (I/O, a timed-out pool, an unavailable service): try again later.
    pub fn retryable(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: true,
            source: source.into(),
        }
    }

    /// A failure that another attempt cannot fix (bad input, a violated invariant): fail the run. After the
    /// cause is fixed, the run can be resumed from this step.
    pub fn permanent(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: false,
            source: source.into(),
        }
    }

    /// Whether the engine may retry the step.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The underlying error.
    pub fn source_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.source.as_ref()
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain: the step's error is what an operator reads in the run's status.
        write!(f, "{}", self.source)?;
        let mut next = self.source.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Database errors are retryable when they are about reaching the database, not about the statement.
impl From<sqlx::Error> for StepError {
    fn from(error: sqlx::Error) -> Self {
        let retryable = matches!(
            error,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
        ) || matches!(&error, sqlx::Error::Database(e)
                // serialization_failure, deadlock_detected, admin shutdown, cannot connect now
                if matches!(e.code().as_deref(), Some("40001" | "40P01" | "57P01" | "57P03")));
        Self {
            retryable,
            source: Box::new(error),
        }
    }
}

impl From<std::io::Error> for StepError {
    fn from(error: std::io::Error) -> Self {
        Self::retryable(error)
    }
}

impl From<serde_json::Error> for StepError {
    fn from(error: serde_json::Error) -> Self {
        Self::permanent(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_database_errors() {
        assert!(StepError::from(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!StepError::from(sqlx::Error::RowNotFound).is_retryable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(StepError::from(io).is_retryable());
    }

    #[test]
    fn display_includes_the_cause_chain() {
        let inner = std::io::Error::other("disk full");
        let outer = StepError::permanent(Error::Worker(format!("writing spool: {inner}")));
        assert_eq!(outer.to_string(), "worker error: writing spool: disk full");
    }
}
