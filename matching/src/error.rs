//! Error types of the crate: settings validation, evaluation, registry and I/O failures.

use std::fmt;
use std::path::PathBuf;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `idem-matching`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings JSON (or a condition in it) is invalid.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// Evaluating a condition failed for some pair (e.g. `hamming` of unequal lengths).
    #[error("evaluation failed: {0}")]
    Eval(#[from] EvalError),
    /// Registering a function failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing CSV failed.
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    /// The input records are unusable (missing header column, unordered ids, ...).
    #[error("invalid input: {0}")]
    Input(String),
}

/// One settings problem, located by its JSON path (e.g.
/// `comparisons[1].comparison_levels[2].m_probability`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON path of the offending value.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl ValidationError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// All problems found in a settings document (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The individual problems, in document order.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    /// Whether some problem is reported at exactly `path` with a message containing `needle`.
    pub fn contains(&self, path: &str, needle: &str) -> bool {
        self.0
            .iter()
            .any(|e| e.path == path && e.message.contains(needle))
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid settings ({} problem(s))", self.0.len())?;
        for e in &self.0 {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

/// An error returned by a function implementation (built-in or plugin).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FunctionError {
    /// Human-readable reason, e.g. "strings must be of equal length".
    pub message: String,
}

impl FunctionError {
    /// Creates an error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A runtime failure while evaluating a compiled expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A named function failed.
    #[error("function {function}: {source}")]
    Function {
        /// The function's name as registered.
        function: String,
        /// The function's own error.
        #[source]
        source: FunctionError,
    },
    /// A CAST or implicit conversion failed.
    #[error("conversion error: {0}")]
    Conversion(String),
    /// Operand types do not fit the operator.
    #[error("type error: {0}")]
    Type(String),
    /// Integer arithmetic overflowed.
    #[error("integer overflow in {0}")]
    Overflow(&'static str),
}

impl From<Box<EvalError>> for EvalError {
    fn from(e: Box<EvalError>) -> Self {
        *e
    }
}

/// Registering a function in a [`crate::FunctionRegistry`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A function (or alias) with this name already exists.
    #[error("function '{0}' is already registered")]
    NameClash(String),
    /// The definition is inconsistent (e.g. empty name, arity range reversed).
    #[error("invalid function definition '{name}': {reason}")]
    Invalid {
        /// The function name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}
