//! The match step's store side: finding what a run's new results touch, reading the crosswalk, and
//! applying a regrouping (new potential matches, re-pointed results, auto-match record moves, events and
//! actions) in one transaction.
//!
//! The decision itself (groups and auto-matches) is the scorer crate's `MatchGraph`; this module only
//! reads its inputs and writes its outcome, as plain data.
//!
//! Concurrency: the caller holds [`locks::MATCH_UPDATE`] exclusively ([`lock_match_update`]) for the
//! whole transaction. Every other writer of identities (manual match, split, merge, other runs' match
//! steps) takes that lock first (shared and non-blocking for manual edits), so no row these functions
//! read can change before commit; row locks are therefore not taken (they would rewrite every touched
//! row). Person versions are still checked on update, so a writer that skipped the lock is detected.
//!
//! A regrouping at least as large as the results held (the first import, above all) takes the bulk
//! path of [`crate::bulk`] ([`lock_for_bulk_regrouping`]): the tables it writes are locked exclusively
//! before they are read, and the unique and foreign keys the writes would maintain row by row are
//! added again after them (see [`bulk::suspend_for`]), the plain indexes left to
//! [`crate::build_deferred_indexes`] after the step commits; readers of those tables wait for the
//! match step to commit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::bulk;
use crate::error::{Error, Result};
use crate::ids::JobId;
use crate::locks;

/// The tables a regrouping writes and what it writes to each (see [`bulk::suspend_for`]); the job and
/// the event are there for their foreign keys: one per result and action, checked in one pass instead
/// of row by row. The foreign keys of the tables it only updates, on columns it does not set
/// (`persons.job_id`, `person_records.job_id`), stay. Locked in this order, that of the load's tables
/// (see `import.rs`): records and persons first, the job last.
const REGROUP_WRITES: [bulk::Writes<'static>; 8] = [
    bulk::Writes {
        table: "person_records",
        inserts: false,
        updates: &["person_id", "person_updated", "matched_or_reviewed"],
    },
    bulk::Writes {
        table: "persons",
        inserts: false,
        updates: &["version", "record_count", "updated", "deleted"],
    },
    bulk::Writes {
        table: "match_groups",
        inserts: true,
        updates: &["deleted", "updated", "version"],
    },
    bulk::Writes {
        table: "prediction_results",
        inserts: true,
        updates: &["match_group_id", "match_group_updated"],
    },
    bulk::Writes {
        table: "match_events",
        inserts: true,
        updates: &[],
    },
    bulk::Writes {
        table: "person_actions",
        inserts: true,
        updates: &[],
    },
    bulk::Writes {
        table: "match_group_actions",
        inserts: true,
        updates: &[],
    },
    bulk::Writes {
        table: "jobs",
        inserts: false,
        updates: &[
            "results_stored",
            "records_auto_matched",
            "potential_matches",
            "updated",
        ],
    },
];

/// Takes the match-update lock exclusively for the transaction, waiting for manual edits in progress.
pub async fn lock_match_update(tx: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(locks::MATCH_UPDATE)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Whether the job's match step already committed (its `auto-matches` event exists).
pub async fn job_matched(tx: &mut PgConnection, job: JobId) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM match_events WHERE job_id = $1 AND type = 'auto-matches')",
    )
    .bind(job)
    .fetch_one(&mut *tx)
    .await?)
}

/// The job's staged results, as [`lock_for_bulk_regrouping`] found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagedResults {
    /// How many there are.
    pub count: i64,
    /// Whether the regrouping takes the bulk path (the tables it writes are locked exclusively).
    pub bulk: bool,
}

/// Counts the job's staged results and decides whether its regrouping takes the bulk path: when they
/// are at least as many as the results held. If so, the tables the regrouping reads and writes are
/// locked exclusively now, before anything reads them. Call it right after [`lock_match_update`]; pass
/// `bulk` to [`apply_regrouping`]. Staging is unlogged (emptied when the database server recovers from
/// a crash): compare the count with what the score step staged before using them.
pub async fn lock_for_bulk_regrouping(tx: &mut PgConnection, job: JobId) -> Result<StagedResults> {
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM prediction_result_staging WHERE job_id = $1")
            .bind(job)
            .fetch_one(&mut *tx)
            .await?;
    let bulk = bulk::worth_it(tx, "prediction_results", count).await?;
    if bulk {
        bulk::lock(tx, &REGROUP_WRITES.map(|w| w.table)).await?;
    }
    Ok(StagedResults { count, bulk })
}

