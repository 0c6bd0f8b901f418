//! `GET /api/v1/plugins`: the comparator plugins this process loaded at start and their
//! functions (name, version, library path and SHA-256, per function arity and types).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/plugins", get(list))
}

/// The loaded comparator plugins.
#[utoipa::path(
    get,
    path = "/api/v1/plugins",
    tag = "plugins",
    responses(
        (status = 200, description = "`{\"plugins\": [{name, version, path, sha256, functions: \
            [{name, arity, argument_types, return_type, deterministic}]}]}`, in load order",
         body = serde_json::Value),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "plugins": state.plugins.manifest() }))
}
