//! idem's EMPI workflows: import (and match), each a list of durable steps over the engine, the EMPI
//! store and the scorer.
//!
//! * [`import`]: fetch and validate the source, stage its rows with `COPY`, load new records and
//!   persons, score them against every record, match (auto-matches and potential matches), finish.
//!   Each step is idempotent and reports progress; a failed run resumes from its failed step.
//! * [`export`]: write the crosswalk or the potential-match pairs as CSV (public ids) to a sink.
//! * [`storage`]: sources and sinks on S3, local files and uploads stored in the database.

mod error;
pub mod export;
pub mod import;
pub mod storage;

use std::sync::Arc;

use idem_engine::Workflow;
use idem_matching::FunctionRegistry;

pub use error::{Error, Result};

/// What the workflows' steps need besides the database pool of their context.
#[derive(Debug, Clone)]
pub struct Services {
    /// Sources and sinks.
    pub storage: storage::Storage,
    /// The comparison functions settings may use: built-ins and loaded plugins.
    pub functions: Arc<FunctionRegistry>,
    /// The loaded plugins (name, version, file hash, functions), recorded on each job that scores.
    pub plugins: serde_json::Value,
}

/// Every workflow of this crate, to register with the engine.
pub fn workflows(services: Services) -> Vec<Workflow> {
    let services = Arc::new(services);
    vec![
        import::workflow(Arc::clone(&services)),
        export::workflow(services),
    ]
}
