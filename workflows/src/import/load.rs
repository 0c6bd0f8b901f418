//! Step 3, `load`: new records and persons from the staged rows (see `idem_empi::load_staged_records`).
//!
//! Staging is unlogged: after a crash of the database server the job's staged rows are gone, and the
//! step stages them again from the job's source (kept until the run finishes) before loading.

use std::sync::Arc;

use idem_empi::LoadOutcome;
use idem_engine::{StepContext, StepError};
use serde::Serialize;

use super::ImportInput;
use super::stage::{Staged, stage};
use crate::Services;
use crate::error::{Error, Result};

/// What `load` did.
#[derive(Debug, Serialize)]
pub(crate) struct Loaded {
    #[serde(flatten)]
    input: ImportInput,
    #[serde(flatten)]
    outcome: LoadOutcome,
    /// Whether the staged rows were lost and staged again first.
    restaged: bool,
}

pub(crate) async fn run(
    services: Arc<Services>,
    ctx: StepContext,
    staged: Staged,
) -> Result<Loaded, StepError> {
    Ok(load(&services, &ctx, staged).await?)
}

async fn load(services: &Services, ctx: &StepContext, staged: Staged) -> Result<Loaded> {
    let input = staged.input;
    let mut rows = staged.rows;
    let mut restaged = false;
    let outcome = loop {
        ctx.progress().start("loading records", None);
        let mut tx = ctx.pool().begin().await?;
        match idem_empi::load_staged_records(&mut tx, input.job_id, rows as i64).await {
            Ok(outcome) => {
                tx.commit().await?;
                break outcome;
            }
            Err(idem_empi::Error::StagingLost {
                expected, found, ..
            }) if !restaged => {
                tx.rollback().await?;
                tracing::warn!(expected, found, "Staged rows lost; staging the job again.");
                rows = stage(services, ctx, input).await?.rows;
                restaged = true;
            }
            Err(e) => return Err(Error::from(e)),
        }
    };
    ctx.progress().set(outcome.loaded as u64);
    tracing::info!(
        loaded = outcome.loaded,
        duplicates = outcome.duplicates,
        already_loaded = outcome.already_loaded,
        restaged,
        "Records loaded."
    );
    Ok(Loaded {
        input,
        outcome,
        restaged,
    })
}
