//! Step 5, `match`: auto-matches and potential matches from the job's scored pairs, in one
//! transaction under the match-update lock.
//!
//! The pending potential matches connected to the new results (through shared records or persons,
//! transitively) are rebuilt together with them; every other pending group keeps its id and version.
//! The crosswalk holds every record of each person involved, so an auto-match moves whole persons.
//!
//! Staging is unlogged: after a crash of the database server the job's staged results are gone, and
//! the step scores the job again before matching.

use std::collections::HashMap;
use std::sync::Arc;

use idem_empi::{Pair, RecordMove, Regrouping};
use idem_engine::{StepContext, StepError};
use idem_matching::{CrosswalkPerson, CrosswalkRecord, GraphResult, MatchGraph};
use serde::Serialize;

use super::ImportInput;
use super::score::{Scored, score};
use crate::Services;
use crate::error::{Error, Result};

/// What `match` did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Matched {
    #[serde(flatten)]
    input: Option<ImportInput>,
    /// New results stored.
    results_stored: i64,
    /// Pending results of rebuilt potential matches.
    results_regrouped: usize,
    /// Records moved by auto-matches.
    records_auto_matched: i64,
    /// Pending potential matches created.
    potential_matches: i64,
    /// Whether an earlier run of this step had already committed.
    already_matched: bool,
    /// Whether the staged results were lost and the job was scored again first.
    rescored: bool,
}

pub(crate) async fn run(
    services: Arc<Services>,
    ctx: StepContext,
    scored: Scored,
) -> Result<Matched, StepError> {
    Ok(match_job(&services, &ctx, scored).await?)
}

async fn match_job(services: &Services, ctx: &StepContext, scored: Scored) -> Result<Matched> {
    let input = scored.input;
    let mut kept = scored.pairs_kept;
    let job = idem_empi::get_job(ctx.pool(), input.job_id)
        .await?
        .ok_or_else(|| Error::State(format!("{} does not exist", input.job_id)))?;
    let config = idem_empi::get_config(ctx.pool(), job.config_id)
        .await?
        .ok_or_else(|| Error::State(format!("{} does not exist", job.config_id)))?;
    let mut out = Matched {
        input: Some(input),
        ..Matched::default()
    };
    let (mut tx, bulk) = loop {
        ctx.progress()
            .start("waiting for the match-update lock", None);
        let mut tx = ctx.pool().begin().await?;
        idem_empi::lock_match_update(&mut tx).await?;
        let staged = idem_empi::lock_for_bulk_regrouping(&mut tx, input.job_id).await?;
        if idem_empi::job_matched(&mut tx, input.job_id).await? {
            out.already_matched = true;
            return Ok(out);
        }
        if staged.count == kept as i64 {
            break (tx, staged.bulk);
        }
        if out.rescored {
            return Err(idem_empi::Error::StagingLost {
                what: "results",
                expected: kept as i64,
                found: staged.count,
            }
            .into());
        }
        tx.rollback().await?;
        tracing::warn!(
            expected = kept,
            found = staged.count,
            "Staged results lost; scoring the job again."
        );
        kept = score(services, ctx, input).await?.pairs_kept;
        out.rescored = true;
    };
    ctx.progress().start("grouping results", None);
    let new_results = idem_empi::staged_results(&mut tx, input.job_id).await?;
    if new_results.is_empty() {
        // As the reference: no new results, no event, existing groups untouched.
        sqlx::query(
            "UPDATE jobs SET results_stored = 0, records_auto_matched = 0, potential_matches = 0, \
             updated = now() WHERE id = $1",
        )
        .bind(input.job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(out);
    }
    let touched = idem_empi::touched(&mut tx, &new_results).await?;
    let plan = plan(&touched, &new_results, config.auto_match_threshold)?;
    let outcome = idem_empi::apply_regrouping(&mut tx, input.job_id, &plan, bulk).await?;
    tx.commit().await?;
    out.results_stored = outcome.results_stored;
    out.results_regrouped = touched.results.len();
    out.records_auto_matched = outcome.records_moved;
    out.potential_matches = outcome.potential_matches;
    tracing::info!(
        results = out.results_stored,
        regrouped = out.results_regrouped,
        moved = out.records_auto_matched,
        potential_matches = out.potential_matches,
        "Matched."
    );
    Ok(out)
}

/// Runs the match graph over the current results (first) and the new ones, and turns its outcome
/// into a regrouping.
fn plan(
    touched: &idem_empi::Touched,
    new_results: &[Pair],
    auto_threshold: f64,
) -> Result<Regrouping> {
    let results: Vec<GraphResult> = touched
        .results
        .iter()
        .map(|c| c.pair)
        .chain(new_results.iter().copied())
        .map(|p| GraphResult {
            probability: p.probability,
            l: p.l,
            r: p.r,
        })
        .collect();
    let persons: Vec<CrosswalkPerson> = touched
        .persons
        .iter()
        .map(|p| CrosswalkPerson {
            id: p.id,
            created: p.created,
            version: p.version,
            record_count: p.record_count,
        })
        .collect();
    let records: Vec<CrosswalkRecord> = touched
        .records
        .iter()
        .map(|&(record, person)| CrosswalkRecord { record, person })
        .collect();
    let graph = MatchGraph::new(&results, &persons, &records)
        .map_err(|e| Error::Matching(e.to_string()))?;
    let analysis = graph.analyze(auto_threshold);
    let current = touched.results.len();
    let groups: Vec<bool> = analysis.groups.iter().map(|g| g.matched).collect();
    let group_of = |row: usize| analysis.result_groups[row] as usize;
    let current_results = touched
        .results
        .iter()
        .enumerate()
        .map(|(row, c)| (c.id, group_of(row)))
        .collect();
    let new = new_results
        .iter()
        .enumerate()
        .map(|(i, p)| (p.l, p.r, group_of(current + i)))
        .collect();
    let versions: HashMap<i64, i64> = touched.persons.iter().map(|p| (p.id, p.version)).collect();
    let moves = analysis
        .person_actions
        .iter()
        .map(|a| RecordMove {
            record: a.record,
            from: (a.from_person, versions[&a.from_person]),
            to: (a.to_person, versions[&a.to_person]),
            group: a.group as usize,
        })
        .collect();
    Ok(Regrouping {
        groups,
        replaced_groups: touched.groups.clone(),
        current_results,
        new_results: new,
        moves,
        crosswalk: touched.records.clone(),
    })
}
