//! The error type of the EMPI store.

use crate::ids::IdError;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the EMPI store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query failed (including constraint violations, which keep their constraint name).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A malformed public id.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A config that must not be stored (the database would refuse it too).
    #[error("invalid config: {0}")]
    InvalidConfig(&'static str),
    /// A job's staged rows or results are not all there (the unlogged staging tables are emptied
    /// when the database server recovers from a crash); nothing was written. The step that staged
    /// them must run again.
    #[error(
        "{found} of the job's {expected} staged {what} are left (the database server restarted after a crash?)"
    )]
    StagingLost {
        /// `rows` or `results`.
        what: &'static str,
        /// How many the step that staged them staged.
        expected: i64,
        /// How many are there.
        found: i64,
    },
    /// A rule of the data model would break; nothing was written.
    #[error("integrity check failed: {0}")]
    Invariant(String),
}
