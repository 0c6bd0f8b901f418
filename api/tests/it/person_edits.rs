//! `POST /persons/merge` and `POST /persons/{id}/split`: versioned, audited, and every record stays in
//! exactly one person with correct counts.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool};

use crate::common::{p, send_json, with_potential_matches};
use crate::matches::{actions, assert_invariants, owners, persons, wait_for_lock_waiters};

type Action = (String, i64, i64, Option<i64>, Option<i64>);

fn action(kind: &str, person: i64, record: i64) -> Action {
    (kind.into(), person, record, None, Some(1))
}

#[sqlx::test(migrations = false)]
async fn merge_then_split_keep_every_record_in_one_person(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;

    // Merge p2 and p3 into p1.
    let merge = json!({
        "person": {"id": p(1), "version": 1},
        "merged_persons": [{"id": p(3), "version": 1}, {"id": p(2), "version": 1}],
        "comments": [{"person_record_id": "pr_3", "comment": "Same person, new surname"}],
    });
    let merged = send_json(&app, "POST", "/api/v1/persons/merge", &merge).await;
    assert_eq!(
        (merged.status, merged.json),
        (
            StatusCode::OK,
            json!({
                "person": {"id": p(1), "version": 2, "person_record_ids": ["pr_1", "pr_2", "pr_3"]},
                "merged_persons": [
                    {"id": p(3), "version": 2, "person_record_ids": []},
                    {"id": p(2), "version": 2, "person_record_ids": []},
                ],
            })
        )
    );
    assert_eq!(
        persons(&pool).await[..4],
        [
            (1, 2, 3, false),
            (2, 2, 0, true),
            (3, 2, 0, true),
            (4, 1, 1, false)
        ]
    );
    assert_eq!(owners(&pool).await[..3], [(1, 1), (2, 1), (3, 1)]);
    assert_eq!(
        actions(&pool, "manual-match").await,
        vec![
            action("review", 1, 1),
            action("remove-record", 2, 2),
            action("remove-record", 3, 3),
            action("add-record", 1, 2),
            action("add-record", 1, 3),
        ]
    );
    let notes: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT person_record_id, note, author_id FROM person_record_notes")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(notes, vec![(3, "Same person, new surname".into(), 1)]);
    assert_invariants(&pool).await;

    // The same merge again: p1's version moved on, and p2, p3 are gone.
    let stale = send_json(&app, "POST", "/api/v1/persons/merge", &merge).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(
        stale.json["error"]["message"],
        format!("Person {} version is outdated", p(1))
    );
    let deleted = send_json(
        &app,
        "POST",
        "/api/v1/persons/merge",
        &json!({"person": {"id": p(1), "version": 2}, "merged_persons": [{"id": p(2), "version": 2}]}),
    )
    .await;
    assert_eq!(
        (deleted.status, deleted.json["error"]["message"].clone()),
        (
            StatusCode::CONFLICT,
            json!(format!("Person {} has been deleted", p(2)))
        )
    );

    // Split pr_2 and pr_3 out of p1 into two new persons.
    let split_uri = format!("/api/v1/persons/{}/split", p(1));
    let split = json!({"version": 2, "new_persons": [
        {"new_person_record_ids": ["pr_3"]}, {"new_person_record_ids": ["pr_2"]}]});
    let outcome = send_json(&app, "POST", &split_uri, &split).await;
    assert_eq!(outcome.status, StatusCode::OK, "{}", outcome.json);
    let new_ids: Vec<Value> = outcome.json["new_persons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(
        outcome.json,
        json!({
            "person": {"id": p(1), "version": 3, "person_record_ids": ["pr_1"]},
            "new_persons": [
                {"id": new_ids[0], "version": 1, "person_record_ids": ["pr_3"]},
                {"id": new_ids[1], "version": 1, "person_record_ids": ["pr_2"]},
            ],
        })
    );
    let new_uuids: Vec<String> = sqlx::query_scalar(
        "SELECT 'p_' || uuid::text FROM persons WHERE id > 8 AND job_id IS NULL ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(json!(new_uuids), json!(new_ids));
    assert_eq!(owners(&pool).await[..3], [(1, 1), (2, 10), (3, 9)]);
    assert_eq!(persons(&pool).await[0], (1, 3, 1, false));
    assert_eq!(
        &persons(&pool).await[8..],
        [(9, 1, 1, false), (10, 1, 1, false)]
    );
    assert_eq!(
        actions(&pool, "person-split").await,
        vec![
            action("review", 1, 1),
            action("remove-record", 1, 2),
            action("remove-record", 1, 3),
            action("add-record", 10, 2),
            action("add-record", 9, 3),
        ]
    );
    assert_invariants(&pool).await;

    // Refusals: stale version, a record of another person, nothing left, unknown and malformed ids.
    let refusals = [
        (
            split_uri.clone(),
            json!({"version": 2, "new_persons": [{"new_person_record_ids": ["pr_1"]}]}),
            StatusCode::CONFLICT,
            "Person version is outdated",
        ),
        (
            split_uri.clone(),
            json!({"version": 3, "new_persons": [{"new_person_record_ids": ["pr_2"]}]}),
            StatusCode::BAD_REQUEST,
            "PersonRecord IDs specified in new_person_record_ids must belong to the Person",
        ),
        (
            split_uri.clone(),
            json!({"version": 3, "new_persons": [{"new_person_record_ids": ["pr_1"]}]}),
            StatusCode::BAD_REQUEST,
            "A split must leave at least one PersonRecord in the Person",
        ),
        (
            split_uri.clone(),
            json!({"version": 3, "new_persons": []}),
            StatusCode::BAD_REQUEST,
            "A split should have 1 or more new persons",
        ),
        (
            format!("/api/v1/persons/{}/split", p(2)),
            json!({"version": 2, "new_persons": [{"new_person_record_ids": ["pr_2"]}]}),
            StatusCode::NOT_FOUND,
            "Resource not found",
        ),
        (
            "/api/v1/persons/merge".to_owned(),
            json!({"person": {"id": p(1), "version": 3}, "merged_persons": [{"id": p(1), "version": 3}]}),
            StatusCode::BAD_REQUEST,
            "The same Person UUID cannot exist more than once in a merge",
        ),
        (
            "/api/v1/persons/merge".to_owned(),
            json!({"person": {"id": p(1), "version": 3}, "merged_persons": []}),
            StatusCode::BAD_REQUEST,
            "A merge should have 1 or more source persons",
        ),
    ];
    for (uri, body, status, message) in refusals {
        let r = send_json(&app, "POST", &uri, &body).await;
        assert_eq!(r.status, status, "{body}");
        let got = r.json["error"]["details"][0]["message"]
            .as_str()
            .or(r.json["error"]["message"].as_str())
            .unwrap()
            .to_owned();
        assert_eq!(got, message, "{body}");
    }
    let bad_id = send_json(&app, "POST", "/api/v1/persons/p_123/split", &split).await;
    assert_eq!(
        (bad_id.status, bad_id.json),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_id", "message": "Invalid Person ID",
                "details": [{"field": "person_id", "message": "Invalid Person ID"}]}})
        )
    );
    let unknown = send_json(
        &app,
        "POST",
        "/api/v1/persons/merge",
        &json!({"person": {"id": p(1), "version": 3},
            "merged_persons": [{"id": "p_00000000-0000-4000-8000-000000000099", "version": 1}]}),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.json["error"]["details"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!([{"message": "Person p_00000000-0000-4000-8000-000000000099 does not exist"}])
        )
    );
    assert_eq!(
        persons(&pool).await[0],
        (1, 3, 1, false),
        "refusals change nothing"
    );
    assert_invariants(&pool).await;
}

