//! The audit trail for the review API: match events (who, when, what kind) with their action counts, and
//! a person's history (the events that moved its records, with both sides of each move).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ids::{JobId, PersonId, PersonRecordId, PotentialMatchId, UserId};
use crate::search::{Page, begin_read, limit_offset};

/// The event types, as stored in `match_events.type`.
pub const EVENT_TYPES: [&str; 4] = ["new-ids", "auto-matches", "manual-match", "person-split"];

/// Which events to list. `None`: any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this type (one of [`EVENT_TYPES`]).
    pub event_type: Option<String>,
    /// Only events of this job's run.
    pub job_id: Option<JobId>,
    /// Only events that acted on this person.
    pub person_id: Option<PersonId>,
    /// Only events that acted on this potential match (group).
    pub potential_match_id: Option<PotentialMatchId>,
}

/// The user who performed a manual event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Performer {
    /// The user's id.
    pub id: UserId,
    /// Its email, if the identity provider gave one.
    pub email: Option<String>,
}

/// An identity-changing event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchEvent {
    /// Its id: events are ordered by it.
    pub id: i64,
    /// When it happened.
    pub created: DateTime<Utc>,
    /// One of [`EVENT_TYPES`].
    pub event_type: String,
    /// The job whose run produced it; `None` for manual edits.
    pub job_id: Option<JobId>,
    /// Who performed it (manual edits only).
    pub performed_by: Option<Performer>,
}

/// An event of the list with the number of its person actions by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// The event.
    pub event: MatchEvent,
    /// Records added to persons.
    pub add_record: i64,
    /// Records removed from persons.
    pub remove_record: i64,
    /// Records reviewed and left where they were.
    pub review: i64,
}

/// One record action of an event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonAction {
    #[sqlx(rename = "match_event_id")]
    event_id: i64,
    /// `add-record`, `remove-record` or `review`.
    #[sqlx(rename = "type")]
    pub action_type: String,
    /// The person acted on.
    pub person_id: PersonId,
    /// The record added, removed or reviewed.
    pub person_record_id: PersonRecordId,
    /// The potential match involved, if any.
    #[sqlx(rename = "match_group_id")]
    pub potential_match_id: Option<PotentialMatchId>,
}

/// An event of a person's history with what moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The event.
    pub event: MatchEvent,
    /// Its actions on the records the person had an action on in this event (both sides of a move).
    pub actions: Vec<PersonAction>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    created: DateTime<Utc>,
    #[sqlx(rename = "type")]
    event_type: String,
    job_id: Option<JobId>,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    event: EventRow,
    add_record: i64,
    remove_record: i64,
    review: i64,
}

/// Attaches the performers of manual events.
async fn with_performers(
    db: &mut sqlx::PgConnection,
    rows: Vec<EventRow>,
) -> Result<Vec<MatchEvent>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let performers: Vec<(i64, UserId, Option<String>)> =
        sqlx::query_as(include_str!("queries/events/performers.sql"))
            .bind(&ids)
            .fetch_all(db)
            .await?;
    let mut by_event: HashMap<i64, Performer> = performers
        .into_iter()
        .map(|(event, id, email)| (event, Performer { id, email }))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| MatchEvent {
            performed_by: by_event.remove(&r.id),
            id: r.id,
            created: r.created,
            event_type: r.event_type,
            job_id: r.job_id,
        })
        .collect())
}

/// One page of the events matching `filter`, newest first.
pub async fn list_events(
    db: &sqlx::PgPool,
    filter: &EventFilter,
    page: u32,
    page_size: u32,
) -> Result<Page<EventSummary>> {
    let (limit, offset) = limit_offset(page, page_size);
    let mut tx = begin_read(db).await?;
    let rows = sqlx::query_as::<_, SummaryRow>(include_str!("queries/events/page.sql"))
        .bind(&filter.event_type)
        .bind(filter.job_id)
        .bind(filter.person_id)
        .bind(filter.potential_match_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
    let total_count: i64 = sqlx::query_scalar(include_str!("queries/events/count.sql"))
        .bind(&filter.event_type)
        .bind(filter.job_id)
        .bind(filter.person_id)
        .bind(filter.potential_match_id)
        .fetch_one(&mut *tx)
        .await?;
    let counts: Vec<(i64, i64, i64)> = rows
        .iter()
        .map(|r| (r.add_record, r.remove_record, r.review))
        .collect();
    let events = with_performers(&mut tx, rows.into_iter().map(|r| r.event).collect()).await?;
    tx.commit().await?;
    let items = events
        .into_iter()
        .zip(counts)
        .map(
            |(event, (add_record, remove_record, review))| EventSummary {
                event,
                add_record,
                remove_record,
                review,
            },
        )
        .collect();
    Ok(Page { items, total_count })
}

/// One page of the history of a person (live or deleted), newest first; `None` if the id is unknown.
pub async fn person_history(
    db: &sqlx::PgPool,
    person: PersonId,
    page: u32,
    page_size: u32,
) -> Result<Option<Page<HistoryEntry>>> {
    let mut tx = begin_read(db).await?;
    let internal: Option<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE uuid = $1")
        .bind(person)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(internal) = internal else {
        return Ok(None);
    };
    let (limit, offset) = limit_offset(page, page_size);
    let rows = sqlx::query_as::<_, EventRow>(include_str!("queries/events/history_page.sql"))
        .bind(internal)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
    let total_count: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT match_event_id) FROM person_actions WHERE person_id = $1",
    )
    .bind(internal)
    .fetch_one(&mut *tx)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let actions =
        sqlx::query_as::<_, PersonAction>(include_str!("queries/events/history_actions.sql"))
            .bind(internal)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut by_event: HashMap<i64, Vec<PersonAction>> = HashMap::new();
    for action in actions {
        by_event.entry(action.event_id).or_default().push(action);
    }
    let events = with_performers(&mut tx, rows).await?;
    tx.commit().await?;
    let items = events
        .into_iter()
        .map(|event| HistoryEntry {
            actions: by_event.remove(&event.id).unwrap_or_default(),
            event,
        })
        .collect();
    Ok(Some(Page { items, total_count }))
}
