//! Attribute keys idem puts on spans and log events. Use these constants, never raw strings.

/// The workflow run id (uuid).
pub const RUN_ID: &str = "idem.run.id";
/// The workflow name.
pub const WORKFLOW: &str = "idem.workflow";
/// The step name.
pub const STEP: &str = "idem.step";
/// The step attempt number (1-based).
pub const ATTEMPT: &str = "idem.step.attempt";
/// The worker that ran a step attempt.
pub const WORKER: &str = "idem.worker";