#[sqlx::test(migrations = false)]
async fn concurrent_merges_into_one_person_one_wins_the_other_conflicts(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let mut blocker = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM persons WHERE id = 1 FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let merge = |source: u8| {
        let app = app.clone();
        let body = json!({"person": {"id": p(1), "version": 1},
            "merged_persons": [{"id": p(source), "version": 1}]});
        tokio::spawn(async move {
            let r = send_json(&app, "POST", "/api/v1/persons/merge", &body).await;
            (r.status, r.json)
        })
    };
    let (first, second) = (merge(2), merge(3));
    wait_for_lock_waiters(&pool, 2).await;
    tx.rollback().await.unwrap();
    let mut outcomes = [first.await.unwrap(), second.await.unwrap()];
    outcomes.sort_by_key(|o| o.0);
    assert_eq!(outcomes[0].0, StatusCode::OK, "{}", outcomes[0].1);
    assert_eq!(
        outcomes[1],
        (
            StatusCode::CONFLICT,
            json!({"error": {"code": "conflict",
                "message": format!("Person {} version is outdated", p(1))}})
        )
    );
    // p1 has its record and the winner's; the loser's source is untouched.
    let p1 = &persons(&pool).await[0];
    assert_eq!((p1.1, p1.2), (2, 2));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM match_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
    assert_invariants(&pool).await;
}
