//! Helpers: migrating the test database, inserting minimal rows, reading constraint names.

use sqlx::PgPool;

/// Applies every migration (apalis's and idem's) to the test database.
pub async fn migrate(pool: &PgPool) {
    idem_migrations::migrate(pool)
        .await
        .expect("migrations apply");
}

/// The name of the constraint a failed statement violated.
#[track_caller]
pub fn violated(result: Result<impl std::fmt::Debug, sqlx::Error>) -> String {
    let err = result.expect_err("the statement must be rejected");
    let db = err
        .as_database_error()
        .unwrap_or_else(|| panic!("not a database error: {err}"));
    db.constraint()
        .unwrap_or_else(|| panic!("no constraint named in: {db}"))
        .to_owned()
}

/// The SQLSTATE of a failed statement.
#[track_caller]
pub fn sqlstate(result: Result<impl std::fmt::Debug, sqlx::Error>) -> String {
    let err = result.expect_err("the statement must be rejected");
    err.as_database_error()
        .and_then(|e| e.code())
        .unwrap_or_else(|| panic!("no SQLSTATE in: {err}"))
        .into_owned()
}

/// Inserts a config and an import job; returns the job id.
pub async fn job(pool: &PgPool) -> i64 {
    let config: i64 = sqlx::query_scalar(
        "INSERT INTO configs (potential_match_threshold, auto_match_threshold, splink_settings) \
         VALUES (0.5, 0.95, '{}') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("config");
    sqlx::query_scalar("INSERT INTO jobs (config_id) VALUES ($1) RETURNING id")
        .bind(config)
        .fetch_one(pool)
        .await
        .expect("job")
}

/// Inserts a live person with `record_count` records counted (not inserted).
pub async fn person(pool: &PgPool, job: i64, record_count: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO persons (uuid, created, updated, job_id, record_count) \
         VALUES (gen_random_uuid(), now(), now(), $1, $2) RETURNING id",
    )
    .bind(job)
    .bind(record_count)
    .fetch_one(pool)
    .await
    .expect("person")
}

/// Inserts a record of `person` with the given data source and source person id (other fields
/// NULL), hashed in SQL.
pub async fn record(
    pool: &PgPool,
    job: i64,
    person: i64,
    data_source: &str,
    source_person_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, data_source, \
         source_person_id) \
         VALUES (now(), $1, $2, now(), record_content_hash($3, $4, NULL, NULL, NULL, NULL, NULL, NULL, \
         NULL, NULL, NULL, NULL, NULL, NULL, NULL), $3, $4) RETURNING id",
    )
    .bind(job)
    .bind(person)
    .bind(data_source)
    .bind(source_person_id)
    .fetch_one(pool)
    .await
}
