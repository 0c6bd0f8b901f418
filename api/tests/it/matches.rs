//! `POST /matches`: the reference's manual-match semantics, its validation messages, and concurrency
//! (the same group twice at once; a run holding the match-update lock).

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool};

use crate::common::{p, send_body, send_json, with_potential_matches};

/// (id, version, record_count, deleted) of every person, by id.
pub async fn persons(pool: &PgPool) -> Vec<(i64, i64, i64, bool)> {
    sqlx::query_as("SELECT id, version, record_count, deleted IS NOT NULL FROM persons ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// (record, person) of every record, by record id.
pub async fn owners(pool: &PgPool) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT id, person_id FROM person_records ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// (type, person, record, group, performed_by) of the actions of every event of `kind`, by id.
pub async fn actions(
    pool: &PgPool,
    kind: &str,
) -> Vec<(String, i64, i64, Option<i64>, Option<i64>)> {
    sqlx::query_as(
        "SELECT a.type, a.person_id, a.person_record_id, a.match_group_id, a.performed_by_id \
         FROM person_actions a JOIN match_events e ON e.id = a.match_event_id \
         WHERE e.type = $1 ORDER BY a.id",
    )
    .bind(kind)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every record in exactly one live person, counts equal to the records, removes paired with adds in
/// each event, and every record's last add-record action naming its current person.
pub async fn assert_invariants(pool: &PgPool) {
    let miscounted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM persons p WHERE p.record_count <> \
         (SELECT count(*) FROM person_records r WHERE r.person_id = p.id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(miscounted, 0, "record counts");
    let in_deleted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM person_records r JOIN persons p ON p.id = r.person_id WHERE p.deleted IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(in_deleted, 0, "records of deleted persons");
    let unpaired: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM person_actions a WHERE a.type = 'remove-record' AND NOT EXISTS ( \
             SELECT 1 FROM person_actions b WHERE b.match_event_id = a.match_event_id \
             AND b.person_record_id = a.person_record_id AND b.type = 'add-record' AND b.id > a.id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unpaired, 0, "removes without adds");
    let stale: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM person_records r WHERE EXISTS (SELECT 1 FROM person_actions a \
             WHERE a.person_record_id = r.id AND a.type = 'add-record') \
         AND r.person_id <> (SELECT a.person_id FROM person_actions a WHERE a.person_record_id = r.id \
             AND a.type = 'add-record' ORDER BY a.id DESC LIMIT 1)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(stale, 0, "records whose last add names another person");
}

fn review(person: i64, record: i64) -> (String, i64, i64, Option<i64>, Option<i64>) {
    ("review".into(), person, record, Some(1), Some(1))
}
fn remove(person: i64, record: i64) -> (String, i64, i64, Option<i64>, Option<i64>) {
    ("remove-record".into(), person, record, Some(1), Some(1))
}
fn add(person: i64, record: i64) -> (String, i64, i64, Option<i64>, Option<i64>) {
    ("add-record".into(), person, record, Some(1), Some(1))
}

async fn group(pool: &PgPool, id: i64) -> (i64, bool) {
    sqlx::query_as("SELECT version, matched IS NOT NULL FROM match_groups WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_match_repartitions_records_with_its_event_actions_and_notes(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    // p1 {pr_1, pr_2}, p2 {pr_3}, p3 {} (deleted); p4 is not named: its record is reviewed.
    let body = json!({
        "potential_match_id": "pm_1",
        "potential_match_version": 1,
        "person_updates": [
            {"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_2"]},
            {"id": p(2), "version": 1, "new_person_record_ids": ["pr_3"]},
            {"id": p(3), "version": 1, "new_person_record_ids": []},
        ],
        "comments": [{"person_record_id": "pr_2", "comment": "Same DOB and address"}],
    });
    let response = send_json(&app, "POST", "/api/v1/matches", &body).await;
    assert_eq!(
        (response.status, response.json),
        (StatusCode::OK, json!({}))
    );

    assert_eq!(
        persons(&pool).await[..4],
        [
            (1, 2, 2, false),
            (2, 2, 1, false),
            (3, 2, 0, true),
            (4, 1, 1, false)
        ]
    );
    assert_eq!(owners(&pool).await[..4], [(1, 1), (2, 1), (3, 2), (4, 4)]);
    assert_eq!(
        actions(&pool, "manual-match").await,
        vec![
            review(1, 1),
            review(4, 4),
            remove(2, 2),
            remove(3, 3),
            add(1, 2),
            add(2, 3)
        ]
    );
    let group_actions: Vec<(String, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT type, match_group_id, performed_by_id FROM match_group_actions")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(group_actions, vec![("match".into(), Some(1), Some(1))]);
    assert_eq!(group(&pool, 1).await, (2, true));
    let reviewed: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM person_records r JOIN match_events e ON e.type = 'manual-match' \
         WHERE r.matched_or_reviewed = e.created ORDER BY r.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(reviewed, vec![1, 2, 3, 4]);
    let moved: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM person_records r JOIN match_events e ON e.type = 'manual-match' \
         WHERE r.person_updated = e.created ORDER BY r.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(moved, vec![2, 3]);
    let notes: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT person_record_id, note, author_id FROM person_record_notes")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(notes, vec![(2, "Same DOB and address".into(), 1)]);
    assert_invariants(&pool).await;

    // The same request again: the group is closed.
    let again = send_json(&app, "POST", "/api/v1/matches", &body).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.json,
        json!({"error": {"code": "conflict", "message": "Potential match has already been matched"}})
    );
}

#[sqlx::test(migrations = false)]
async fn empty_updates_mean_not_a_match_and_new_persons_are_created(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let body =
        json!({"potential_match_id": "pm_1", "potential_match_version": 1, "person_updates": []});
    let response = send_json(&app, "POST", "/api/v1/matches", &body).await;
    assert_eq!(
        (response.status, response.json),
        (StatusCode::OK, json!({}))
    );
    assert_eq!(group(&pool, 1).await, (2, true));
    assert_eq!(
        actions(&pool, "manual-match").await,
        vec![review(1, 1), review(2, 2), review(3, 3), review(4, 4)]
    );
    assert!(
        persons(&pool).await.iter().all(|p| p.1 == 1),
        "no person changed"
    );

    // pm_2: p5 keeps pr_5; pr_6 leaves p6 (deleted) for a new person.
    let body = json!({
        "potential_match_id": "pm_2",
        "potential_match_version": 1,
        "person_updates": [
            {"id": p(6), "version": 1, "new_person_record_ids": []},
            {"new_person_record_ids": ["pr_6"]},
        ],
    });
    let response = send_json(&app, "POST", "/api/v1/matches", &body).await;
    assert_eq!(
        (response.status, response.json),
        (StatusCode::OK, json!({}))
    );
    let new: (i64, Option<i64>, i64, i64) =
        sqlx::query_as("SELECT id, job_id, version, record_count FROM persons WHERE id > 8")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(new, (9, None, 1, 1));
    assert_eq!(owners(&pool).await[4..6], [(5, 5), (6, 9)]);
    assert_eq!(persons(&pool).await[5], (6, 2, 0, true));
    assert_invariants(&pool).await;
}

/// POSTs `body` to /matches and returns (status, body).
async fn post(app: &axum::Router, body: Value) -> (StatusCode, Value) {
    let r = send_json(app, "POST", "/api/v1/matches", &body).await;
    (r.status, r.json)
}

fn invalid(message: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": {"code": "validation_failed", "message": "Validation failed",
            "details": [{"message": message}]}}),
    )
}

