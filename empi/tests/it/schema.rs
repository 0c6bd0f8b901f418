//! The migration applies, and the database itself rejects rows that break the model's integrity.

use sqlx::PgPool;

use crate::common::{job, migrate, person, record, sqlstate, violated};

const TABLES: [&str; 12] = [
    "users",
    "configs",
    "jobs",
    "person_record_staging",
    "persons",
    "person_records",
    "person_record_notes",
    "match_groups",
    "match_events",
    "prediction_results",
    "person_actions",
    "match_group_actions",
];

#[sqlx::test(migrations = false)]
async fn migrations_apply_twice(pool: PgPool) {
    migrate(&pool).await;
    migrate(&pool).await;
    for table in TABLES {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&pool)
            .await
            .expect("query");
        assert!(exists, "table {table}");
    }
    let trgm: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
            .fetch_one(&pool)
            .await
            .expect("query");
    assert!(trgm);
    let trgm_indexes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'person_records' AND indexdef LIKE '%gin_trgm_ops%'",
    )
    .fetch_one(&pool)
    .await
    .expect("query");
    assert_eq!(trgm_indexes, 3);
}

#[sqlx::test(migrations = false)]
async fn persons_and_records_keep_their_integrity(pool: PgPool) {
    migrate(&pool).await;
    let job = job(&pool).await;
    let p = person(&pool, job, 1).await;
    let r = record(&pool, job, p, "ds", "a1").await.expect("record");

    let set_count = |count: i64, deleted: bool| {
        sqlx::query(
            "UPDATE persons SET record_count = $2, deleted = CASE WHEN $3 THEN now() END WHERE id = $1",
        )
        .bind(p)
        .bind(count)
        .bind(deleted)
        .execute(&pool)
    };
    assert_eq!(
        violated(set_count(-1, false).await),
        "persons_record_count_gte_zero"
    );
    assert_eq!(
        violated(set_count(0, false).await),
        "persons_deleted_iff_empty"
    );
    assert_eq!(
        violated(set_count(2, true).await),
        "persons_deleted_iff_empty"
    );
    set_count(0, true)
        .await
        .expect("an empty person is deleted");
    set_count(1, false).await.expect("and may be revived");
    assert_eq!(
        violated(
            sqlx::query("UPDATE persons SET version = 0 WHERE id = $1")
                .bind(p)
                .execute(&pool)
                .await
        ),
        "persons_version_check"
    );

    // The same content twice: the unique hash refuses the second record.
    let p2 = person(&pool, job, 1).await;
    assert_eq!(
        violated(record(&pool, job, p2, "ds", "a1").await),
        "person_records_sha256_unique"
    );
    // A record belongs to exactly one existing person.
    assert_eq!(
        violated(record(&pool, job, 999_999, "ds", "a2").await),
        "person_records_person_id_fkey"
    );
    assert_eq!(
        sqlstate(
            sqlx::query("UPDATE person_records SET person_id = NULL WHERE id = $1")
                .bind(r)
                .execute(&pool)
                .await
        ),
        "23502",
        "not_null_violation"
    );
    // Only the membership and review columns change.
    sqlx::query(
        "UPDATE person_records SET person_id = $2, person_updated = now(), matched_or_reviewed = now() \
         WHERE id = $1",
    )
    .bind(r)
    .bind(p2)
    .execute(&pool)
    .await
    .expect("moving a record");
    for change in [
        "first_name = 'x'",
        "data_source = 'other'",
        "sha256 = sha256('x')",
        "created = now() - interval '1 day'",
    ] {
        let sql = format!("UPDATE person_records SET {change} WHERE id = {r}");
        assert_eq!(
            violated(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await),
            "person_records_immutable",
            "{change}"
        );
    }
    // Setting a field to its current value is not a change.
    sqlx::query("UPDATE person_records SET source_person_id = source_person_id WHERE id = $1")
        .bind(r)
        .execute(&pool)
        .await
        .expect("no-op update");
    assert_eq!(
        violated(
            sqlx::query(
                "INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, \
                 data_source, source_person_id) VALUES (now(), $1, $2, now(), '\\x00', 'ds', 'a3')",
            )
            .bind(job)
            .bind(p2)
            .execute(&pool)
            .await
        ),
        "person_records_sha256_check"
    );
    // Staging: a line is staged once per job.
    let stage = |line: i64| {
        sqlx::query(
            "INSERT INTO person_record_staging (job_id, line_number, data_source, source_person_id) \
             VALUES ($1, $2, 'ds', 'a1')",
        )
        .bind(job)
        .bind(line)
        .execute(&pool)
    };
    stage(2).await.expect("staged");
    assert_eq!(violated(stage(2).await), "person_record_staging_job_line");
    assert_eq!(
        violated(stage(0).await),
        "person_record_staging_line_number_check"
    );
}

