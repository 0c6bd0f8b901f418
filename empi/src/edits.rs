//! What manual identity edits (a manual match, a split, a merge) share: their error type, the
//! match-update lock, and the audited application of record moves and reviews.
//!
//! Every edit runs in one transaction: `pg_try_advisory_xact_lock_shared(MATCH_UPDATE)` first (a run's
//! match step holds it exclusively: the edit fails at once with [`EditError::Conflict`]), then row locks
//! in the documented order (match group, persons by id, records by id), then version checks, then the
//! event, the person and record changes and their actions. A final check compares every touched
//! person's `record_count` with its actual records before commit.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{PersonRecordId, UserId};
use crate::locks::MATCH_UPDATE;

/// The reference's message when a run holds the match-update lock.
pub const CONCURRENT_RUN_MESSAGE: &str = "A matching job is currently updating matches. Please wait until the job finishes to perform a match.";

/// Why an edit was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The request contradicts the data or the edit rules (the API answers 400 with this message).
    #[error("{0}")]
    Invalid(String),
    /// The resource the edit is about does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The data changed since the client read it (a stale version, an already matched group), or a
    /// run is updating matches (409).
    #[error("{0}")]
    Conflict(String),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The edit would have left the data inconsistent; it was rolled back.
    #[error("inconsistent edit: {0}")]
    Inconsistent(String),
}

impl From<sqlx::Error> for EditError {
    fn from(error: sqlx::Error) -> Self {
        // A deadlock or serialization failure between two edits is a conflict the client can retry.
        let code = error
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        match code.as_deref() {
            Some("40P01" | "40001" | "55P03") => {
                Self::Conflict("The data changed concurrently. Please reload and try again.".into())
            }
            _ => Self::Database(error),
        }
    }
}

/// The result type of edits.
pub type EditResult<T> = Result<T, EditError>;

/// A free-text comment on a record, stored as a note by the user who made the edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The record commented on; it must be one of the records the edit is about.
    pub person_record_id: PersonRecordId,
    /// The text.
    pub comment: String,
}

/// Takes the match-update lock shared without waiting; a run holding (or waiting for) it exclusively
/// makes the edit fail at once.
pub(crate) async fn try_lock_match_update_shared(tx: &mut PgConnection) -> EditResult<()> {
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock_shared($1)")
        .bind(MATCH_UPDATE)
        .fetch_one(&mut *tx)
        .await?;
    if locked {
        Ok(())
    } else {
        Err(EditError::Conflict(CONCURRENT_RUN_MESSAGE.into()))
    }
}

/// Inserts an event of `kind`; returns its id and time.
pub(crate) async fn insert_event(
    tx: &mut PgConnection,
    kind: &str,
) -> EditResult<(i64, DateTime<Utc>)> {
    Ok(sqlx::query_as(
        "INSERT INTO match_events (created, type) VALUES (clock_timestamp(), $1) RETURNING id, created",
    )
    .bind(kind)
    .fetch_one(&mut *tx)
    .await?)
}

/// Inserts a person created by an edit (no job); returns its id.
pub(crate) async fn insert_person(
    tx: &mut PgConnection,
    uuid: uuid::Uuid,
    record_count: i64,
    at: DateTime<Utc>,
) -> EditResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO persons (uuid, created, updated, record_count) VALUES ($1, $2, $2, $3) RETURNING id",
    )
    .bind(uuid)
    .bind(at)
    .bind(record_count)
    .fetch_one(&mut *tx)
    .await?)
}

/// Sets a locked person's record count, bumps its version and soft-deletes it when empty (revives it
/// otherwise); returns the new version.
pub(crate) async fn update_person(
    tx: &mut PgConnection,
    person: i64,
    record_count: i64,
    at: DateTime<Utc>,
) -> EditResult<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE persons SET version = version + 1, record_count = $2, updated = $3, \
         deleted = CASE WHEN $2 = 0 THEN $3 END WHERE id = $1 RETURNING version",
    )
    .bind(person)
    .bind(record_count)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?)
}

/// A record moving from one person to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Move {
    pub(crate) record: i64,
    pub(crate) from: i64,
    pub(crate) to: i64,
}

/// The record changes of one edit event and who made them.
pub(crate) struct Changes<'a> {
    pub(crate) event: i64,
    pub(crate) at: DateTime<Utc>,
    pub(crate) group: Option<i64>,
    pub(crate) user: UserId,
    /// (person, record): records that stay where they are and were reviewed.
    pub(crate) reviewed: &'a [(i64, i64)],
    pub(crate) moves: &'a [Move],
    pub(crate) comments: &'a [Comment],
}