fn conflict(message: &str) -> (StatusCode, Value) {
    (
        StatusCode::CONFLICT,
        json!({"error": {"code": "conflict", "message": message}}),
    )
}

fn pm1(updates: Value) -> Value {
    json!({"potential_match_id": "pm_1", "potential_match_version": 1, "person_updates": updates})
}

#[sqlx::test(migrations = false)]
async fn the_references_validation_messages(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let uuid1 = p(1)[2..].to_owned();
    let cases: Vec<(Value, (StatusCode, Value))> = vec![
        (
            pm1(json!([{"id": p(1), "new_person_record_ids": ["pr_1"]}])),
            invalid("A PersonUpdate for an existing Person should specify a version"),
        ),
        (
            pm1(json!([{"version": 1, "new_person_record_ids": ["pr_1"]}])),
            invalid("A PersonUpdate for a new Person should not specify a version"),
        ),
        (
            pm1(json!([{"new_person_record_ids": []}])),
            invalid("A PersonUpdate for a new Person should have 1 or more new_record_ids"),
        ),
        (
            pm1(
                json!([{"new_person_record_ids": ["pr_3"]}, {"new_person_record_ids": ["pr_1", "pr_1"]}]),
            ),
            invalid(
                "A PersonRecord ID cannot exist twice in the same PersonUpdate. PersonRecord 1 exists in update for Person index 1 twice.",
            ),
        ),
        (
            pm1(json!([{"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_1"]}])),
            invalid(&format!(
                "A PersonRecord ID cannot exist twice in the same PersonUpdate. PersonRecord 1 exists in update for Person {uuid1} twice."
            )),
        ),
        (
            pm1(json!([
                {"id": p(1), "version": 1, "new_person_record_ids": ["pr_1"]},
                {"new_person_record_ids": ["pr_1"]},
            ])),
            invalid(&format!(
                "A PersonRecord ID cannot exist in more than PersonUpdate. PersonRecord 1 exists in updates for Person {uuid1} and Person index 1."
            )),
        ),
        (
            pm1(json!([{"new_person_record_ids": ["pr_2"]}, {"new_person_record_ids": ["pr_2"]}])),
            invalid(
                "A PersonRecord ID cannot exist in more than PersonUpdate. PersonRecord 2 exists in updates for Person index 0 and Person index 1.",
            ),
        ),
        (
            pm1(json!([
                {"id": p(1), "version": 1, "new_person_record_ids": ["pr_1"]},
                {"id": p(1), "version": 1, "new_person_record_ids": ["pr_2"]},
            ])),
            invalid("The same Person UUID cannot exist in more than one PersonUpdate"),
        ),
        (
            json!({"potential_match_id": "pm_99", "potential_match_version": 1, "person_updates": []}),
            invalid("Potential match does not exist"),
        ),
        (
            json!({"potential_match_id": "pm_4", "potential_match_version": 1, "person_updates": []}),
            conflict("Potential match has been replaced"),
        ),
        (
            json!({"potential_match_id": "pm_3", "potential_match_version": 1, "person_updates": []}),
            conflict("Potential match has already been matched"),
        ),
        (
            json!({"potential_match_id": "pm_1", "potential_match_version": 2, "person_updates": []}),
            conflict("Potential match version is outdated"),
        ),
        (
            pm1(json!([
                {"id": p(1), "version": 2, "new_person_record_ids": ["pr_1", "pr_2"]},
                {"id": p(2), "version": 1, "new_person_record_ids": []},
            ])),
            conflict("Invalid Person UUID or version outdated"),
        ),
        (
            pm1(json!([{"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_5"]}])),
            invalid(
                "PersonRecord IDs specified in new_person_record_ids must be related to PotentialMatch",
            ),
        ),
        (
            pm1(json!([{"new_person_record_ids": ["pr_999"]}])),
            invalid(
                "PersonRecord IDs specified in new_person_record_ids must be related to PotentialMatch",
            ),
        ),
        (
            pm1(json!([{"id": p(5), "version": 1, "new_person_record_ids": ["pr_5"]}])),
            invalid("Specified Person UUID must be related to PotentialMatch"),
        ),
        (
            pm1(json!([{"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_2"]}])),
            invalid(
                "PersonRecord IDs that are added to a Person, must be removed from another Person",
            ),
        ),
        (
            pm1(json!([{"id": p(1), "version": 1, "new_person_record_ids": []}])),
            invalid(
                "PersonRecord IDs that are removed from a Person, must be added to another Person",
            ),
        ),
        (
            json!({"potential_match_id": "pm_1", "potential_match_version": 1, "person_updates": [],
                "comments": [{"person_record_id": "pr_5", "comment": "x"}]}),
            invalid("PersonRecord IDs specified in comments must be related to PotentialMatch"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(post(&app, body.clone()).await, expected, "{body}");
    }
    // Nothing was written by any of them.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM match_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 0);
    assert_eq!(group(&pool, 1).await, (1, false));
}

