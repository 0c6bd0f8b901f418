//! Manual identity edits: `POST /matches` (match a potential match, the reference's rules and
//! messages), `POST /persons/{id}/split` and `POST /persons/merge` (outside potential matches).
//!
//! Each is one audited transaction (see `idem_empi::match_person_records`). Status codes: 400 for a
//! malformed body or id and for edits the rules refuse (details carry the reference's messages), 404
//! for an unknown person in the path, 409 for stale versions, an already matched or replaced potential
//! match, and while an import run's match step holds the match-update lock (refused at once).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use idem_empi::{
    Comment, EditedPerson, ManualMatch, Merge, PersonId, PersonUpdate, Split, VersionedPerson,
};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::body::{Checker, join, parse};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/matches", post(create_match))
        .route("/persons/{id}/split", post(split))
        .route("/persons/merge", post(merge))
}

/// Body of `POST /matches`.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct MatchRequest {
    /// The potential match (`pm_N`).
    #[schema(example = "pm_1")]
    potential_match_id: String,
    /// Its version as read.
    potential_match_version: i64,
    /// The persons whose records change; empty: confirm the potential match as it is ("not a match").
    person_updates: Vec<PersonUpdateBody>,
    /// Notes on records of the potential match, stored with the caller as author.
    comments: Option<Vec<CommentBody>>,
}

/// One person's records after a match.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct PersonUpdateBody {
    /// An existing person (`p_<uuid>`); absent for a new person.
    id: Option<String>,
    /// The existing person's version as read; absent for a new person.
    version: Option<i64>,
    /// All its records after the match (`pr_N`).
    new_person_record_ids: Vec<String>,
}

/// A note on a record.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct CommentBody {
    /// The record (`pr_N`).
    person_record_id: String,
    /// The text.
    comment: String,
}

/// Body of `POST /persons/{id}/split`.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct SplitRequest {
    /// The person's version as read.
    version: i64,
    /// The new persons, each with the records that move to it; at least one record stays.
    new_persons: Vec<NewPersonBody>,
    /// Notes on records of the person.
    comments: Option<Vec<CommentBody>>,
}

/// A new person of a split.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct NewPersonBody {
    /// Its records (`pr_N`), taken from the person split.
    new_person_record_ids: Vec<String>,
}

/// Body of `POST /persons/merge`.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct MergeRequest {
    /// The person that receives every record.
    person: PersonVersionBody,
    /// The persons merged into it; they end without records, soft-deleted.
    merged_persons: Vec<PersonVersionBody>,
    /// Notes on records of these persons.
    comments: Option<Vec<CommentBody>>,
}

/// A person and its version as read.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct PersonVersionBody {
    /// `p_<uuid>`.
    id: String,
    /// Its version as read.
    version: i64,
}

/// A person after an edit.
#[allow(
    dead_code,
    reason = "the OpenAPI schema of a response built with `json!`"
)]
#[derive(ToSchema)]
pub(crate) struct EditedPersonBody {
    /// `p_<uuid>`.
    id: String,
    /// Its version after the edit.
    version: i64,
    /// Its records after the edit, in id order (empty: deleted).
    person_record_ids: Vec<String>,
}

/// Response of a split.
#[allow(
    dead_code,
    reason = "the OpenAPI schema of a response built with `json!`"
)]
#[derive(ToSchema)]
pub(crate) struct SplitResponse {
    /// The person split, with the records it kept.
    person: EditedPersonBody,
    /// The new persons, in request order.
    new_persons: Vec<EditedPersonBody>,
}

/// Response of a merge.
#[allow(
    dead_code,
    reason = "the OpenAPI schema of a response built with `json!`"
)]
#[derive(ToSchema)]
pub(crate) struct MergeResponse {
    /// The person that received the records.
    person: EditedPersonBody,
    /// The persons merged into it, now empty and deleted.
    merged_persons: Vec<EditedPersonBody>,
}

fn comments(c: &mut Checker, map: &Map<String, Value>) -> Vec<Comment> {
    let Some(items) = c
        .optional(map, "", "comments")
        .and_then(|v| c.list(v, "comments"))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = join("comments", i);
        let Some(map) = c.object(item, &path, &["person_record_id", "comment"]) else {
            continue;
        };
        let record = c
            .required(map, &path, "person_record_id")
            .and_then(|v| c.id(v, &join(&path, "person_record_id")));
        let text = c
            .required(map, &path, "comment")
            .and_then(|v| c.string(v, &join(&path, "comment")));
        if let (Some(person_record_id), Some(text)) = (record, text) {
            out.push(Comment {
                person_record_id,
                comment: text.to_owned(),
            });
        }
    }
    out
}

