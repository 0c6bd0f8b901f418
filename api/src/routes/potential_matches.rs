//! Potential matches: `GET /potential-matches` (search filters, pagination) and `GET
//! /potential-matches/{id}` with its results (each explained per comparison) and its persons' records.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query as RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use idem_empi::{ConfigId, PersonId, PotentialMatchId, PredictionResultId};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::explain::{Explainer, ExplanationView};
use super::format;
use super::persons::{RecordView, SEARCH_KEYS, SearchParams, internal, record_filter};
use super::query::{Pagination, Query};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/potential-matches", get(list))
        .route("/potential-matches/{id}", get(read))
}

/// The record fields `fields` may name (`person_uuid` is accepted and never output, as the reference).
const ALLOWED_FIELDS: [&str; 20] = [
    "id",
    "created",
    "person_uuid",
    "person_updated",
    "matched_or_reviewed",
    "data_source",
    "source_person_id",
    "first_name",
    "last_name",
    "sex",
    "race",
    "birth_date",
    "death_date",
    "social_security_number",
    "address",
    "city",
    "state",
    "zip_code",
    "county",
    "phone",
];

/// The reference's default `fields`.
const DEFAULT_FIELDS: &str = "id,first_name,last_name,data_source,social_security_number";

/// A pending potential match in the list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PotentialMatchSummaryView {
    /// `pm_N`.
    #[schema(value_type = String, example = "pm_7")]
    id: PotentialMatchId,
    /// First name of the group's record with the lowest id.
    first_name: Option<String>,
    /// Last name of that record.
    last_name: Option<String>,
    /// Distinct data sources of the group's records, sorted.
    data_sources: Vec<String>,
    /// Best probability among the group's results.
    max_match_probability: f64,
}

/// `GET /potential-matches`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PotentialMatchList {
    potential_matches: Vec<PotentialMatchSummaryView>,
    pagination: Pagination,
}

/// Lists the pending potential matches with a record matching every given filter, by id.
#[utoipa::path(
    get,
    path = "/api/v1/potential-matches",
    tag = "potential-matches",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of pending potential matches", body = PotentialMatchList),
        (status = 400, description = "Unknown or blank query key, bad page", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<PotentialMatchList>> {
    let query = Query::parse(raw, &SEARCH_KEYS)?;
    let (page, page_size) = query.page()?;
    let found = idem_empi::list_potential_matches(
        state.engine.pool(),
        &record_filter(&query),
        page,
        page_size,
    )
    .await
    .map_err(internal)?;
    Ok(Json(PotentialMatchList {
        potential_matches: found
            .items
            .into_iter()
            .map(|m| PotentialMatchSummaryView {
                id: m.id,
                first_name: m.first_name,
                last_name: m.last_name,
                data_sources: m.data_sources,
                max_match_probability: m.max_match_probability,
            })
            .collect(),
        pagination: Pagination::new(page, page_size, found.total_count),
    }))
}

/// The query string of `GET /potential-matches/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the query string; the handler parses it strictly with `Query`"
)]
pub(crate) struct DetailParams {
    /// Comma-separated record fields (default `id,first_name,last_name,data_source,social_security_number`);
    /// an unknown field is a 400.
    fields: Option<String>,
    /// Whether to add `pagination` and `metadata` (default true).
    include_metadata: Option<bool>,
    /// 1-based page of persons (default 1).
    page: Option<u32>,
    /// Persons per page, 1 to 1000 (default 50).
    page_size: Option<u32>,
}

/// A scored pair with its explanation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResultView {
    /// `prre_N`.
    #[schema(value_type = String, example = "prre_3")]
    id: PredictionResultId,
    /// `2025-01-02T03:04:05Z` (microseconds when not zero).
    created: String,
    match_probability: f64,
    /// log2 of the pair's Bayes factor (not in the reference's response).
    match_weight: f64,
    #[schema(value_type = String)]
    person_record_l_id: idem_empi::PersonRecordId,
    #[schema(value_type = String)]
    person_record_r_id: idem_empi::PersonRecordId,
    /// Why the pair scored as it did (not in the reference's response).
    explanation: ExplanationView,
}

/// A person of the group with its records (the requested fields plus `id` and `person_id`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupPersonView {
    #[schema(value_type = String)]
    id: PersonId,
    created: String,
    version: i64,
    #[schema(value_type = Vec<Object>)]
    records: Vec<Map<String, Value>>,
}

/// A potential match: its results and one page of its persons.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PotentialMatchView {
    #[schema(value_type = String)]
    id: PotentialMatchId,
    created: String,
    /// Optimistic-concurrency version: a manual match must quote it.
    version: i64,
    /// Every result of the group, best first.
    results: Vec<ResultView>,
    /// The persons of the records the results name, ordered by id (uuid text); paginated.
    persons: Vec<GroupPersonView>,
}

