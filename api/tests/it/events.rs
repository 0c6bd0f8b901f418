//! The audit trail: `GET /match-events` (who, when, what kind, how many records moved; filters) and
//! `GET /persons/{id}/history` (both sides of every move of the person's records).

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{app, engine, send};
use crate::review_fixture::{self, P1, P2, P4};

#[sqlx::test(migrations = false)]
async fn match_events_are_listed_newest_first_and_filtered(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    review_fixture::insert(&pool).await;

    let manual = json!({"id": 2, "created": "2025-02-03T04:05:06.500000Z", "type": "manual-match",
        "job_id": null, "performed_by": {"id": "u_2", "email": "reviewer@example.org"},
        "person_actions": {"add_record": 1, "remove_record": 1, "review": 1}});
    let new_ids = json!({"id": 1, "created": "2025-01-02T03:04:05Z", "type": "new-ids", "job_id": "job_1",
        "performed_by": null, "person_actions": {"add_record": 4, "remove_record": 0, "review": 0}});
    let all = send(&app, "GET", "/api/v1/match-events").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        all.json,
        json!({"match_events": [manual, new_ids], "pagination": {"page": 1, "page_size": 50,
            "total_count": 2, "total_pages": 1, "has_next": false, "has_previous": false,
            "next_page": null, "previous_page": null}})
    );
    for (query, expected) in [
        ("type=new-ids", vec![&new_ids]),
        ("type=person-split", vec![]),
        ("job_id=job_1", vec![&new_ids]),
        ("job_id=job_2", vec![]),
        (&format!("person_id={P4}") as &str, vec![&manual, &new_ids]),
        (&format!("person_id={P2}"), vec![&new_ids]),
        ("potential_match_id=pm_2", vec![&manual]),
        ("potential_match_id=pm_1", vec![]),
        (
            "type=manual-match&person_id=p_a1111111-1111-4111-8111-111111111111",
            vec![&manual],
        ),
    ] {
        let found = send(&app, "GET", &format!("/api/v1/match-events?{query}")).await;
        assert_eq!(found.status, StatusCode::OK, "{query}");
        assert_eq!(found.json["match_events"], json!(expected), "{query}");
        assert_eq!(
            found.json["pagination"]["total_count"],
            expected.len(),
            "{query}"
        );
    }
    let paged = send(&app, "GET", "/api/v1/match-events?page=2&page_size=1").await;
    assert_eq!(paged.json["match_events"], json!([new_ids]));
    assert_eq!(paged.json["pagination"]["previous_page"], 1);

    for (query, field, message) in [
        ("type=merge", "type", "\"merge\" is not a valid choice."),
        ("job_id=1", "job_id", "Invalid Job ID"),
        ("person_id=p_1", "person_id", "Invalid Person ID"),
        (
            "potential_match_id=job_1",
            "potential_match_id",
            "Invalid PotentialMatch ID",
        ),
        ("who=me", "who", "Unexpected field"),
    ] {
        let bad = send(&app, "GET", &format!("/api/v1/match-events?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            bad.json["error"]["details"],
            json!([{"field": field, "message": message}]),
            "{query}"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn a_persons_history_shows_both_sides_of_each_move(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    review_fixture::insert(&pool).await;

    let reviewer = json!({"id": "u_2", "email": "reviewer@example.org"});
    let history = send(&app, "GET", &format!("/api/v1/persons/{P1}/history")).await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(
        history.json,
        json!({"history": [
            {"id": 2, "created": "2025-02-03T04:05:06.500000Z", "type": "manual-match", "job_id": null,
             "performed_by": reviewer, "actions": [
                {"type": "remove-record", "person_id": P4, "person_record_id": "pr_2", "potential_match_id": "pm_2"},
                {"type": "add-record", "person_id": P1, "person_record_id": "pr_2", "potential_match_id": "pm_2"},
                {"type": "review", "person_id": P1, "person_record_id": "pr_1", "potential_match_id": "pm_2"}]},
            {"id": 1, "created": "2025-01-02T03:04:05Z", "type": "new-ids", "job_id": "job_1",
             "performed_by": null, "actions": [
                {"type": "add-record", "person_id": P1, "person_record_id": "pr_1", "potential_match_id": null}]},
        ], "pagination": {"page": 1, "page_size": 50, "total_count": 2, "total_pages": 1, "has_next": false,
            "has_previous": false, "next_page": null, "previous_page": null}})
    );

    // A merged-away (deleted) person keeps its history: where its record went.
    let gone = send(
        &app,
        "GET",
        &format!("/api/v1/persons/{P4}/history?page_size=1"),
    )
    .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(
        gone.json["history"][0]["actions"],
        json!([
            {"type": "remove-record", "person_id": P4, "person_record_id": "pr_2", "potential_match_id": "pm_2"},
            {"type": "add-record", "person_id": P1, "person_record_id": "pr_2", "potential_match_id": "pm_2"}])
    );
    assert_eq!(gone.json["pagination"]["total_count"], 2);
    assert_eq!(gone.json["pagination"]["has_next"], true);

    let unknown = send(
        &app,
        "GET",
        "/api/v1/persons/p_e5555555-5555-4555-8555-555555555555/history",
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = send(&app, "GET", "/api/v1/persons/p_nope/history").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json["error"]["message"], "Invalid Person ID");
    let keyed = send(&app, "GET", &format!("/api/v1/persons/{P1}/history?type=x")).await;
    assert_eq!(keyed.status, StatusCode::BAD_REQUEST);
}
