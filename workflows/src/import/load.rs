//! Step 3, `load`: new records and persons from the staged rows (see `idem_empi::load_staged_records`).

use idem_empi::LoadOutcome;
use idem_engine::{StepContext, StepError};
use serde::Serialize;

use super::ImportInput;
use crate::error::Error;

/// What `load` did.
#[derive(Debug, Serialize)]
pub(crate) struct Loaded {
    #[serde(flatten)]
    input: ImportInput,
    #[serde(flatten)]
    outcome: LoadOutcome,
}

pub(crate) async fn run(ctx: StepContext, input: ImportInput) -> Result<Loaded, StepError> {
    ctx.progress().start("loading records", None);
    let mut tx = ctx.pool().begin().await?;
    let outcome = idem_empi::load_staged_records(&mut tx, input.job_id)
        .await
        .map_err(Error::from)?;
    tx.commit().await?;
    ctx.progress().set(outcome.loaded as u64);
    tracing::info!(
        loaded = outcome.loaded,
        duplicates = outcome.duplicates,
        already_loaded = outcome.already_loaded,
        "Records loaded."
    );
    Ok(Loaded { input, outcome })
}
