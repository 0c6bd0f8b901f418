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

async fn list(
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

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    let run = state.engine.get_run(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(json!({ "run": run })))
}

async fn resume(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    state.engine.resume(id).await?;
    read(State(state), Path(id.to_string())).await
}

async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    state.engine.cancel(id).await?;
    read(State(state), Path(id.to_string())).await
}