/// What `GET /potential-matches/{id}` says about the response (with `include_metadata`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DetailMetadata {
    fields_requested: String,
    response_size_optimized: bool,
    memory_optimized: bool,
    pagination_enabled: bool,
}

/// `GET /potential-matches/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PotentialMatchDetail {
    potential_match: PotentialMatchView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<DetailMetadata>,
}

fn potential_match_id(raw: &str) -> ApiResult<PotentialMatchId> {
    raw.parse().map_err(|_| ApiError::InvalidId {
        field: "potential_match_id",
        message: "Invalid PotentialMatch ID",
    })
}

/// The requested fields, checked (400 naming the unknown ones).
fn parse_fields(raw: &str) -> ApiResult<Vec<&str>> {
    let fields: Vec<&str> = raw.split(',').map(str::trim).collect();
    let unknown: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| !ALLOWED_FIELDS.contains(f))
        .collect();
    if unknown.is_empty() {
        Ok(fields)
    } else {
        Err(ApiError::Validation(
            unknown
                .into_iter()
                .map(|f| Detail::field("fields", format!("Unknown field \"{f}\".")))
                .collect(),
        ))
    }
}

/// DRF's boolean parsing.
fn parse_bool(field: &str, raw: &str) -> ApiResult<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "off" => Ok(false),
        _ => Err(ApiError::Validation(vec![Detail::field(
            field,
            "Must be a valid boolean.",
        )])),
    }
}

/// Keeps the requested fields of a record, plus `id` and `person_id`.
fn select_fields(record: RecordView, fields: &[&str]) -> Map<String, Value> {
    let Ok(Value::Object(all)) = serde_json::to_value(record) else {
        unreachable!("a record serializes to an object");
    };
    all.into_iter()
        .filter(|(k, _)| k == "id" || k == "person_id" || fields.contains(&k.as_str()))
        .collect()
}

/// Reads a pending potential match: its results, explained, and a page of its persons.
#[utoipa::path(
    get,
    path = "/api/v1/potential-matches/{id}",
    tag = "potential-matches",
    params(("id" = String, Path, description = "`pm_N`"), DetailParams),
    responses(
        (status = 200, description = "The potential match; header `ETag: \"pm_N_v<version>\"`", body = PotentialMatchDetail),
        (status = 400, description = "Malformed id, unknown field, bad page or boolean", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown, matched or replaced", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(mut raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Response> {
    let id = potential_match_id(&id)?;
    // Other keys are ignored here, as the reference does.
    let keys = ["fields", "include_metadata", "page", "page_size"];
    raw.retain(|k, _| keys.contains(&k.as_str()));
    let query = Query::parse(raw, &keys)?;
    let fields_requested = query.get("fields").unwrap_or(DEFAULT_FIELDS).to_owned();
    let fields = parse_fields(&fields_requested)?;
    let include_metadata = match query.get("include_metadata") {
        Some(raw) => parse_bool("include_metadata", raw)?,
        None => true,
    };
    let (page, page_size) = query.page()?;
    let found = idem_empi::get_potential_match(state.engine.pool(), id, page, Some(page_size))
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound)?;

    // Results regrouped from older runs may have been scored with another config.
    let config_ids: BTreeSet<ConfigId> = found.results.iter().map(|r| r.config_id).collect();
    let mut explainers: HashMap<ConfigId, Explainer> = HashMap::new();
    for config_id in config_ids {
        let config = idem_empi::get_config(state.engine.pool(), config_id)
            .await
            .map_err(internal)?;
        let settings = config.map(|c| c.splink_settings);
        explainers.insert(
            config_id,
            Explainer::new(settings.as_ref(), &state.functions),
        );
    }
    let results = found
        .results
        .into_iter()
        .map(|r| ResultView {
            explanation: explainers[&r.config_id].explain(&r.data),
            id: r.id,
            created: format::drf(r.created),
            match_probability: r.match_probability,
            match_weight: r.match_weight,
            person_record_l_id: r.person_record_l_id,
            person_record_r_id: r.person_record_r_id,
        })
        .collect();
    let persons = found
        .persons
        .items
        .into_iter()
        .map(|p| GroupPersonView {
            id: p.id,
            created: format::drf(p.created),
            version: p.version,
            records: p
                .records
                .into_iter()
                .map(|r| select_fields(RecordView::from(r), &fields))
                .collect(),
        })
        .collect();
    let body = PotentialMatchDetail {
        potential_match: PotentialMatchView {
            id,
            created: format::drf(found.created),
            version: found.version,
            results,
            persons,
        },
        pagination: include_metadata
            .then(|| Pagination::new(page, page_size, found.persons.total_count)),
        metadata: include_metadata.then_some(DetailMetadata {
            fields_requested,
            response_size_optimized: true,
            memory_optimized: true,
            pagination_enabled: true,
        }),
    };
    let etag = HeaderValue::from_str(&format!("\"{id}_v{}\"", found.version))
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(([(header::ETAG, etag)], Json(body)).into_response())
}