fn parse_match(body: &Value) -> ApiResult<ManualMatch> {
    let mut c = Checker::default();
    let allowed = [
        "potential_match_id",
        "potential_match_version",
        "person_updates",
        "comments",
    ];
    let Some(map) = c.object(body, "", &allowed) else {
        return Err(c.into_error());
    };
    let group = c
        .required(map, "", "potential_match_id")
        .and_then(|v| c.id(v, "potential_match_id"));
    let version = c
        .required(map, "", "potential_match_version")
        .and_then(|v| c.int(v, "potential_match_version"));
    let mut updates = Vec::new();
    if let Some(items) = c
        .required(map, "", "person_updates")
        .and_then(|v| c.list(v, "person_updates"))
    {
        for (i, item) in items.iter().enumerate() {
            let path = join("person_updates", i);
            let Some(u) = c.object(item, &path, &["id", "version", "new_person_record_ids"]) else {
                continue;
            };
            let id = c
                .optional(u, &path, "id")
                .map(|v| c.id(v, &join(&path, "id")));
            let version = c
                .optional(u, &path, "version")
                .map(|v| c.int(v, &join(&path, "version")));
            let records = c
                .required(u, &path, "new_person_record_ids")
                .and_then(|v| c.ids(v, &join(&path, "new_person_record_ids")));
            match (id, version, records) {
                (Some(None), ..) | (_, Some(None), _) | (_, _, None) => {}
                (id, version, Some(records)) => updates.push(PersonUpdate {
                    id: id.flatten(),
                    version: version.flatten(),
                    new_person_record_ids: records,
                }),
            }
        }
    }
    let comments = comments(&mut c, map);
    match (group, version) {
        (Some(potential_match_id), Some(potential_match_version)) => {
            c.finish()?;
            Ok(ManualMatch {
                potential_match_id,
                potential_match_version,
                person_updates: updates,
                comments,
            })
        }
        _ => Err(c.into_error()),
    }
}

/// Manual match of a potential match.
///
/// Body: `{"potential_match_id": "pm_N", "potential_match_version": int, "person_updates": [{"id"?:
/// "p_<uuid>", "version"?: int, "new_person_record_ids": ["pr_N", ...]}], "comments"?:
/// [{"person_record_id": "pr_N", "comment": str}]}`. The updates re-partition the records of the persons
/// they name (new persons have no `id`); persons not named keep their records, which count as reviewed.
/// Empty `person_updates`: "not a match" (every record reviewed, the potential match closed).
/// 200 `{}`.
#[utoipa::path(
    post,
    path = "/api/v1/matches",
    request_body = MatchRequest,
    responses(
        (status = 200, description = "Matched; the potential match is closed", body = Object),
        (status = 400, description = "Malformed body or ids, or a rule of the reference refused the updates", body = super::openapi::ErrorBody),
        (status = 409, description = "Stale version, already matched or replaced, or an import run is updating matches", body = super::openapi::ErrorBody),
    ),
    tag = "matches",
    security(("bearer" = []))
)]
pub(crate) async fn create_match(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request = parse_match(&parse(&headers, &body)?)?;
    idem_empi::match_person_records(state.engine.pool(), user.id, &request).await?;
    Ok(Json(json!({})))
}

fn edited(person: &EditedPerson) -> Value {
    json!({
        "id": person.id,
        "version": person.version,
        "person_record_ids": person.person_record_ids,
    })
}

fn parse_split(person_id: PersonId, body: &Value) -> ApiResult<Split> {
    let mut c = Checker::default();
    let Some(map) = c.object(body, "", &["version", "new_persons", "comments"]) else {
        return Err(c.into_error());
    };
    let version = c
        .required(map, "", "version")
        .and_then(|v| c.int(v, "version"));
    let mut new_persons = Vec::new();
    if let Some(items) = c
        .required(map, "", "new_persons")
        .and_then(|v| c.list(v, "new_persons"))
    {
        for (i, item) in items.iter().enumerate() {
            let path = join("new_persons", i);
            let Some(p) = c.object(item, &path, &["new_person_record_ids"]) else {
                continue;
            };
            if let Some(records) = c
                .required(p, &path, "new_person_record_ids")
                .and_then(|v| c.ids(v, &join(&path, "new_person_record_ids")))
            {
                new_persons.push(records);
            }
        }
    }
    let comments = comments(&mut c, map);
    let Some(version) = version else {
        return Err(c.into_error());
    };
    c.finish()?;
    Ok(Split {
        person_id,
        version,
        new_persons,
        comments,
    })
}

