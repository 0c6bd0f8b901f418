//! The error type of the EMPI workflows and its one classification into retryable and permanent step
//! failures.

use idem_engine::StepError;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an EMPI workflow step can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The workflow engine failed.
    #[error(transparent)]
    Engine(#[from] idem_engine::Error),
    /// The EMPI store failed.
    #[error(transparent)]
    Empi(#[from] idem_empi::Error),
    /// Reading or writing a local file, a spool or a stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Object storage (S3) failed in a way that may pass (network, throttling, 5xx).
    #[error("{0}")]
    StorageTransient(String),
    /// The source does not exist or cannot be read (missing object, no permission, bad URI).
    #[error("{0}")]
    Source(String),
    /// The input file is malformed: a bad header, a bad row (with its line), bad encoding.
    #[error("{0}")]
    Input(String),
    /// The config cannot be used for scoring (it validated when stored, so this is a plugin that is
    /// no longer loaded, for example).
    #[error("the config cannot be used: {0}")]
    Config(String),
    /// Scoring or the match graph failed.
    #[error("matching failed: {0}")]
    Matching(String),
    /// The job a step works on is not in a state that allows the step.
    #[error("{0}")]
    State(String),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether running the step again may succeed: lost connections, pool timeouts, transient
    /// storage errors and serialization failures are retried; bad input, a missing source, a bad
    /// config or a broken invariant fail the run at once (it can be resumed after a fix).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Database(e) | Error::Empi(idem_empi::Error::Database(e)) => db_retryable(e),
            Error::Io { .. } | Error::StorageTransient(_) => true,
            Error::Engine(_)
            | Error::Empi(_)
            | Error::Source(_)
            | Error::Input(_)
            | Error::Config(_)
            | Error::Matching(_)
            | Error::State(_) => false,
        }
    }
}

fn db_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            // serialization_failure, deadlock_detected, admin/crash shutdown, cannot_connect_now
            Some("40001" | "40P01" | "57P01" | "57P02" | "57P03")
        ),
        _ => false,
    }
}

impl From<Error> for StepError {
    fn from(error: Error) -> Self {
        if error.is_retryable() {
            StepError::retryable(error)
        } else {
            StepError::permanent(error)
        }
    }
}
