//! Step 1, `fetch`: the source exists and its header names the record columns.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use idem_engine::{StepContext, StepError};
use serde::Serialize;

use super::ImportInput;
use super::source::SourceRows;
use crate::Services;
use crate::error::{Error, Result};
use crate::storage::Location;

/// What `fetch` found.
#[derive(Debug, Serialize)]
pub(crate) struct Fetched {
    #[serde(flatten)]
    input: ImportInput,
    /// The source, as parsed.
    source: String,
    /// Its size in bytes, if known.
    bytes: Option<u64>,
}

pub(crate) async fn run(
    services: Arc<Services>,
    ctx: StepContext,
    input: ImportInput,
) -> Result<Fetched, StepError> {
    Ok(fetch(&services, &ctx, input).await?)
}

/// The job's source location.
pub(crate) async fn job_source(ctx: &StepContext, input: ImportInput) -> Result<Location> {
    let job = idem_empi::get_job(ctx.pool(), input.job_id)
        .await?
        .ok_or_else(|| Error::State(format!("{} does not exist", input.job_id)))?;
    let uri = job
        .source_uri
        .ok_or_else(|| Error::State(format!("{} has no source", input.job_id)))?;
    Location::parse(&uri)
}

async fn fetch(services: &Services, ctx: &StepContext, input: ImportInput) -> Result<Fetched> {
    let location = job_source(ctx, input).await?;
    ctx.progress().start("checking the source", None);
    let bytes = services.storage.check(ctx.pool(), &location).await?;
    let reader = services.storage.open(ctx.pool(), &location).await?;
    let handle = tokio::runtime::Handle::current();
    let loc = location.clone();
    // Reads (and decompresses) only as far as the header.
    tokio::task::spawn_blocking(move || {
        SourceRows::open(reader, &loc, handle, Arc::new(AtomicU64::new(0))).map(drop)
    })
    .await
    .map_err(|e| Error::State(format!("the header check panicked: {e}")))??;
    tracing::info!(source = %location, ?bytes, "Source found; header valid.");
    Ok(Fetched {
        input,
        source: location.to_string(),
        bytes,
    })
}
