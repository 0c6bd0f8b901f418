//! Workflow definitions: a named, versioned, ordered list of named steps, each with its retry policy.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::StepContext;
use crate::error::StepError;

/// How often, and how patiently, a step is retried after a retryable failure.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included) before the run fails.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_backoff: Duration,
    /// Upper bound of a delay.
    pub max_backoff: Duration,
    /// Growth of the delay per attempt.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `failed_attempt + 1`: exponential in the number of failures, capped, with
    /// "equal jitter" (between half and all of the exponential delay) so that steps failing together do not
    /// retry together.
    pub fn backoff(&self, failed_attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(failed_attempt.saturating_sub(1).min(60) as i32);
        let full = self.initial_backoff.mul_f64(exp).min(self.max_backoff);
        full.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

type StepFn =
    dyn Fn(StepContext, Value) -> BoxFuture<'static, Result<Value, StepError>> + Send + Sync;

/// One step of a workflow.
pub(crate) struct Step {
    pub(crate) name: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) run: Arc<StepFn>,
}

/// A workflow: its steps run in order; each step's input is the previous step's output (the run's input
/// for the first step), and the last step's output is the run's output.
///
/// # The step contract
/// A step may run more than once for the same run: after a retryable error, after its worker died
/// (the lease expired), or after a resume. So a step must be **idempotent**: running it twice leaves the same
/// state as running it once. The usual ways: write effects keyed by the run id with upserts; or commit the
/// effect in a transaction that also records that it was done, and check that record first; or write to a
/// location named after the run and replace it. A step must also not assume it is the only attempt alive:
/// a step whose lease was lost is told so through [`StepContext::cancelled`] and must stop soon.
pub struct Workflow {
    pub(crate) name: String,
    pub(crate) version: i32,
    pub(crate) steps: Vec<Step>,
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("steps", &self.step_names())
            .finish()
    }
}

impl Workflow {
    /// A workflow with no steps yet.
    pub fn new(name: impl Into<String>, version: i32) -> Self {
        Self {
            name: name.into(),
            version,
            steps: Vec::new(),
        }
    }

    /// Appends a step with the default retry policy.
    pub fn step<I, O, F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(StepContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, StepError>> + Send + 'static,
    {
        self.step_with(name, RetryPolicy::default(), f)
    }

    /// Appends a step with its own retry policy.
    pub fn step_with<I, O, F, Fut>(
        mut self,
        name: impl Into<String>,
        retry: RetryPolicy,
        f: F,
    ) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(StepContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, StepError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let run: Arc<StepFn> = Arc::new(move |ctx: StepContext, input: Value| {
            let f = Arc::clone(&f);
            Box::pin(async move {
                let input: I = serde_json::from_value(input).map_err(StepError::permanent)?;
                let output = f(ctx, input).await?;
                serde_json::to_value(output).map_err(StepError::permanent)
            })
        });
        self.steps.push(Step {
            name: name.into(),
            retry,
            run,
        });
        self
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The workflow's version.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The names of its steps, in order.
    pub fn step_names(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
        };
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let capped = policy.backoff(20);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_secs(1));
        }
    }
}
