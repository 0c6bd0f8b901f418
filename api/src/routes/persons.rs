//! Persons: `GET /persons` (search filters, pagination) and `GET /persons/{id}` with every record.

use std::collections::HashMap;

use axum::extract::{Path, Query as RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use idem_empi::{PersonId, PersonRecord, RecordFilter};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::format;
use super::query::{Pagination, Query};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/persons", get(list))
        .route("/persons/{id}", get(read))
}

/// The search filters of `GET /persons` and `GET /potential-matches`, and the page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the query string; handlers parse it strictly with `Query`"
)]
pub(crate) struct SearchParams {
    /// Case-insensitive substring of a record's first name.
    first_name: Option<String>,
    /// Case-insensitive substring of a record's last name.
    last_name: Option<String>,
    /// Case-insensitive substring of a record's birth date.
    birth_date: Option<String>,
    /// Prefix of the person id (`p_` optional).
    person_id: Option<String>,
    /// Prefix of a record's source person id.
    source_person_id: Option<String>,
    /// A record's data source (exact).
    data_source: Option<String>,
    /// 1-based page (default 1).
    page: Option<u32>,
    /// Items per page, 1 to 1000 (default 50).
    page_size: Option<u32>,
}

/// The query keys of the list endpoints with search filters.
pub(crate) const SEARCH_KEYS: [&str; 8] = [
    "first_name",
    "last_name",
    "birth_date",
    "person_id",
    "source_person_id",
    "data_source",
    "page",
    "page_size",
];

/// The record filter of a parsed query string.
pub(crate) fn record_filter(query: &Query) -> RecordFilter {
    let get = |key| query.get(key).map(str::to_owned);
    RecordFilter {
        first_name: get("first_name"),
        last_name: get("last_name"),
        birth_date: get("birth_date"),
        person_id: get("person_id"),
        source_person_id: get("source_person_id"),
        data_source: get("data_source"),
    }
}

/// A person in the list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PersonSummaryView {
    /// `p_<uuid>`.
    #[schema(value_type = String, example = "p_3f1c2a4e-8d2b-4c1e-9a7f-0b6d5e4c3a21")]
    id: PersonId,
    /// First name of the person's first record.
    first_name: Option<String>,
    /// Last name of the person's first record.
    last_name: Option<String>,
    /// Distinct data sources of its records, sorted.
    data_sources: Vec<String>,
}

/// `GET /persons`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PersonList {
    persons: Vec<PersonSummaryView>,
    pagination: Pagination,
}

/// A record with all its fields.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecordView {
    /// `pr_N`.
    #[schema(value_type = String, example = "pr_12")]
    pub(crate) id: idem_empi::PersonRecordId,
    /// The person it belongs to.
    #[schema(value_type = String)]
    pub(crate) person_id: PersonId,
    /// Load time, `2025-01-02T03:04:05.123456+00:00`.
    pub(crate) created: String,
    /// When it last moved to another person, same format.
    pub(crate) person_updated: String,
    /// When a match or review last involved it (a timestamp, not a boolean).
    pub(crate) matched_or_reviewed: Option<String>,
    pub(crate) data_source: String,
    pub(crate) source_person_id: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) sex: Option<String>,
    pub(crate) race: Option<String>,
    pub(crate) birth_date: Option<String>,
    pub(crate) death_date: Option<String>,
    pub(crate) social_security_number: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) city: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) zip_code: Option<String>,
    pub(crate) county: Option<String>,
    pub(crate) phone: Option<String>,
}

impl From<PersonRecord> for RecordView {
    fn from(r: PersonRecord) -> Self {
        Self {
            id: r.id,
            person_id: r.person_id,
            created: format::pg_text(r.created),
            person_updated: format::pg_text(r.person_updated),
            matched_or_reviewed: r.matched_or_reviewed.map(format::pg_json),
            data_source: r.data_source,
            source_person_id: r.source_person_id,
            first_name: r.first_name,
            last_name: r.last_name,
            sex: r.sex,
            race: r.race,
            birth_date: r.birth_date,
            death_date: r.death_date,
            social_security_number: r.social_security_number,
            address: r.address,
            city: r.city,
            state: r.state,
            zip_code: r.zip_code,
            county: r.county,
            phone: r.phone,
        }
    }
}

/// A person with all its records.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PersonView {
    #[schema(value_type = String)]
    id: PersonId,
    /// `2025-01-02T03:04:05Z` (microseconds when not zero).
    created: String,
    /// Optimistic-concurrency version: edits must quote it.
    version: i64,
    records: Vec<RecordView>,
}

/// `GET /persons/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PersonDetail {
    person: PersonView,
}

/// Parses a `p_<uuid v4>` path id (400 "Invalid Person ID").
pub(crate) fn person_id(raw: &str) -> ApiResult<PersonId> {
    raw.parse().map_err(|_| ApiError::InvalidId {
        field: "person_id",
        message: "Invalid Person ID",
    })
}

pub(crate) fn internal(error: idem_empi::Error) -> ApiError {
    ApiError::Internal(Box::new(error))
}

/// Lists the persons that have a record matching every given filter.
#[utoipa::path(
    get,
    path = "/api/v1/persons",
    tag = "persons",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of persons, by last and first name of their first record", body = PersonList),
        (status = 400, description = "Unknown or blank query key, bad page", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<PersonList>> {
    let query = Query::parse(raw, &SEARCH_KEYS)?;
    let (page, page_size) = query.page()?;
    let found =
        idem_empi::list_persons(state.engine.pool(), &record_filter(&query), page, page_size)
            .await
            .map_err(internal)?;
    Ok(Json(PersonList {
        persons: found
            .items
            .into_iter()
            .map(|p| PersonSummaryView {
                id: p.id,
                first_name: p.first_name,
                last_name: p.last_name,
                data_sources: p.data_sources,
            })
            .collect(),
        pagination: Pagination::new(page, page_size, found.total_count),
    }))
}

/// Reads a live person with all its records.
#[utoipa::path(
    get,
    path = "/api/v1/persons/{id}",
    tag = "persons",
    params(("id" = String, Path, description = "`p_<uuid v4>`")),
    responses(
        (status = 200, description = "The person and every record", body = PersonDetail),
        (status = 400, description = "Malformed id or a query parameter", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown, or deleted (merged away)", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<PersonDetail>> {
    let id = person_id(&id)?;
    if let Some(key) = raw.keys().min() {
        return Err(ApiError::Validation(vec![Detail::field(
            key.as_str(),
            "Unexpected field",
        )]));
    }
    let person = idem_empi::get_person(state.engine.pool(), id)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(PersonDetail {
        person: PersonView {
            id: person.id,
            created: format::drf(person.created),
            version: person.version,
            records: person.records.into_iter().map(RecordView::from).collect(),
        },
    }))
}
