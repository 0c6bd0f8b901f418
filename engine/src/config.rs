//! The engine's settings.

use std::time::Duration;

/// Engine settings, built once by the binary from flags and environment.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// apalis queue the step tasks go through (set explicitly: apalis would name it after a Rust type).
    pub queue: String,
    /// Steps a worker process runs at once (the concurrency of its apalis worker).
    pub workers: usize,
    /// How long a running attempt's lease lasts without renewal; a worker that dies mid-step has its step
    /// run again by another worker after at most this long (plus one reaper tick).
    pub lease: Duration,
    /// How often a worker polls the queue in addition to LISTEN/NOTIFY (picks up delayed retries).
    pub poll_interval: Duration,
    /// How long acknowledged queue tasks are kept in apalis's table before the reaper deletes them.
    pub task_retention: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            queue: "idem-steps".to_owned(),
            workers: 4,
            lease: Duration::from_secs(15),
            poll_interval: Duration::from_millis(250),
            task_retention: Duration::from_secs(3600),
        }
    }
}

impl EngineConfig {
    /// How often a running attempt renews its lease and writes its progress.
    pub(crate) fn heartbeat_interval(&self) -> Duration {
        (self.lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// How often the reaper looks for expired leases.
    pub(crate) fn reaper_interval(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(100))
    }
}