#[sqlx::test(migrations = false)]
async fn malformed_bodies_and_ids_are_400_with_field_details(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let missing = post(&app, json!({"person_updates": [{"id": p(1)}], "extra": 1})).await;
    assert_eq!(
        missing,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "validation_failed", "message": "Validation failed", "details": [
                {"field": "extra", "message": "Unexpected field"},
                {"field": "potential_match_id", "message": "This field is required."},
                {"field": "potential_match_version", "message": "This field is required."},
                {"field": "person_updates.0.new_person_record_ids", "message": "This field is required."},
            ]}})
        )
    );
    let malformed = post(
        &app,
        json!({"potential_match_id": "123", "potential_match_version": "x",
            "person_updates": [{"id": "p_123", "version": 1, "new_person_record_ids": ["pr_1", "pm_2"]}],
            "comments": [{"person_record_id": "pr_1"}]}),
    )
    .await;
    assert_eq!(
        malformed,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "validation_failed", "message": "Validation failed", "details": [
                {"field": "potential_match_id", "message": "Invalid PotentialMatch ID"},
                {"field": "potential_match_version", "message": "A valid integer is required."},
                {"field": "person_updates.0.id", "message": "Invalid Person ID"},
                {"field": "person_updates.0.new_person_record_ids.1", "message": "Invalid PersonRecord ID"},
                {"field": "comments.0.comment", "message": "This field is required."},
            ]}})
        )
    );
    let not_a_list = post(
        &app,
        json!({"potential_match_id": "pm_1", "potential_match_version": 1,
        "person_updates": "all"}),
    )
    .await;
    assert_eq!(
        not_a_list.1["error"]["details"],
        json!([{"field": "person_updates", "message": "Expected a list of items but got type \"str\"."}])
    );
    let parse = send_body(
        &app,
        "POST",
        "/api/v1/matches",
        "application/json",
        "{".into(),
    )
    .await;
    assert_eq!(parse.status, StatusCode::BAD_REQUEST);
    assert_eq!(parse.json["error"]["code"], "validation_failed");
    assert!(
        parse.json["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{}",
        parse.json
    );
    let form = send_body(
        &app,
        "POST",
        "/api/v1/matches",
        "multipart/form-data",
        "x".into(),
    )
    .await;
    assert_eq!(
        (form.status, form.json),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": {"code": "unsupported_media_type",
                "message": "Unsupported media type \"multipart/form-data\" in request."}})
        )
    );
}

