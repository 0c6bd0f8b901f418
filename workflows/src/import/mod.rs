//! The import workflow ([`IMPORT_WORKFLOW`]): a person-records CSV becomes records, persons,
//! auto-matches and potential matches, as six durable steps.
//!
//! 1. `fetch`: the source exists and its header names the 15 record columns (any order).
//! 2. `stage`: every row is streamed into `person_record_staging` with `COPY`, with its line number and
//!    content hash, in one transaction (a bad row fails the step with its line; nothing is staged).
//! 3. `load`: new records and persons, the `new-ids` event (one transaction; see
//!    `idem_empi::load_staged_records`).
//! 4. `score`: the job's new records against every record, with the config's Splink model; pairs above
//!    the potential-match threshold are staged for the match step (one transaction). Beside it, as
//!    long as it lasts, the plain indexes a bulk load left are built (`idem_empi::build_deferred_indexes`).
//! 5. `match`: auto-matches and potential matches (one transaction, under the match-update lock).
//! 6. `finish`: the plain indexes bulk steps left (and the score step did not build) are built; the job
//!    succeeded; its staging rows and upload are removed.
//!
//! Every step takes the job id (the run input) and returns it with what it did; each is idempotent:
//! run twice (after a crash, or resumed), it leaves the state it leaves when run once. The staging
//! tables are unlogged (a crash of the database server empties them): the load and match steps read
//! from their input how many rows or results the step before staged, and stage or score the job
//! again when they are not all there.

mod copy_in;
mod csv;
mod fetch;
mod load;
mod matching;
mod score;
mod source;
mod stage;
mod start;

use std::sync::Arc;

use idem_empi::JobId;
use idem_engine::Workflow;
use serde::{Deserialize, Serialize};

use crate::Services;

pub use start::{ImportSource, NoUpload, StartedImport, start_import};

/// The name of the import workflow.
pub const IMPORT_WORKFLOW: &str = "import-person-records";

/// The input of the import run and of each of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInput {
    /// The job being imported.
    pub job_id: JobId,
}

/// The import workflow.
pub fn workflow(services: Arc<Services>) -> Workflow {
    let s = services.clone();
    let fetch = move |ctx, input| fetch::run(s.clone(), ctx, input);
    let s = services.clone();
    let stage = move |ctx, input| stage::run(s.clone(), ctx, input);
    let s = services.clone();
    let load = move |ctx, input| load::run(s.clone(), ctx, input);
    let s = services.clone();
    let score = move |ctx, input| score::run(s.clone(), ctx, input);
    let s = services.clone();
    let matching = move |ctx, input| matching::run(s.clone(), ctx, input);
    Workflow::new(IMPORT_WORKFLOW, 1)
        .step("fetch", fetch)
        .step("stage", stage)
        .step("load", load)
        .step("score", score)
        .step("match", matching)
        .step("finish", finish)
}

/// Connections that build the indexes bulk steps left, at once (one per core here).
const FINISH_INDEX_BUILDERS: usize = 2;

/// Step 6: the indexes bulk steps left are built (those of the match step, and of the load those not
/// built beside the scoring); the job succeeded; what only the run needed is removed.
async fn finish(
    ctx: idem_engine::StepContext,
    input: ImportInput,
) -> Result<ImportInput, idem_engine::StepError> {
    ctx.progress().start("building indexes", None);
    let built = idem_empi::build_deferred_indexes(
        ctx.pool(),
        FINISH_INDEX_BUILDERS,
        idem_empi::BuildUntil::AllBuilt,
    )
    .await
    .map_err(crate::Error::from)?;
    ctx.progress().set(built);
    let mut tx = ctx.pool().begin().await?;
    idem_empi::finish_import_job(&mut tx, input.job_id)
        .await
        .map_err(crate::Error::from)?;
    tx.commit().await?;
    Ok(input)
}
