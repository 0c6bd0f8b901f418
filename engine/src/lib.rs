//! idem's durable workflow runtime on apalis and PostgreSQL. It knows nothing about patients.
//!
//! A [`Workflow`] is a named, versioned, ordered list of named steps. [`Engine::start`] creates a run; the
//! steps run one after another on any worker process connected to the same database; each step's output
//! (its checkpoint) is stored and becomes the next step's input. A failed run can be [resumed](Engine::resume)
//! at its failed step, a run can be [cancelled](Engine::cancel), and the state of every run, step and attempt
//! is in idem's own tables (`workflow_runs`, `workflow_steps`, `workflow_step_attempts`).
//!
//! # What apalis does, and what idem adds
//! apalis 1.0 with its PostgreSQL storage is the queue and the worker runtime: a queue task says "run
//! attempt *n* of step *k* of run *r*" and nothing else. idem's step rows are the truth; a delivery that does
//! not match its step row (a duplicate, a stale retry, a task of a cancelled run) is acknowledged without
//! running anything. Around apalis's measured gaps:
//! - **No backoff in apalis retries**: the handler never returns a step failure to apalis. A retryable
//!   failure commits the step back to `queued` together with a new task scheduled after an exponential
//!   backoff with jitter ([`RetryPolicy`]); a permanent one or a spent budget fails the run with the error.
//! - **No run/step table, resume or cancel**: `workflow_runs`/`workflow_steps` hold them; resume re-queues
//!   the first step that did not succeed with the earlier outputs kept; cancel stops queued steps and tells a
//!   running one through [`StepContext::cancelled`].
//! - **A dead worker's job is reclaimed only after 300 s**: every attempt holds a lease
//!   ([`EngineConfig::lease`], default 15 s) renewed by a heartbeat; each worker process runs a reaper that
//!   re-queues the steps whose lease expired (`FOR UPDATE SKIP LOCKED`, so reapers do not collide). apalis's
//!   own orphan re-delivery of the dead task later is harmless: it is stale. A step that keeps killing its
//!   worker spends its retry budget and fails the run instead of looping for ever.
//! - **New jobs picked up only on the 30 s heartbeat**: workers LISTEN for apalis's insert notifications
//!   and also poll every [`EngineConfig::poll_interval`] (delayed retries do not notify; apalis stores
//!   `run_at` in whole seconds, so a retry's delay is rounded up to the next second). A process runs one
//!   apalis worker with [`EngineConfig::workers`] concurrent steps: several apalis workers in one process
//!   were measured to miss insert notifications and wait for the heartbeat. It fetches one task per free
//!   slot (a busy slot takes its next task itself, below, so a prefetched batch would wait behind it).
//! - **apalis keeps every task**: the reaper deletes this queue's acknowledged tasks after
//!   [`EngineConfig::task_retention`]; the history stays in idem's step and attempt tables.
//! - **The next step is enqueued before the current one is acknowledged**: here a step's checkpoint and
//!   what comes next commit in one transaction. Usually the worker that finished a step claims the next one
//!   in that same statement (lease and attempt row included) and runs it at once, with no queue round trip;
//!   if it dies, the lease expires and the reaper queues the step like any other lost attempt. After a run's
//!   last step, the statement that finishes the run also takes the next due task of the queue (apalis's
//!   order, `FOR UPDATE SKIP LOCKED`), acknowledges it and claims its step the way a delivery is claimed
//!   (below): a busy worker commits once per step and goes from run to run without asking apalis. A worker that is shutting down queues the next step instead
//!   (`apalis_postgres::queries::push_tasks` on the same connection). A delivered task is acknowledged by
//!   the statement that claims its step (apalis's own acknowledgement, a transaction per batch, is off):
//!   once the step row says "attempt *n* running", a task for attempt *n* is stale whatever happens next. If the claim cannot be committed (the database
//!   is unreachable) the worker retries it; a worker that stops meanwhile leaves the task locked to it, and
//!   apalis gives it to another worker once this one's heartbeat has lapsed.
//! - **One duplicate idempotency key rejects a whole bulk push**: idem never uses apalis's keys; run
//!   idempotency keys live on `workflow_runs` (`ON CONFLICT DO NOTHING` returns the existing run), and tasks
//!   are pushed one transaction at a time.
//! - **Queues named after Rust types**: the queue name is explicit ([`EngineConfig::queue`]).
//! - **Two workers on one step**: a claim is a conditional update of the step row (`queued` and attempt
//!   `n-1` → `running`, attempt `n`), so one delivery wins; an attempt that lost its lease is told to stop
//!   and its outcome is discarded.
//!
//! # The step contract
//! Steps must be idempotent: a step can run again after a retry, a crash or a resume (see [`Workflow`]).
//! A step reports progress through [`StepContext::progress`] and should stop when
//! [`StepContext::is_cancelled`] becomes true.
//!
//! # Tracing
//! [`Engine::start`] opens a `workflow.run` span (a child of the caller's span, e.g. the HTTP request) and
//! stores its W3C traceparent on the run; every step attempt opens a `workflow.step` span whose parent is
//! that stored context, in whichever process and at whatever time it runs.

mod config;
mod context;
mod engine;
mod error;
mod model;
mod worker;
mod workflow;

pub use config::EngineConfig;
pub use context::{Progress, StepContext};
pub use engine::Engine;
pub use error::{BoxError, Error, Result, StepError};
pub use model::{
    AttemptView, ProgressView, RunDetail, RunFilter, RunPage, RunStatus, RunSummary, StartOptions,
    Started, StepView,
};
pub use workflow::{RetryPolicy, Workflow};
