//! Loading an import job's staged rows as new person records, each in a new person, with the
//! `new-ids` event and its person actions, in one transaction.
//!
//! A load at least as large as the records held (the first import, above all) takes the bulk path of
//! [`crate::bulk`]: the unique keys and foreign keys of persons, records and person actions are added
//! after the rows are in, each checked in one pass, and their plain indexes are left to
//! [`crate::build_deferred_indexes`] after the load commits; readers of those tables (and of jobs and
//! events) wait for the load to commit.

use std::io::Write;

use rand::Rng;
use serde::Serialize;
use sqlx::PgConnection;

use crate::bulk;
use crate::error::{Error, Result};
use crate::ids::JobId;
use crate::locks;

/// The tables a load writes in bulk (the job and the event are there for their foreign keys: one per
/// record and action, checked in one pass instead of row by row). Locked in this order, which is the
/// order manual edits (which do not wait for loads) reach them: records and persons first, the event
/// and actions after; so a load waits for an edit in progress instead of deadlocking with it.
const LOAD_TABLES: [&str; 5] = [
    "person_records",
    "persons",
    "match_events",
    "person_actions",
    "jobs",
];

/// What [`load_staged_records`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoadOutcome {
    /// Rows staged for the job.
    pub rows: i64,
    /// New records (and persons) created.
    pub loaded: i64,
    /// Rows skipped: an identical record exists, or an earlier row of the file is identical.
    pub duplicates: i64,
    /// Whether an earlier run of this step had already loaded the job (nothing was done now).
    pub already_loaded: bool,
}

