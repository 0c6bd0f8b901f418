//! Loading an import job's staged rows as new person records, each in a new person, with the
//! `new-ids` event and its person actions, in one transaction.
//!
//! A load at least as large as the records held (the first import, above all) takes the bulk path of
//! [`crate::bulk`]: the unique keys and foreign keys of persons, records and person actions are added
//! after the rows are in, each checked in one pass, and their plain indexes are left to
//! [`crate::build_deferred_indexes`] after the load commits; readers of those tables (and of jobs and
//! events) wait for the load to commit.

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
            let created_micros = pg_timestamp(created);
            copy_rows(
                tx,
                "COPY persons (id, uuid, created, updated, job_id, record_count) FROM STDIN \
                 WITH (FORMAT binary)",
                fresh,
                |row, k| {
                    // A v4 uuid from the thread's CSPRNG (seeded from the OS, as `Uuid::new_v4`,
                    // without a system call per uuid).
                    let uuid = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
                    row.int8(persons + k)
                        .uuid(uuid)
                        .int8(created_micros)
                        .int8(created_micros)
                        .int8(job.0)
                        .int8(1);
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
                "COPY person_actions (id, match_event_id, person_id, person_record_id, type) \
                 FROM STDIN WITH (FORMAT binary)",
                fresh,
                |row, k| {
                    row.int8(actions + k)
                        .int8(event)
                        .int8(persons + k)
                        .int8(records + k)
                        .text("add-record");
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

/// Microseconds since 2000-01-01 00:00 UTC: a `timestamptz` in PostgreSQL's binary format.
fn pg_timestamp(t: chrono::DateTime<chrono::Utc>) -> i64 {
    const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
    t.timestamp_micros() - PG_EPOCH_UNIX_MICROS
}

/// One row of a `COPY ... WITH (FORMAT binary)`: its fields, in the statement's column order, each as
/// its length and its value in the type's binary form. Binary rather than text because PostgreSQL then
/// parses nothing (measured on a million persons: 0.9 s against 2.6-2.9 s, most of it the two
/// timestamps' text).
struct BinaryRow<'a> {
    buf: &'a mut Vec<u8>,
    /// Fields written so far.
    fields: i16,
}

impl BinaryRow<'_> {
    fn field(&mut self, value: &[u8]) -> &mut Self {
        let len = i32::try_from(value.len()).expect("a COPY field shorter than 2 GiB");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
        self.fields += 1;
        self
    }

    /// A `bigint`, or a `timestamptz` from [`pg_timestamp`].
    fn int8(&mut self, value: i64) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    fn uuid(&mut self, value: uuid::Uuid) -> &mut Self {
        self.field(value.as_bytes())
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.field(value.as_bytes())
    }
}

/// Writes the `rows` rows that `row` makes (for k = 1..=rows, in that order) with `statement`, a
/// `COPY ... FROM STDIN WITH (FORMAT binary)`, in chunks; checks that every row was stored.
async fn copy_rows(
    tx: &mut PgConnection,
    statement: &str,
    rows: i64,
    mut row: impl FnMut(&mut BinaryRow<'_>, i64),
) -> Result<()> {
    let mut copy = tx.copy_in_raw(statement).await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 256);
    // The signature, then the flags and the length of the header extension (none).
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    for k in 1..=rows {
        // Each row starts with its number of fields, known once the row is written.
        let count_at = buf.len();
        buf.extend_from_slice(&0i16.to_be_bytes());
        let mut fields = BinaryRow {
            buf: &mut buf,
            fields: 0,
        };
        row(&mut fields, k);
        let count = fields.fields;
        buf[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
        if buf.len() >= COPY_CHUNK {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(COPY_CHUNK + 256);
        }
    }
    // The trailer: a field count of -1.
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    let copied = copy.finish().await?;
    if copied != rows as u64 {
        return Err(Error::Invariant(format!(
            "{statement} stored {copied} of {rows} rows"
        )));
    }
    Ok(())
}
