//! The audit trail: `GET /match-events` (every identity change: who, when, what kind, how many records
//! moved) and `GET /persons/{id}/history` (the events that moved a person's records, both sides of each
//! move). Newest first.

use std::collections::HashMap;

use axum::extract::{Path, Query as RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use idem_empi::{
    EVENT_TYPES, EventFilter, JobId, MatchEvent, PersonAction, PersonId, PersonRecordId,
    PotentialMatchId, UserId,
};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::format;
use super::persons::{internal, person_id};
use super::query::{Pagination, Query};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/match-events", get(list))
        .route("/persons/{id}/history", get(history))
}

/// The query string of `GET /match-events`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the query string; the handler parses it strictly with `Query`"
)]
pub(crate) struct EventParams {
    /// `new-ids`, `auto-matches`, `manual-match` or `person-split`.
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Only the events of this job's run (`job_N`).
    job_id: Option<String>,
    /// Only the events that acted on this person (`p_<uuid>`).
    person_id: Option<String>,
    /// Only the events that acted on this potential match (`pm_N`).
    potential_match_id: Option<String>,
    /// 1-based page (default 1).
    page: Option<u32>,
    /// Events per page, 1 to 1000 (default 50).
    page_size: Option<u32>,
}

/// The paging of `GET /persons/{id}/history`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the query string; the handler parses it strictly with `Query`"
)]
pub(crate) struct PageParams {
    /// 1-based page (default 1).
    page: Option<u32>,
    /// Events per page, 1 to 1000 (default 50).
    page_size: Option<u32>,
}

/// The user who performed a manual edit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PerformerView {
    /// `u_N`.
    #[schema(value_type = String)]
    id: UserId,
    email: Option<String>,
}

/// An identity-changing event.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    /// The event's position in the log.
    id: i64,
    /// `2025-01-02T03:04:05Z` (microseconds when not zero).
    created: String,
    /// `new-ids`, `auto-matches`, `manual-match` or `person-split`.
    #[serde(rename = "type")]
    event_type: String,
    /// The job whose run made it; null for manual edits.
    #[schema(value_type = Option<String>)]
    job_id: Option<JobId>,
    /// Who made it (manual edits only).
    performed_by: Option<PerformerView>,
}

impl From<MatchEvent> for EventView {
    fn from(e: MatchEvent) -> Self {
        Self {
            id: e.id,
            created: format::drf(e.created),
            event_type: e.event_type,
            job_id: e.job_id,
            performed_by: e.performed_by.map(|p| PerformerView {
                id: p.id,
                email: p.email,
            }),
        }
    }
}

/// How many record actions of each type an event has.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionCounts {
    add_record: i64,
    remove_record: i64,
    review: i64,
}

/// An event of the list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventSummaryView {
    #[serde(flatten)]
    event: EventView,
    person_actions: ActionCounts,
}

/// `GET /match-events`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventList {
    match_events: Vec<EventSummaryView>,
    pagination: Pagination,
}

/// A record added to, removed from or reviewed in a person.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionView {
    /// `add-record`, `remove-record` or `review`.
    #[serde(rename = "type")]
    action_type: String,
    #[schema(value_type = String)]
    person_id: PersonId,
    #[schema(value_type = String)]
    person_record_id: PersonRecordId,
    /// The potential match the edit resolved, if any.
    #[schema(value_type = Option<String>)]
    potential_match_id: Option<PotentialMatchId>,
}

impl From<PersonAction> for ActionView {
    fn from(a: PersonAction) -> Self {
        Self {
            action_type: a.action_type,
            person_id: a.person_id,
            person_record_id: a.person_record_id,
            potential_match_id: a.potential_match_id,
        }
    }
}

/// An event of a person's history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryEntryView {
    #[serde(flatten)]
    event: EventView,
    /// The event's actions on the records this person had an action on (both sides of a move).
    actions: Vec<ActionView>,
}

/// `GET /persons/{id}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PersonHistory {
    history: Vec<HistoryEntryView>,
    pagination: Pagination,
}

fn parse_id<T: std::str::FromStr>(
    query: &Query,
    key: &'static str,
    message: &'static str,
) -> ApiResult<Option<T>> {
    query
        .get(key)
        .map(|raw| {
            raw.parse()
                .map_err(|_| ApiError::Validation(vec![Detail::field(key, message)]))
        })
        .transpose()
}

/// Lists identity-changing events, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/match-events",
    tag = "audit",
    params(EventParams),
    responses(
        (status = 200, description = "One page of events, newest first", body = EventList),
        (status = 400, description = "Unknown key, bad type, id or page", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<EventList>> {
    let query = Query::parse(
        raw,
        &[
            "type",
            "job_id",
            "person_id",
            "potential_match_id",
            "page",
            "page_size",
        ],
    )?;
    let (page, page_size) = query.page()?;
    let event_type = query.get("type").map(str::to_owned);
    if let Some(t) = &event_type
        && !EVENT_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::Validation(vec![Detail::field(
            "type",
            format!("\"{t}\" is not a valid choice."),
        )]));
    }
    let filter = EventFilter {
        event_type,
        job_id: parse_id(&query, "job_id", "Invalid Job ID")?,
        person_id: parse_id(&query, "person_id", "Invalid Person ID")?,
        potential_match_id: parse_id(&query, "potential_match_id", "Invalid PotentialMatch ID")?,
    };
    let found = idem_empi::list_events(state.engine.pool(), &filter, page, page_size)
        .await
        .map_err(internal)?;
    Ok(Json(EventList {
        match_events: found
            .items
            .into_iter()
            .map(|s| EventSummaryView {
                event: s.event.into(),
                person_actions: ActionCounts {
                    add_record: s.add_record,
                    remove_record: s.remove_record,
                    review: s.review,
                },
            })
            .collect(),
        pagination: Pagination::new(page, page_size, found.total_count),
    }))
}

/// A person's history: the events that moved its records, newest first (also for a merged-away person).
#[utoipa::path(
    get,
    path = "/api/v1/persons/{id}/history",
    tag = "audit",
    params(("id" = String, Path, description = "`p_<uuid v4>`"), PageParams),
    responses(
        (status = 200, description = "One page of the person's events with what moved", body = PersonHistory),
        (status = 400, description = "Malformed id, unknown key or bad page", body = super::openapi::ErrorBody),
        (status = 404, description = "No person ever had this id", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<PersonHistory>> {
    let id = person_id(&id)?;
    let query = Query::parse(raw, &["page", "page_size"])?;
    let (page, page_size) = query.page()?;
    let found = idem_empi::person_history(state.engine.pool(), id, page, page_size)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(PersonHistory {
        history: found
            .items
            .into_iter()
            .map(|h| HistoryEntryView {
                event: h.event.into(),
                actions: h.actions.into_iter().map(ActionView::from).collect(),
            })
            .collect(),
        pagination: Pagination::new(page, page_size, found.total_count),
    }))
}