#[sqlx::test(migrations = false)]
async fn results_groups_and_enums_keep_their_integrity(pool: PgPool) {
    migrate(&pool).await;
    let job = job(&pool).await;
    let p = person(&pool, job, 3).await;
    let mut records = Vec::new();
    for source in ["a1", "a2", "a3"] {
        records.push(record(&pool, job, p, "ds", source).await.expect("record"));
    }
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO match_groups (uuid, created, updated, job_id) VALUES (gen_random_uuid(), now(), now(), $1) \
         RETURNING id",
    )
    .bind(job)
    .fetch_one(&pool)
    .await
    .expect("group");
    let result = |l: i64, r: i64, probability: f64| {
        sqlx::query(
            "INSERT INTO prediction_results (created, job_id, match_group_id, match_group_updated, \
             match_weight, match_probability, person_record_l_id, person_record_r_id, data) \
             VALUES (now(), $1, $2, now(), 3.0, $3, $4, $5, '{\"match_key\": \"0\"}')",
        )
        .bind(job)
        .bind(group)
        .bind(probability)
        .bind(l)
        .bind(r)
        .execute(&pool)
    };
    let (a, b, c) = (records[0], records[1], records[2]);
    result(a, b, 0.9).await.expect("an ordered pair");
    assert_eq!(
        violated(result(b, a, 0.9).await),
        "prediction_results_ordered_pair"
    );
    assert_eq!(
        violated(result(c, c, 0.9).await),
        "prediction_results_ordered_pair"
    );
    assert_eq!(
        violated(result(a, b, 0.8).await),
        "prediction_results_pair_unique"
    );
    assert_eq!(
        violated(result(a, c, 1.5).await),
        "prediction_results_match_probability_check"
    );
    assert_eq!(
        violated(result(a, 999_999, 0.9).await),
        "prediction_results_person_record_r_id_fkey"
    );

    let exec = |sql: &'static str| sqlx::query(sql).execute(&pool);
    assert_eq!(
        violated(exec("UPDATE jobs SET status = 'done'").await),
        "jobs_status_check"
    );
    exec("UPDATE jobs SET status = 'running'")
        .await
        .expect("a known status");
    assert_eq!(
        violated(exec("UPDATE jobs SET job_type = 'import'").await),
        "jobs_job_type_check"
    );
    assert_eq!(
        violated(exec("UPDATE jobs SET run_id = gen_random_uuid()").await),
        "jobs_run_id_fkey"
    );
    assert_eq!(
        violated(exec("INSERT INTO match_events (created, type) VALUES (now(), 'merge')").await),
        "match_events_type_check"
    );
    let event: i64 = sqlx::query_scalar(
        "INSERT INTO match_events (created, job_id, type) VALUES (now(), $1, 'auto-matches') RETURNING id",
    )
    .bind(job)
    .fetch_one(&pool)
    .await
    .expect("event");
    let person_action = |kind: &'static str| {
        sqlx::query(
            "INSERT INTO person_actions (match_event_id, person_id, person_record_id, type) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(event)
        .bind(p)
        .bind(a)
        .bind(kind)
        .execute(&pool)
    };
    person_action("add-record").await.expect("a known type");
    assert_eq!(
        violated(person_action("move").await),
        "person_actions_type_check"
    );
    let group_action = |kind: &'static str| {
        sqlx::query(
            "INSERT INTO match_group_actions (match_event_id, match_group_id, type) VALUES ($1, $2, $3)",
        )
        .bind(event)
        .bind(group)
        .bind(kind)
        .execute(&pool)
    };
    group_action("match").await.expect("match needs no result");
    assert_eq!(
        violated(group_action("add-result").await),
        "match_group_actions_result_present"
    );
    assert_eq!(
        violated(exec("INSERT INTO users (idp_user_id, role) VALUES ('sub-1', 'owner')").await),
        "users_role_check"
    );
    exec("INSERT INTO users (idp_user_id, role) VALUES ('sub-1', NULL)")
        .await
        .expect("a user without access");
    assert_eq!(
        violated(exec("INSERT INTO users (idp_user_id, role) VALUES ('sub-1', 'admin')").await),
        "users_idp_user_id_key"
    );
    assert_eq!(
        violated(
            exec(
                "INSERT INTO configs (potential_match_threshold, auto_match_threshold, splink_settings) \
                 VALUES (0.9, 0.5, '{}')"
            )
            .await
        ),
        "configs_auto_gte_potential"
    );
    assert_eq!(
        violated(
            exec(
                "INSERT INTO configs (potential_match_threshold, auto_match_threshold, splink_settings) \
                 VALUES (0.5, 1.5, '{}')"
            )
            .await
        ),
        "configs_auto_match_threshold_check"
    );
}