/// A scored pair.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct Pair {
    /// Left record id.
    #[sqlx(rename = "person_record_l_id")]
    pub l: i64,
    /// Right record id.
    #[sqlx(rename = "person_record_r_id")]
    pub r: i64,
    /// Match probability.
    #[sqlx(rename = "match_probability")]
    pub probability: f64,
}

/// The job's staged results that are not stored yet, ordered by (l, r).
pub async fn staged_results(tx: &mut PgConnection, job: JobId) -> Result<Vec<Pair>> {
    Ok(
        sqlx::query_as::<_, Pair>(include_str!("queries/regroup/staged_results.sql"))
            .bind(job)
            .fetch_all(&mut *tx)
            .await?,
    )
}

/// A stored result of a pending group that the new results touch.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct CurrentResult {
    /// The result id.
    pub id: i64,
    /// The pair.
    #[sqlx(flatten)]
    pub pair: Pair,
}

/// A person of the crosswalk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CrosswalkPerson {
    /// The person id.
    pub id: i64,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its version.
    pub version: i64,
    /// Its record count.
    pub record_count: i64,
}

/// What the new results touch: the pending groups to rebuild, their results, and every record of
/// every person involved (whole persons move).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Touched {
    /// Pending groups that will be replaced.
    pub groups: Vec<i64>,
    /// Their results, by id.
    pub results: Vec<CurrentResult>,
    /// The persons involved, by id.
    pub persons: Vec<CrosswalkPerson>,
    /// Every record of those persons, as (record id, person id), by record id.
    pub records: Vec<(i64, i64)>,
}