/// Loads the job's staged rows (their `sha256` set by the stage step): dedupes them against each other
/// and against every record, creates one person per new record, the `new-ids` event and one
/// `add-record` action per record, and stores the counts on the job. Run it in a transaction: it is
/// all or nothing, and a second call for the same job (a retried step) changes nothing.
///
/// `staged` is the number of rows the stage step staged. Staging is unlogged, so a crash of the
/// database server empties it: when the job is not loaded yet and its staged rows are not all there,
/// nothing is written and [`Error::StagingLost`] says so (stage the job again, then load).
///
/// Loads are serialised by [`locks::LOAD_RECORDS`] so that two jobs never both insert a record with the
/// same hash.
pub async fn load_staged_records(
    tx: &mut PgConnection,
    job: JobId,
    staged: i64,
) -> Result<LoadOutcome> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(locks::LOAD_RECORDS)
        .execute(&mut *tx)
        .await?;
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM person_record_staging WHERE job_id = $1")
            .bind(job)
            .fetch_one(&mut *tx)
            .await?;
    // Locked before anything reads them, so that the lock is never upgraded.
    let bulk = bulk::worth_it(tx, "person_records", rows).await?;
    if bulk {
        bulk::lock(tx, &LOAD_TABLES).await?;
    }
    let done: Option<(i64, i64)> = sqlx::query_as(
        "SELECT j.records_loaded, j.duplicates_skipped FROM jobs j \
         WHERE j.id = $1 AND EXISTS (SELECT 1 FROM match_events e WHERE e.job_id = j.id AND e.type = 'new-ids')",
    )
    .bind(job)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((loaded, duplicates)) = done {
        return Ok(LoadOutcome {
            rows: loaded + duplicates,
            loaded,
            duplicates,
            already_loaded: true,
        });
    }
    if rows != staged {
        return Err(Error::StagingLost {
            what: "rows",
            expected: staged,
            found: rows,
        });
    }
    // Holding persons and records exclusively, the load reserves its ids as one block per sequence
    // below; otherwise it draws them one by one, as concurrent writers do (see fresh_rows.sql).
    let fresh = sqlx::query(include_str!("queries/import/fresh_rows.sql"))
        .bind(job)
        .bind(bulk)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
    if fresh > 0 {
        // Neither the temporary table nor the staged rows just copied have statistics yet: without
        // them the inserts below are planned for a handful of rows, whatever the file's size (and the
        // records' insert hashes and sorts the wide staged rows instead of reading them in order).
        sqlx::query("ANALYZE load_fresh").execute(&mut *tx).await?;
        sqlx::query("ANALYZE person_record_staging (job_id, line_number)")
            .execute(&mut *tx)
            .await?;
        let suspended = if bulk && bulk::worth_it(tx, "person_records", fresh).await? {
            Some(bulk::suspend(tx, &LOAD_TABLES, bulk::Indexes::All).await?)
        } else {
            None
        };
        let (event, created): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
            "INSERT INTO match_events (created, job_id, type) \
             VALUES (statement_timestamp(), $1, 'new-ids') RETURNING id, created",
        )
        .bind(job)
        .fetch_one(&mut *tx)
        .await?;
        if bulk {
            // Persons and records exclusively held: the ids are blocks reserved now (see
            // fresh_rows.sql), and the persons and the actions, all made of ids and constants,
            // are written with COPY (batched inserts) from here instead of row by row from the
            // temporary table.
            let persons = bulk::reserve_id_block(tx, "persons", fresh).await?;
            let records = bulk::reserve_id_block(tx, "person_records", fresh).await?;
            let actions = bulk::reserve_id_block(tx, "person_actions", fresh).await?;
            let created_text = created.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
            copy_rows(
                tx,
                "COPY persons (id, uuid, created, updated, job_id, record_count) FROM STDIN",
                fresh,
                |buf, k| {
                    // A v4 uuid from the thread's CSPRNG (seeded from the OS, as `Uuid::new_v4`,
                    // without a system call per uuid).
                    let uuid = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
                    writeln!(
                        buf,
                        "{}\t{uuid}\t{created_text}\t{created_text}\t{}\t1",
                        persons + k,
                        job.0
                    )
                },
            )
            .await?;
            sqlx::query(include_str!("queries/import/insert_records.sql"))
                .bind(job)
                .bind(created)
                .bind(persons)
                .bind(records)
                .execute(&mut *tx)
                .await?;
            copy_rows(
                tx,
                "COPY person_actions (id, match_event_id, person_id, person_record_id, type) FROM STDIN",
                fresh,
                |buf, k| {
                    writeln!(
                        buf,
                        "{}\t{event}\t{}\t{}\tadd-record",
                        actions + k,
                        persons + k,
                        records + k
                    )
                },
            )
            .await?;
        } else {
            // The ids were drawn in `fresh_rows.sql`: persons, records and actions are plain inserts
            // of the temporary table's rows, neither paired by rank nor read back.
            sqlx::query(include_str!("queries/import/insert_persons.sql"))
                .bind(job)
                .bind(created)
                .execute(&mut *tx)
                .await?;
            sqlx::query(include_str!("queries/import/insert_records.sql"))
                .bind(job)
                .bind(created)
                .bind(0i64)
                .bind(0i64)
                .execute(&mut *tx)
                .await?;
            sqlx::query(include_str!("queries/import/insert_actions.sql"))
                .bind(event)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(suspended) = suspended {
            suspended.restore(tx).await?;
        }
    }
    sqlx::query(
        "UPDATE jobs SET records_loaded = $2, duplicates_skipped = $3, updated = now() WHERE id = $1",
    )
    .bind(job)
    .bind(fresh)
    .bind(rows - fresh)
    .execute(&mut *tx)
    .await?;
    Ok(LoadOutcome {
        rows,
        loaded: fresh,
        duplicates: rows - fresh,
        already_loaded: false,
    })
}

/// Bytes per chunk sent to a COPY.
const COPY_CHUNK: usize = 1 << 20;

/// Writes the `rows` lines that `line` makes (for k = 1..=rows, in that order, in COPY's text format)
/// with `statement`, a `COPY ... FROM STDIN`, in chunks; checks that every row was stored.
async fn copy_rows(
    tx: &mut PgConnection,
    statement: &str,
    rows: i64,
    mut line: impl FnMut(&mut Vec<u8>, i64) -> std::io::Result<()>,
) -> Result<()> {
    let mut copy = tx.copy_in_raw(statement).await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 256);
    for k in 1..=rows {
        line(&mut buf, k).expect("writing to a Vec");
        if buf.len() >= COPY_CHUNK {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(COPY_CHUNK + 256);
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    let copied = copy.finish().await?;
    if copied != rows as u64 {
        return Err(Error::Invariant(format!(
            "{statement} stored {copied} of {rows} rows"
        )));
    }
    Ok(())
}
