//! Users (admin only): list them and set their roles, with the reference's shapes.
//!
//! Differences from the reference, on purpose: the list is paginated (the reference's pagination
//! object, ordered by id) because users are not synced from the identity provider on every call but
//! appear on their first authenticated request; an unknown user id is 404 (the reference answers
//! 200 without changing anything); demoting the last admin is 409 (the reference allows it and leaves
//! nobody able to manage users).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query as RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use idem_empi::{Role, SetRole, User, UserId};
use serde_json::{Map, Value, json};

use super::query::{Pagination, Query};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/{id}", post(set_role))
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        // The reference's shape: a string, "" when the identity provider gave none.
        "email": user.email.as_deref().unwrap_or(""),
        "role": user.role,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(
        ("page" = Option<u32>, Query, description = "1-based page (default 1)"),
        ("page_size" = Option<u32>, Query, description = "Users per page, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "`{\"users\": [{\"id\", \"email\", \"role\"}], \"pagination\": {...}}`", body = serde_json::Value),
        (status = 403, description = "Not an admin", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: CurrentUser,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let query = Query::parse(raw, &["page", "page_size"])?;
    let (page, page_size) = query.page()?;
    let (users, total) = idem_empi::list_users(state.engine.pool(), page, page_size)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(json!({
        "users": users.iter().map(user_json).collect::<Vec<_>>(),
        "pagination": Pagination::new(page, page_size, total),
    })))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "`u_N`")),
    request_body(content = serde_json::Value, description = "`{\"role\": \"admin\" | \"member\" | null}`"),
    responses(
        (status = 200, description = "`{\"user\": {\"id\": \"u_N\"}}`", body = serde_json::Value),
        (status = 403, description = "Not an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown user", body = super::openapi::ErrorBody),
        (status = 409, description = "Would remove the last admin", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn set_role(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let id: UserId = id.parse().map_err(|_| ApiError::InvalidId {
        field: "user_id",
        message: "Invalid User ID",
    })?;
    let role = parse_role_body(&body)?;
    match idem_empi::set_user_role(state.engine.pool(), id, role)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
    {
        SetRole::Updated(user) => {
            tracing::info!(user.id = %user.id, user.role = ?user.role, by = %caller.id, "User role set.");
            Ok(Json(json!({ "user": { "id": user.id } })))
        }
        SetRole::NotFound => Err(ApiError::NotFound),
        SetRole::LastAdmin => Err(ApiError::Conflict(format!(
            "{id} is the last admin: make another user admin first."
        ))),
    }
}

/// `{"role": "admin" | "member" | null}`; a `user_id` key is ignored (the path wins, as in the
/// reference); other keys are "Unexpected field".
fn parse_role_body(body: &[u8]) -> ApiResult<Option<Role>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::Validation(vec![Detail {
            field: None,
            message: format!("JSON parse error - {e}"),
        }])
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::Validation(vec![Detail {
            field: None,
            message: "Invalid data. Expected a dictionary.".to_owned(),
        }]));
    };
    let mut details = unexpected_keys(&object, &["role", "user_id"]);
    let role = match object.get("role") {
        None => {
            details.push(Detail::field("role", "This field is required."));
            None
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) if s == "admin" => Some(Role::Admin),
        Some(Value::String(s)) if s == "member" => Some(Role::Member),
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            details.push(Detail::field(
                "role",
                format!("\"{shown}\" is not a valid choice."),
            ));
            None
        }
    };
    if details.is_empty() {
        Ok(role)
    } else {
        Err(ApiError::Validation(details))
    }
}

fn unexpected_keys(object: &Map<String, Value>, allowed: &[&str]) -> Vec<Detail> {
    let mut keys: Vec<&String> = object
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    keys.sort();
    keys.into_iter()
        .map(|k| Detail::field(k.as_str(), "Unexpected field"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(body: &str) -> Vec<Detail> {
        match parse_role_body(body.as_bytes()) {
            Err(ApiError::Validation(details)) => details,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn role_bodies_follow_the_reference() {
        assert_eq!(
            parse_role_body(br#"{"role": "admin"}"#).unwrap(),
            Some(Role::Admin)
        );
        assert_eq!(
            parse_role_body(br#"{"role": "member", "user_id": "u_9"}"#).unwrap(),
            Some(Role::Member)
        );
        assert_eq!(parse_role_body(br#"{"role": null}"#).unwrap(), None);
        assert_eq!(
            details("{}"),
            vec![Detail::field("role", "This field is required.")]
        );
        assert_eq!(
            details(r#"{"role": "owner", "x": 1}"#),
            vec![
                Detail::field("x", "Unexpected field"),
                Detail::field("role", "\"owner\" is not a valid choice.")
            ]
        );
        assert_eq!(
            details(r#"{"role": 5}"#),
            vec![Detail::field("role", "\"5\" is not a valid choice.")]
        );
        assert_eq!(
            details("[]")[0].message,
            "Invalid data. Expected a dictionary."
        );
        assert!(
            details("{")
                .first()
                .unwrap()
                .message
                .starts_with("JSON parse error - ")
        );
    }
}