/// Moves and marks the records, writes the person actions (all `review`s, then all `remove-record`s,
/// then all `add-record`s, so that every remove has a smaller id than every add) and the notes, then
/// checks that every person involved counts exactly its records.
pub(crate) async fn apply(tx: &mut PgConnection, changes: &Changes<'_>) -> EditResult<()> {
    let moved_records: Vec<i64> = changes.moves.iter().map(|m| m.record).collect();
    let moved_to: Vec<i64> = changes.moves.iter().map(|m| m.to).collect();
    let moved = sqlx::query(
        "UPDATE person_records r SET person_id = m.person_id, person_updated = $1, matched_or_reviewed = $1 \
         FROM unnest($2::bigint[], $3::bigint[]) AS m(record_id, person_id) WHERE r.id = m.record_id",
    )
    .bind(changes.at)
    .bind(&moved_records)
    .bind(&moved_to)
    .execute(&mut *tx)
    .await?;
    let reviewed_records: Vec<i64> = changes.reviewed.iter().map(|(_, r)| *r).collect();
    let reviewed = sqlx::query(
        "UPDATE person_records SET matched_or_reviewed = $1 WHERE id = ANY($2::bigint[])",
    )
    .bind(changes.at)
    .bind(&reviewed_records)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != moved_records.len() as u64
        || reviewed.rows_affected() != reviewed_records.len() as u64
    {
        return Err(EditError::Inconsistent(
            "a record to move or review is missing".into(),
        ));
    }

    let mut persons = Vec::new();
    let mut records = Vec::new();
    let mut types = Vec::new();
    let mut push = |person: i64, record: i64, kind: &'static str| {
        persons.push(person);
        records.push(record);
        types.push(kind);
    };
    for &(person, record) in changes.reviewed {
        push(person, record, "review");
    }
    for m in changes.moves {
        push(m.from, m.record, "remove-record");
    }
    for m in changes.moves {
        push(m.to, m.record, "add-record");
    }
    sqlx::query(
        "INSERT INTO person_actions (match_event_id, match_group_id, person_id, person_record_id, type, \
         performed_by_id) \
         SELECT $1, $2, a.person_id, a.record_id, a.type, $3 \
         FROM unnest($4::bigint[], $5::bigint[], $6::text[]) WITH ORDINALITY AS a(person_id, record_id, type, n) \
         ORDER BY a.n",
    )
    .bind(changes.event)
    .bind(changes.group)
    .bind(changes.user)
    .bind(&persons)
    .bind(&records)
    .bind(&types)
    .execute(&mut *tx)
    .await?;

    let note_records: Vec<i64> = changes
        .comments
        .iter()
        .map(|c| c.person_record_id.0)
        .collect();
    let notes: Vec<&str> = changes
        .comments
        .iter()
        .map(|c| c.comment.as_str())
        .collect();
    sqlx::query(
        "INSERT INTO person_record_notes (created, updated, person_record_id, note, author_id) \
         SELECT $1, $1, n.record_id, n.note, $2 \
         FROM unnest($3::bigint[], $4::text[]) WITH ORDINALITY AS n(record_id, note, i) ORDER BY n.i",
    )
    .bind(changes.at)
    .bind(changes.user)
    .bind(&note_records)
    .bind(&notes)
    .execute(&mut *tx)
    .await?;

    let involved: BTreeSet<i64> = persons.iter().copied().collect();
    let involved: Vec<i64> = involved.into_iter().collect();
    let miscounted: Vec<i64> = sqlx::query_scalar(
        "SELECT p.id FROM persons p WHERE p.id = ANY($1::bigint[]) \
         AND p.record_count <> (SELECT count(*) FROM person_records r WHERE r.person_id = p.id)",
    )
    .bind(&involved)
    .fetch_all(&mut *tx)
    .await?;
    if !miscounted.is_empty() {
        return Err(EditError::Inconsistent(format!(
            "record counts of persons {miscounted:?} would not match their records"
        )));
    }
    Ok(())
}

/// Comments must be about records the edit is about.
pub(crate) fn check_comments(
    comments: &[Comment],
    records: &BTreeSet<i64>,
    message: &str,
) -> EditResult<()> {
    if comments
        .iter()
        .any(|c| !records.contains(&c.person_record_id.0))
    {
        return Err(EditError::Invalid(message.into()));
    }
    Ok(())
}