/// Waits until `n` backends of this database wait for a lock.
pub async fn wait_for_lock_waiters(pool: &PgPool, n: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{waiting} of {n} lock waiters"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn two_matches_on_one_group_one_wins_the_other_conflicts(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    // Hold the group's row so that both requests are inside their transactions before either proceeds.
    let mut blocker = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM match_groups WHERE id = 1 FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let confirm = pm1(json!([]));
    let repartition = pm1(json!([
        {"id": p(2), "version": 1, "new_person_record_ids": []},
        {"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_2"]},
    ]));
    let first = tokio::spawn({
        let app = app.clone();
        async move { post(&app, confirm).await }
    });
    let second = tokio::spawn({
        let app = app.clone();
        async move { post(&app, repartition).await }
    });
    wait_for_lock_waiters(&pool, 2).await;
    // Another group is not held up by them.
    let other =
        json!({"potential_match_id": "pm_2", "potential_match_version": 1, "person_updates": []});
    assert_eq!(post(&app, other).await, (StatusCode::OK, json!({})));
    tx.rollback().await.unwrap();
    let mut outcomes = [first.await.unwrap(), second.await.unwrap()];
    outcomes.sort_by_key(|o| o.0);
    assert_eq!(outcomes[0], (StatusCode::OK, json!({})));
    assert_eq!(
        outcomes[1],
        conflict("Potential match has already been matched")
    );
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM match_events WHERE type = 'manual-match'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 2);
    assert_eq!(group(&pool, 1).await, (2, true));
    assert_invariants(&pool).await;
}

#[sqlx::test(migrations = false)]
async fn edits_are_refused_at_once_while_a_run_holds_the_match_lock(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let mut run = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    let mut tx = run.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(idem_empi::locks::MATCH_UPDATE)
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused = conflict(idem_empi::CONCURRENT_RUN_MESSAGE);
    assert_eq!(post(&app, pm1(json!([]))).await, refused);
    let split = send_json(
        &app,
        "POST",
        &format!("/api/v1/persons/{}/split", p(1)),
        &json!({"version": 1, "new_persons": [{"new_person_record_ids": ["pr_1"]}]}),
    )
    .await;
    assert_eq!((split.status, split.json), refused);
    let merge = send_json(
        &app,
        "POST",
        "/api/v1/persons/merge",
        &json!({"person": {"id": p(1), "version": 1}, "merged_persons": [{"id": p(2), "version": 1}]}),
    )
    .await;
    assert_eq!((merge.status, merge.json), refused);
    tx.commit().await.unwrap();
    assert_eq!(
        post(&app, pm1(json!([]))).await,
        (StatusCode::OK, json!({}))
    );
}

#[sqlx::test(migrations = false)]
async fn linked_records_belong_to_the_match_and_move_with_their_persons(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    // pr_9: a second record of p2 that no result references.
    sqlx::query(
        "INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, data_source, \
         source_person_id) VALUES (now(), 1, 2, now(), record_content_hash('ds9', 'a9', NULL, NULL, NULL, \
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), 'ds9', 'a9')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE persons SET record_count = 2 WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    let partial = pm1(json!([
        {"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_2"]},
        {"id": p(2), "version": 1, "new_person_record_ids": []},
    ]));
    assert_eq!(
        post(&app, partial).await,
        invalid("PersonRecord IDs that are removed from a Person, must be added to another Person")
    );
    let whole = pm1(json!([
        {"id": p(1), "version": 1, "new_person_record_ids": ["pr_1", "pr_2", "pr_9"]},
        {"id": p(2), "version": 1, "new_person_record_ids": []},
    ]));
    assert_eq!(post(&app, whole).await, (StatusCode::OK, json!({})));
    assert_eq!(
        persons(&pool).await[..2],
        [(1, 2, 3, false), (2, 2, 0, true)]
    );
    assert_eq!(
        actions(&pool, "manual-match").await,
        vec![
            review(1, 1),
            review(3, 3),
            review(4, 4),
            remove(2, 2),
            remove(2, 9),
            add(1, 2),
            add(1, 9)
        ]
    );
    assert_invariants(&pool).await;
}
