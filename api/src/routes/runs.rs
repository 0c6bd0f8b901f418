//! Workflow runs: list, read, resume, cancel.

use std::collections::HashMap;

use axum::extract::{Path, Query as RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use idem_engine::{RunFilter, RunStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use super::query::{Pagination, Query};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs", get(list))
        .route("/runs/{id}", get(read))
        .route("/runs/{id}/resume", post(resume))
        .route("/runs/{id}/cancel", post(cancel))
}

fn run_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::InvalidId {
        field: "run_id",
        message: "Invalid Run ID",
    })
}

/// Lists workflow runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(
        ("workflow" = Option<String>, Query, description = "Only runs of this workflow"),
        ("status" = Option<String>, Query, description = "Only runs with this status"),
        ("page" = Option<u32>, Query, description = "1-based page (default 1)"),
        ("page_size" = Option<u32>, Query, description = "Runs per page, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "`{\"runs\": [...], \"pagination\": {...}}`", body = serde_json::Value),
        (status = 400, description = "Unknown key, bad status or page", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let query = Query::parse(raw, &["workflow", "status", "page", "page_size"])?;
    let (page, page_size) = query.page()?;
    let status = match query.get("status") {
        None => None,
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
            ApiError::Validation(vec![Detail::field(
                "status",
                format!("\"{s}\" is not a valid choice."),
            )])
        })?),
    };
    let filter = RunFilter {
        workflow: query.get("workflow").map(str::to_owned),
        status,
        page,
        page_size,
    };
    let runs = state.engine.list_runs(&filter).await?;
    Ok(Json(json!({
        "runs": runs.runs,
        "pagination": Pagination::new(page, page_size, runs.total_count),
    })))
}

/// Reads a run: status, steps, attempts, errors.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run's uuid")),
    responses(
        (status = 200, description = "`{\"run\": {...}}` with its steps", body = serde_json::Value),
        (status = 400, description = "Malformed id", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown run", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    let run = state.engine.get_run(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(json!({ "run": run })))
}

/// Resumes a failed or cancelled run from its first unfinished step.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/resume",
    tag = "runs",
    params(("id" = String, Path, description = "The run's uuid")),
    responses(
        (status = 200, description = "`{\"run\": {...}}` with its steps", body = serde_json::Value),
        (status = 400, description = "Malformed id", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown run", body = super::openapi::ErrorBody),
        (status = 409, description = "The run cannot be resumed in its state", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    state.engine.resume(id).await?;
    read(State(state), Path(id.to_string())).await
}

/// Cancels a pending or running run.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    tag = "runs",
    params(("id" = String, Path, description = "The run's uuid")),
    responses(
        (status = 200, description = "`{\"run\": {...}}` with its steps", body = serde_json::Value),
        (status = 400, description = "Malformed id", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown run", body = super::openapi::ErrorBody),
        (status = 409, description = "The run cannot be cancelled in its state", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    state.engine.cancel(id).await?;
    read(State(state), Path(id.to_string())).await
}