/// Splits a person outside any potential match: the listed records move into new persons.
///
/// Body: `{"version": int, "new_persons": [{"new_person_record_ids": ["pr_N", ...]}], "comments"?:
/// [...]}`; at least one record must stay with the person. Audited as a `person-split` event.
/// 200 `{"person": {"id", "version", "person_record_ids"}, "new_persons": [{"id", "version",
/// "person_record_ids"}]}`.
#[utoipa::path(
    post,
    path = "/api/v1/persons/{id}/split",
    params(("id" = String, Path, description = "The person (`p_<uuid>`)")),
    request_body = SplitRequest,
    responses(
        (status = 200, description = "Split", body = SplitResponse),
        (status = 400, description = "Malformed body or ids, or records not of this person", body = super::openapi::ErrorBody),
        (status = 404, description = "No such person, or it is deleted", body = super::openapi::ErrorBody),
        (status = 409, description = "Stale version, or an import run is updating matches", body = super::openapi::ErrorBody),
    ),
    tag = "matches",
    security(("bearer" = []))
)]
pub(crate) async fn split(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let person_id: PersonId = id.parse().map_err(|_| ApiError::InvalidId {
        field: "person_id",
        message: "Invalid Person ID",
    })?;
    let request = parse_split(person_id, &parse(&headers, &body)?)?;
    let outcome = idem_empi::split_person(state.engine.pool(), user.id, &request).await?;
    Ok(Json(json!({
        "person": edited(&outcome.person),
        "new_persons": outcome.new_persons.iter().map(edited).collect::<Vec<_>>(),
    })))
}

fn versioned(c: &mut Checker, value: &Value, path: &str) -> Option<VersionedPerson> {
    let map = c.object(value, path, &["id", "version"])?;
    let id = c
        .required(map, path, "id")
        .and_then(|v| c.id(v, &join(path, "id")));
    let version = c
        .required(map, path, "version")
        .and_then(|v| c.int(v, &join(path, "version")));
    Some(VersionedPerson {
        id: id?,
        version: version?,
    })
}

fn parse_merge(body: &Value) -> ApiResult<Merge> {
    let mut c = Checker::default();
    let Some(map) = c.object(body, "", &["person", "merged_persons", "comments"]) else {
        return Err(c.into_error());
    };
    let target = c
        .required(map, "", "person")
        .and_then(|v| versioned(&mut c, v, "person"));
    let mut sources = Vec::new();
    if let Some(items) = c
        .required(map, "", "merged_persons")
        .and_then(|v| c.list(v, "merged_persons"))
    {
        for (i, item) in items.iter().enumerate() {
            sources.extend(versioned(&mut c, item, &join("merged_persons", i)));
        }
    }
    let comments = comments(&mut c, map);
    let Some(target) = target else {
        return Err(c.into_error());
    };
    c.finish()?;
    Ok(Merge {
        target,
        sources,
        comments,
    })
}

/// Merges persons outside any potential match: every record of `merged_persons` moves to `person`.
///
/// Body: `{"person": {"id": "p_<uuid>", "version": int}, "merged_persons": [{"id", "version"}, ...],
/// "comments"?: [...]}`. Audited as a `manual-match` event; the merged persons end empty and
/// soft-deleted. 200 `{"person": {"id", "version", "person_record_ids"}, "merged_persons": [{"id",
/// "version", "person_record_ids": []}]}`.
#[utoipa::path(
    post,
    path = "/api/v1/persons/merge",
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Merged", body = MergeResponse),
        (status = 400, description = "Malformed body or ids, or an unknown person", body = super::openapi::ErrorBody),
        (status = 409, description = "Stale version, a deleted person, or an import run is updating matches", body = super::openapi::ErrorBody),
    ),
    tag = "matches",
    security(("bearer" = []))
)]
pub(crate) async fn merge(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request = parse_merge(&parse(&headers, &body)?)?;
    let outcome = idem_empi::merge_persons(state.engine.pool(), user.id, &request).await?;
    Ok(Json(json!({
        "person": edited(&outcome.person),
        "merged_persons": outcome.merged_persons.iter().map(edited).collect::<Vec<_>>(),
    })))
}