/// Finds the pending groups connected to the records of `new_results` (transitively, through shared
/// persons) and reads their results and the crosswalk of every person involved.
pub async fn touched(tx: &mut PgConnection, new_results: &[Pair]) -> Result<Touched> {
    // The seed persons fill the table before its primary key is built: one sort instead of a
    // speculative insert per person into a growing index (and a temporary table's index larger than
    // the session's `temp_buffers` goes to disk page by page).
    sqlx::query("CREATE TEMP TABLE regroup_persons (id bigint NOT NULL) ON COMMIT DROP")
        .execute(&mut *tx)
        .await?;
    sqlx::query("CREATE TEMP TABLE regroup_groups (id bigint PRIMARY KEY) ON COMMIT DROP")
        .execute(&mut *tx)
        .await?;
    let mut seeds: Vec<i64> = new_results.iter().flat_map(|p| [p.l, p.r]).collect();
    seeds.sort_unstable();
    seeds.dedup();
    sqlx::query(
        "INSERT INTO regroup_persons (id) SELECT DISTINCT person_id FROM person_records \
         WHERE id = ANY($1)",
    )
    .bind(&seeds)
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE regroup_persons ADD PRIMARY KEY (id)")
        .execute(&mut *tx)
        .await?;
    // Temporary tables have no statistics until analysed: without them the joins below are planned
    // for a handful of rows, whatever the import's size.
    sqlx::query("ANALYZE regroup_persons")
        .execute(&mut *tx)
        .await?;
    loop {
        let groups = sqlx::query(include_str!("queries/regroup/touched_groups.sql"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if groups == 0 {
            break;
        }
        sqlx::query("ANALYZE regroup_groups")
            .execute(&mut *tx)
            .await?;
        let persons = sqlx::query(include_str!("queries/regroup/touched_persons.sql"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if persons == 0 {
            break;
        }
        sqlx::query("ANALYZE regroup_persons")
            .execute(&mut *tx)
            .await?;
    }
    let groups: Vec<i64> = sqlx::query_scalar("SELECT id FROM regroup_groups ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    let results = sqlx::query_as::<_, CurrentResult>(
        "SELECT res.id, res.person_record_l_id, res.person_record_r_id, res.match_probability \
         FROM regroup_groups g JOIN prediction_results res ON res.match_group_id = g.id ORDER BY res.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    // Every record of every person, with its person: one join instead of reading the persons and
    // their records apart. Every person here has a record (it was found through one).
    let rows: Vec<(i64, i64, DateTime<Utc>, i64, i64)> = sqlx::query_as(
        "SELECT rec.id, p.id, p.created, p.version, p.record_count FROM regroup_persons t \
         JOIN persons p ON p.id = t.id JOIN person_records rec ON rec.person_id = t.id ORDER BY rec.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let records: Vec<(i64, i64)> = rows.iter().map(|r| (r.0, r.1)).collect();
    let mut persons: Vec<CrosswalkPerson> = rows
        .iter()
        .map(|&(_, id, created, version, record_count)| CrosswalkPerson {
            id,
            created,
            version,
            record_count,
        })
        .collect();
    persons.sort_unstable_by_key(|p| p.id);
    persons.dedup_by_key(|p| p.id);
    sqlx::query("DROP TABLE regroup_persons, regroup_groups")
        .execute(&mut *tx)
        .await?;
    Ok(Touched {
        groups,
        results,
        persons,
        records,
    })
}

/// A record moving into the chosen person of its auto-match component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMove {
    /// The record.
    pub record: i64,
    /// The person it leaves, and that person's version as read.
    pub from: (i64, i64),
    /// The person it joins, and that person's version as read.
    pub to: (i64, i64),
    /// The new group (index into [`Regrouping::groups`]) holding the chosen person.
    pub group: usize,
}

/// The outcome of the match analysis, to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Regrouping {
    /// The new groups, in order: whether each is resolved (a single person left).
    pub groups: Vec<bool>,
    /// The pending groups replaced.
    pub replaced_groups: Vec<i64>,
    /// Current results and the new group (index) each moves to.
    pub current_results: Vec<(i64, usize)>,
    /// New results (from the job's staging) and their new group (index); stored in (l, r) order.
    pub new_results: Vec<(i64, i64, usize)>,
    /// Record moves, ordered by record id.
    pub moves: Vec<RecordMove>,
    /// Every record of the persons involved, as (record id, person id) ([`Touched::records`]): the
    /// records that stay in a receiving person are stamped `matched_or_reviewed` with the moved ones.
    pub crosswalk: Vec<(i64, i64)>,
}

/// What [`apply_regrouping`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegroupOutcome {
    /// New results stored.
    pub results_stored: i64,
    /// Records moved to another person.
    pub records_moved: i64,
    /// New pending groups (potential matches).
    pub potential_matches: i64,
}

/// Applies a regrouping for `job` with its `auto-matches` event, then stores the job's counts and
/// removes its staged results. The caller holds [`lock_match_update`], and the tables' locks when `bulk`
/// (see [`lock_for_bulk_regrouping`]).
pub async fn apply_regrouping(
    tx: &mut PgConnection,
    job: JobId,
    plan: &Regrouping,
    bulk: bool,
) -> Result<RegroupOutcome> {
    let suspended = if bulk {
        Some(bulk::suspend_for(tx, bulk::Indexes::KeepGin, &REGROUP_WRITES).await?)
    } else {
        None
    };
    let (event, now): (i64, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO match_events (created, job_id, type) \
         VALUES (statement_timestamp(), $1, 'auto-matches') RETURNING id, created",
    )
    .bind(job)
    .fetch_one(&mut *tx)
    .await?;

    // New groups; their ids are mapped back through their uuids.
    let uuids: Vec<Uuid> = plan.groups.iter().map(|_| Uuid::new_v4()).collect();
    let inserted: Vec<(i64, Uuid)> = sqlx::query_as(
        "INSERT INTO match_groups (uuid, created, updated, job_id, matched) \
         SELECT u, $2, $2, $1, CASE WHEN m THEN $2::timestamptz END \
         FROM unnest($3::uuid[], $4::bool[]) WITH ORDINALITY AS t(u, m, ord) ORDER BY ord \
         RETURNING id, uuid",
    )
    .bind(job)
    .bind(now)
    .bind(&uuids)
    .bind(&plan.groups)
    .fetch_all(&mut *tx)
    .await?;
    let by_uuid: HashMap<Uuid, i64> = inserted.into_iter().map(|(id, u)| (u, id)).collect();
    let group_ids: Vec<i64> = uuids.iter().map(|u| by_uuid[u]).collect();

    sqlx::query(
        "UPDATE match_groups SET deleted = $2, updated = $2, version = version + 1 WHERE id = ANY($1)",
    )
    .bind(&plan.replaced_groups)
    .bind(now)
    .execute(&mut *tx)
    .await?;

    // New results first (as the reference), then the current ones move over.
    let ls: Vec<i64> = plan.new_results.iter().map(|r| r.0).collect();
    let rs: Vec<i64> = plan.new_results.iter().map(|r| r.1).collect();
    let gs: Vec<i64> = plan.new_results.iter().map(|r| group_ids[r.2]).collect();
    let count = plan.new_results.len() as i64;
    let (result_offset, action_offset) = if bulk && count > 0 {
        (
            Some(bulk::reserve_id_block(tx, "prediction_results", count).await?),
            Some(bulk::reserve_id_block(tx, "match_group_actions", count).await?),
        )
    } else {
        (None, None)
    };
    let stored = sqlx::query(include_str!("queries/regroup/insert_new_results.sql"))
        .bind(job)
        .bind(now)
        .bind(&ls)
        .bind(&rs)
        .bind(&gs)
        .bind(event)
        .bind(result_offset)
        .bind(action_offset)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
    if stored != plan.new_results.len() as i64 {
        return Err(Error::Invariant(format!(
            "stored {stored} of {} new results of job_{}",
            plan.new_results.len(),
            job.0
        )));
    }

    let ids: Vec<i64> = plan.current_results.iter().map(|r| r.0).collect();
    let new_groups: Vec<i64> = plan
        .current_results
        .iter()
        .map(|r| group_ids[r.1])
        .collect();
    sqlx::query(
        "INSERT INTO match_group_actions (match_event_id, match_group_id, prediction_result_id, type) \
         SELECT $1, res.match_group_id, res.id, 'remove-result' \
         FROM unnest($2::bigint[]) AS t(id) JOIN prediction_results res ON res.id = t.id ORDER BY res.id",
    )
    .bind(event)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE prediction_results res SET match_group_id = t.g, match_group_updated = $3 \
         FROM unnest($1::bigint[], $2::bigint[]) AS t(id, g) WHERE res.id = t.id",
    )
    .bind(&ids)
    .bind(&new_groups)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO match_group_actions (match_event_id, match_group_id, prediction_result_id, type) \
         SELECT $1, t.g, t.id, 'add-result' FROM unnest($2::bigint[], $3::bigint[]) AS t(id, g) ORDER BY t.id",
    )
    .bind(event)
    .bind(&ids)
    .bind(&new_groups)
    .execute(&mut *tx)
    .await?;

    let matched: Vec<i64> = plan
        .groups
        .iter()
        .zip(&group_ids)
        .filter(|(m, _)| **m)
        .map(|(_, id)| *id)
        .collect();
    sqlx::query(
        "INSERT INTO match_group_actions (match_event_id, match_group_id, type) \
         SELECT $1, g, 'match' FROM unnest($2::bigint[]) AS t(g) ORDER BY g",
    )
    .bind(event)
    .bind(&matched)
    .execute(&mut *tx)
    .await?;

    apply_moves(tx, event, now, plan, &group_ids, bulk).await?;
    if let Some(suspended) = suspended {
        suspended.restore(tx).await?;
    }

    let outcome = RegroupOutcome {
        results_stored: stored,
        records_moved: plan.moves.len() as i64,
        potential_matches: plan.groups.iter().filter(|m| !**m).count() as i64,
    };
    sqlx::query(
        "UPDATE jobs SET results_stored = $2, records_auto_matched = $3, potential_matches = $4, \
         updated = now() WHERE id = $1",
    )
    .bind(job)
    .bind(outcome.results_stored)
    .bind(outcome.records_moved)
    .bind(outcome.potential_matches)
    .execute(&mut *tx)
    .await?;
    remove_staged_results(tx, job).await?;
    Ok(outcome)
}

/// Removes the job's staged results. When they are all the staging table holds and no other
/// transaction is using the table, it is emptied with `TRUNCATE` (a new, empty file) instead of a
/// `DELETE` that writes every page of it again. The `ACCESS EXCLUSIVE` lock that takes is only tried
/// (`NOWAIT`): another job's score step writing staged results keeps the table locked, and then
/// (or when other jobs' results are staged) the rows are deleted. Either way the table holds no row
/// of the job afterwards, and no other job's row is touched; the truncation commits or rolls back with
/// the rest.
async fn remove_staged_results(tx: &mut PgConnection, job: JobId) -> Result<()> {
    sqlx::query("SAVEPOINT remove_staged_results")
        .execute(&mut *tx)
        .await?;
    let locked =
        sqlx::query("LOCK TABLE prediction_result_staging IN ACCESS EXCLUSIVE MODE NOWAIT")
            .execute(&mut *tx)
            .await;
    match locked {
        Ok(_) => {
            sqlx::query("RELEASE SAVEPOINT remove_staged_results")
                .execute(&mut *tx)
                .await?;
            if !crate::jobs::other_jobs_staged(tx, "prediction_result_staging", job).await? {
                sqlx::query("TRUNCATE prediction_result_staging")
                    .execute(&mut *tx)
                    .await?;
                return Ok(());
            }
        }
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("55P03") => {
            sqlx::query("ROLLBACK TO SAVEPOINT remove_staged_results")
                .execute(&mut *tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT remove_staged_results")
                .execute(&mut *tx)
                .await?;
        }
        Err(e) => return Err(e.into()),
    }
    sqlx::query("DELETE FROM prediction_result_staging WHERE job_id = $1")
        .bind(job)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Moves records into their chosen persons: person versions and counts (checked against the versions
/// read), record memberships, `matched_or_reviewed` on every record of a receiving person, and the
/// `remove-record`/`add-record` actions.
async fn apply_moves(
    tx: &mut PgConnection,
    event: i64,
    now: DateTime<Utc>,
    plan: &Regrouping,
    group_ids: &[i64],
    bulk: bool,
) -> Result<()> {
    if plan.moves.is_empty() {
        return Ok(());
    }
    let mut persons: HashMap<i64, (i64, i64)> = HashMap::new();
    for m in &plan.moves {
        persons.entry(m.from.0).or_insert((m.from.1, 0)).1 -= 1;
        persons.entry(m.to.0).or_insert((m.to.1, 0)).1 += 1;
    }
    let mut person_rows: Vec<(i64, i64, i64)> =
        persons.into_iter().map(|(id, (v, d))| (id, v, d)).collect();
    person_rows.sort_unstable();
    let ids: Vec<i64> = person_rows.iter().map(|p| p.0).collect();
    let versions: Vec<i64> = person_rows.iter().map(|p| p.1).collect();
    let deltas: Vec<i64> = person_rows.iter().map(|p| p.2).collect();
    let updated = sqlx::query(
        "UPDATE persons p SET version = p.version + 1, record_count = p.record_count + t.d, \
             updated = statement_timestamp(), \
             deleted = CASE WHEN p.record_count + t.d = 0 THEN statement_timestamp() END \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS t(id, v, d) \
         WHERE p.id = t.id AND p.version = t.v",
    )
    .bind(&ids)
    .bind(&versions)
    .bind(&deltas)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated != ids.len() as u64 {
        return Err(Error::Invariant(format!(
            "{} of {} persons changed while the match step held the match-update lock",
            ids.len() as u64 - updated,
            ids.len()
        )));
    }
    // One update per record: the moved records change person and are stamped, the records that stay
    // in a receiving person are only stamped (their person is the one they are in).
    let receivers: HashSet<i64> = plan.moves.iter().map(|m| m.to.0).collect();
    let mut rows: Vec<(i64, i64, i64)> = plan
        .moves
        .iter()
        .map(|m| (m.record, m.from.0, m.to.0))
        .chain(
            plan.crosswalk
                .iter()
                .filter(|(_, person)| receivers.contains(person))
                .map(|&(record, person)| (record, person, person)),
        )
        .collect();
    rows.sort_unstable();
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let from: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let to: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let updated = sqlx::query(
        "UPDATE person_records rec SET person_id = t.to_p, matched_or_reviewed = $4, \
             person_updated = CASE WHEN t.to_p = t.from_p THEN rec.person_updated ELSE $4 END \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS t(id, from_p, to_p) \
         WHERE rec.id = t.id AND rec.person_id = t.from_p",
    )
    .bind(&ids)
    .bind(&from)
    .bind(&to)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated != ids.len() as u64 {
        return Err(Error::Invariant(format!(
            "{} of {} records were not in the person the match step read",
            ids.len() as u64 - updated,
            ids.len()
        )));
    }
    let records: Vec<i64> = plan.moves.iter().map(|m| m.record).collect();
    let from: Vec<i64> = plan.moves.iter().map(|m| m.from.0).collect();
    let to: Vec<i64> = plan.moves.iter().map(|m| m.to.0).collect();
    let groups: Vec<i64> = plan.moves.iter().map(|m| group_ids[m.group]).collect();
    // Two actions per move; on the bulk path their ids are a block reserved for them, in the same order.
    let offset = if bulk {
        Some(bulk::reserve_id_block(tx, "person_actions", 2 * records.len() as i64).await?)
    } else {
        None
    };
    sqlx::query(
        "INSERT INTO person_actions (id, match_event_id, match_group_id, person_id, person_record_id, type) \
         OVERRIDING SYSTEM VALUE \
         SELECT CASE WHEN $6::bigint IS NULL \
                    THEN nextval((SELECT pg_get_serial_sequence('person_actions', 'id'))::regclass) \
                    ELSE $6 + 2 * (t.ord - 1) + x.k END, \
                $1, t.g, x.person, t.id, x.type \
         FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) \
              WITH ORDINALITY AS t(id, from_p, to_p, g, ord) \
         CROSS JOIN LATERAL (VALUES (1, t.from_p, 'remove-record'), (2, t.to_p, 'add-record')) AS x(k, person, type) \
         ORDER BY t.ord, x.k",
    )
    .bind(event)
    .bind(&records)
    .bind(&from)
    .bind(&to)
    .bind(&groups)
    .bind(offset)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
