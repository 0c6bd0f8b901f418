//! Loads large enough to take the bulk path (indexes and keys dropped, keys added back in the load's
//! transaction, plain indexes built after it) leave exactly the schema of the migrations, with every
//! rule enforced, and the same records as the row-by-row path.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use idem_empi::{
    BuildUntil, JobId, LoadOutcome, RecordMove, Regrouping, apply_regrouping,
    build_deferred_indexes, finish_import_job, load_staged_records, lock_for_bulk_regrouping,
    lock_match_update, staged_results, touched,
};
use sqlx::PgPool;

use crate::common::{job, migrate, violated};

/// Every index and constraint of the public schema, as its definition.
async fn schema(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' \
         UNION ALL \
         SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("catalog")
}

/// Stages rows `from..to` of a synthetic file for `job`, each line twice (the copy is a duplicate).
async fn stage(pool: &PgPool, job: i64, from: i64, to: i64) {
    sqlx::query(
        "INSERT INTO person_record_staging (job_id, line_number, sha256, data_source, source_person_id, \
         first_name, last_name, birth_date) \
         SELECT $1, 2 * n + copy + 1, record_content_hash('ds', 'id' || n, 'first' || n, 'last' || n, NULL, \
                NULL, '1980' || n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
                'ds', 'id' || n, 'first' || n, 'last' || n, '1980' || n \
         FROM generate_series($2::bigint, $3::bigint - 1) AS n, (VALUES (0), (1)) AS c(copy)",
    )
    .bind(job)
    .bind(from)
    .bind(to)
    .execute(pool)
    .await
    .expect("staging");
}

async fn load(pool: &PgPool, job: i64) -> LoadOutcome {
    let staged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM person_record_staging WHERE job_id = $1")
            .bind(job)
            .fetch_one(pool)
            .await
            .expect("count");
    let mut tx = pool.begin().await.expect("begin");
    let outcome = load_staged_records(&mut tx, JobId(job), staged)
        .await
        .expect("load");
    tx.commit().await.expect("commit");
    outcome
}

/// After a bulk write: the schema lacks exactly the plain indexes listed in `deferred_indexes` (their
/// definitions those of the migrations, none of them unique); building them gives back the schema
/// `before` and empties the list. Returns how many were built.
async fn build_deferred(pool: &PgPool, before: &[String]) -> u64 {
    let deferred: Vec<String> = sqlx::query_scalar("SELECT definition FROM deferred_indexes")
        .fetch_all(pool)
        .await
        .expect("deferred");
    assert!(
        deferred.iter().all(|d| d.starts_with("CREATE INDEX ")),
        "only plain indexes are deferred: {deferred:?}"
    );
    let mut now = schema(pool).await;
    now.extend(deferred.iter().cloned());
    now.sort();
    let mut expected = before.to_vec();
    expected.sort();
    assert_eq!(now, expected);
    let built = build_deferred_indexes(pool, 2, BuildUntil::AllBuilt)
        .await
        .expect("build");
    assert_eq!(built, deferred.len() as u64);
    assert_eq!(schema(pool).await, before);
    assert_eq!(
        count(pool, "SELECT count(*) FROM deferred_indexes").await,
        0
    );
    built
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrations = false)]
async fn bulk_loads_keep_the_schema_and_its_rules(pool: PgPool) {
    migrate(&pool).await;
    let before = schema(&pool).await;
    let indexes_before = count(
        &pool,
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'",
    )
    .await;

    // Into an empty table: the bulk path.
    let first = job(&pool).await;
    stage(&pool, first, 0, 300).await;
    let outcome = load(&pool, first).await;
    assert_eq!(
        (outcome.rows, outcome.loaded, outcome.duplicates),
        (600, 300, 300)
    );
    // The plain indexes are left to be built after the load (the trigram GIN ones among them); the
    // unique keys were built in it.
    let deferred: Vec<String> = sqlx::query_scalar("SELECT name FROM deferred_indexes")
        .fetch_all(&pool)
        .await
        .expect("deferred");
    for index in [
        "person_records_first_name_trgm",
        "person_records_person",
        "persons_job",
        "person_actions_event",
    ] {
        assert!(deferred.iter().any(|d| d == index), "{index}: {deferred:?}");
    }
    assert!(
        !deferred
            .iter()
            .any(|d| d.ends_with("_unique") || d.ends_with("_key")),
        "{deferred:?}"
    );
    build_deferred(&pool, &before).await;

    // Statistics say the table holds 300 rows: 50 new ones take the row-by-row path, 400 the bulk path
    // (over records already held).
    sqlx::query("ANALYZE person_records")
        .execute(&pool)
        .await
        .expect("analyze");
    let second = job(&pool).await;
    stage(&pool, second, 250, 300).await;
    stage(&pool, second, 300, 325).await;
    let outcome = load(&pool, second).await;
    assert_eq!((outcome.loaded, outcome.duplicates), (25, 125));
    let third = job(&pool).await;
    stage(&pool, third, 325, 725).await;
    let outcome = load(&pool, third).await;
    assert_eq!((outcome.loaded, outcome.duplicates), (400, 400));
    assert!(build_deferred(&pool, &before).await > 0);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"
        )
        .await,
        indexes_before
    );

    // One record, one person and one `add-record` action per distinct row, in file order.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM person_records").await,
        725
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM person_records r JOIN persons p ON p.id = r.person_id \
             JOIN person_actions a ON a.person_record_id = r.id AND a.person_id = p.id \
             WHERE p.record_count = 1 AND a.type = 'add-record' \
               AND r.source_person_id = 'id' || (r.id - 1)"
        )
        .await,
        725
    );

    // Each person, record and action carries its job's `new-ids` event: the job, the event's time
    // (to the microsecond), a first version and a random (v4) uuid; on both paths.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM person_records r JOIN persons p ON p.id = r.person_id \
             JOIN person_actions a ON a.person_record_id = r.id \
             JOIN match_events e ON e.id = a.match_event_id \
             WHERE e.type = 'new-ids' AND e.job_id = r.job_id AND p.job_id = r.job_id \
               AND p.created = e.created AND p.updated = e.created AND r.created = e.created \
               AND p.version = 1 AND p.deleted IS NULL AND substr(p.uuid::text, 15, 1) = '4' \
               AND substr(p.uuid::text, 20, 1) IN ('8', '9', 'a', 'b')"
        )
        .await,
        725
    );
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT uuid) FROM persons").await,
        725
    );

    // Person k was created for the k-th new record: person ids rise with record ids.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM person_records a JOIN person_records b ON b.id = a.id + 1 \
             WHERE b.person_id <= a.person_id"
        )
        .await,
        0
    );

    // The rebuilt unique and foreign keys are enforced, under their names.
    let dup = sqlx::query(
        "INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, data_source, \
         source_person_id) SELECT now(), job_id, person_id, now(), sha256, 'x', 'y' \
         FROM person_records WHERE id = 1",
    )
    .execute(&pool)
    .await;
    assert_eq!(violated(dup), "person_records_sha256_unique");
    let orphan = sqlx::query("UPDATE person_records SET person_id = -1 WHERE id = 1")
        .execute(&pool)
        .await;
    assert_eq!(violated(orphan), "person_records_person_id_fkey");
    let orphan_action = sqlx::query(
        "INSERT INTO person_actions (match_event_id, person_id, person_record_id, type) \
         SELECT match_event_id, person_id, -1, type FROM person_actions LIMIT 1",
    )
    .execute(&pool)
    .await;
    assert_eq!(
        violated(orphan_action),
        "person_actions_person_record_id_fkey"
    );
}

/// Every index of the public schema by name, with its object id (a rebuilt index gets a new one).
async fn index_oids(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT c.relname::text, c.oid::bigint FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("index oids")
}

/// Stages scored pairs (`l`, `l + 1`) for `job`, for every `l` in `ls`.
async fn stage_pairs(pool: &PgPool, job: i64, ls: &[i64]) {
    sqlx::query(
        "INSERT INTO prediction_result_staging (job_id, person_record_l_id, person_record_r_id, \
         match_weight, match_probability, data) \
         SELECT $1, l, l + 1, 3.5, 0.75, jsonb_build_object('match_key', '0') FROM unnest($2::bigint[]) AS l",
    )
    .bind(job)
    .bind(ls)
    .execute(pool)
    .await
    .expect("staged pairs");
}

/// Regroups `job`'s staged pairs: the pair of `merged` is auto-matched (its right record moves into the
/// left one's person), every other pair becomes a potential match of its own.
async fn regroup(pool: &PgPool, job: i64, merged: i64) -> bool {
    let mut tx = pool.begin().await.expect("begin");
    lock_match_update(&mut tx).await.expect("lock");
    let bulk = lock_for_bulk_regrouping(&mut tx, JobId(job))
        .await
        .expect("bulk")
        .bulk;
    let pairs = staged_results(&mut tx, JobId(job)).await.expect("staged");
    let touched = touched(&mut tx, &pairs).await.expect("touched");
    let person = |record: i64| {
        let p = touched
            .records
            .iter()
            .find(|r| r.0 == record)
            .expect("record read")
            .1;
        let v = touched
            .persons
            .iter()
            .find(|x| x.id == p)
            .expect("person read")
            .version;
        (p, v)
    };
    // The touched groups' results each get a pending group of their own, before the new pairs'.
    let current = touched.results.len();
    let position = pairs
        .iter()
        .position(|p| p.l == merged)
        .expect("merged pair");
    let plan = Regrouping {
        groups: (0..current)
            .map(|_| false)
            .chain(pairs.iter().map(|p| p.l == merged))
            .collect(),
        replaced_groups: touched.groups.clone(),
        current_results: touched
            .results
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect(),
        new_results: pairs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.l, p.r, current + i))
            .collect(),
        moves: vec![RecordMove {
            record: merged + 1,
            from: person(merged + 1),
            to: person(merged),
            group: current + position,
        }],
        crosswalk: touched.records.clone(),
    };
    let outcome = apply_regrouping(&mut tx, JobId(job), &plan, bulk)
        .await
        .expect("regrouping");
    tx.commit().await.expect("commit");
    assert_eq!(outcome.results_stored, pairs.len() as i64);
    bulk
}

#[sqlx::test(migrations = false)]
async fn bulk_regroupings_keep_the_schema_its_rules_and_other_jobs_staged_pairs(pool: PgPool) {
    migrate(&pool).await;
    let before = schema(&pool).await;
    let first = job(&pool).await;
    stage(&pool, first, 0, 100).await;
    load(&pool, first).await;
    build_deferred(&pool, &before).await;

    // Another job's scored pairs are staged: the first job's are deleted, the other's stay.
    let other = job(&pool).await;
    stage_pairs(&pool, first, &[1, 3, 5, 7]).await;
    stage_pairs(&pool, other, &[20, 22]).await;
    let oids_before = index_oids(&pool).await;
    assert!(
        regroup(&pool, first, 3).await,
        "into no results: the bulk path"
    );
    build_deferred(&pool, &before).await;
    // Only the indexes of the tables it inserts into and those over the columns its updates set were
    // built again; the other indexes of the updated tables are the same objects.
    let oids_after = index_oids(&pool).await;
    let rebuilt: Vec<&str> = oids_before
        .iter()
        .filter(|(name, oid)| oids_after.iter().any(|(n, o)| n == name && o != oid))
        .map(|(name, _)| name.as_str())
        .filter(|name| name.starts_with("person_records") || name.starts_with("persons"))
        .collect();
    assert_eq!(rebuilt, vec!["person_records_person", "persons_active"]);
    let kept = oids_before
        .iter()
        .filter(|(name, oid)| oids_after.iter().any(|(n, o)| n == name && o == oid))
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>();
    for index in [
        "person_records_sha256_unique",
        "person_records_name_order",
        "person_records_first_name_trgm",
        "persons_uuid_key",
        "persons_job",
    ] {
        assert!(kept.contains(&index), "{index} kept: {kept:?}");
    }
    assert!(
        !kept
            .iter()
            .any(|n| n.starts_with("prediction_results_") && *n != "prediction_results_pkey"),
        "the inserted results' secondary indexes are built again: {kept:?}"
    );
    let staged: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT job_id, person_record_l_id FROM prediction_result_staging ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .expect("staged");
    assert_eq!(staged, vec![(other, 20), (other, 22)]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prediction_results").await,
        4
    );
    // The move: record 4 joined record 3's person, whose records are stamped; its old person is empty.
    let moved: (i64, i64, bool) = sqlx::query_as(
        "SELECT r.person_id, p.record_count, r.matched_or_reviewed IS NOT NULL \
         FROM person_records r JOIN persons p ON p.id = r.person_id WHERE r.id = 4",
    )
    .fetch_one(&pool)
    .await
    .expect("moved");
    let receiver: i64 = sqlx::query_scalar("SELECT person_id FROM person_records WHERE id = 3")
        .fetch_one(&pool)
        .await
        .expect("receiver");
    assert_eq!(moved, (receiver, 2, true));

    // Only the other job's pairs are staged: the table is emptied. The pair (6, 7) touches the first
    // run's pending groups of (5, 6) and (7, 8), which are rebuilt.
    stage_pairs(&pool, other, &[6, 40, 42, 44]).await;
    sqlx::query(
        "DELETE FROM prediction_result_staging WHERE job_id = $1 AND person_record_l_id = 22",
    )
    .bind(other)
    .execute(&pool)
    .await
    .expect("unstage");
    assert!(
        regroup(&pool, other, 20).await,
        "as many pairs as results: the bulk path"
    );
    build_deferred(&pool, &before).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prediction_result_staging").await,
        0
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prediction_results").await,
        9
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM match_groups WHERE deleted IS NOT NULL"
        )
        .await,
        2
    );

    // The foreign keys the regrouping kept (persons' and records' job) and those it added back are
    // enforced.
    let orphan = sqlx::query("UPDATE persons SET job_id = -1 WHERE id = 1")
        .execute(&pool)
        .await;
    assert_eq!(violated(orphan), "persons_job_id_fkey");
    let orphan = sqlx::query("UPDATE prediction_results SET match_group_id = -1 WHERE id = 1")
        .execute(&pool)
        .await;
    assert_eq!(violated(orphan), "prediction_results_match_group_id_fkey");
}

/// Building beside other work stops when told (the build in progress finished) and leaves an index
/// another caller is building to it; building them all waits for that index, and builds it when the
/// other build fails: when such a call returns, every index deferred before it exists.
#[sqlx::test(migrations = false)]
async fn deferred_indexes_are_built_beside_other_work_then_all(pool: PgPool) {
    migrate(&pool).await;
    let before = schema(&pool).await;
    let first = job(&pool).await;
    stage(&pool, first, 0, 300).await;
    load(&pool, first).await;
    let deferred = count(&pool, "SELECT count(*) FROM deferred_indexes").await;
    assert!(deferred > 3, "{deferred} deferred");

    // Told to stop before it starts: nothing is built.
    let stopped = AtomicBool::new(true);
    let built = build_deferred_indexes(&pool, 2, BuildUntil::Stopped(&stopped))
        .await
        .expect("build");
    assert_eq!(built, 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM deferred_indexes").await,
        deferred
    );

    // Another builder holds one of them: building beside other work builds the rest and returns.
    let mut other = pool.begin().await.expect("begin");
    let held: String =
        sqlx::query_scalar("SELECT name FROM deferred_indexes ORDER BY name LIMIT 1 FOR UPDATE")
            .fetch_one(&mut *other)
            .await
            .expect("hold");
    let running = AtomicBool::new(false);
    let built = build_deferred_indexes(&pool, 2, BuildUntil::Stopped(&running))
        .await
        .expect("build");
    assert_eq!(built, deferred as u64 - 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT name FROM deferred_indexes")
        .fetch_all(&pool)
        .await
        .expect("left");
    assert_eq!(left, vec![held.clone()]);

    // Building them all waits for the held one.
    let builder = {
        let pool = pool.clone();
        tokio::spawn(async move { build_deferred_indexes(&pool, 2, BuildUntil::AllBuilt).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !builder.is_finished(),
        "returned while {held} was not built"
    );
    // The other build fails: the waiting call builds it.
    other.rollback().await.expect("rollback");
    let built = builder.await.expect("join").expect("build");
    assert_eq!(built, 1);
    assert_eq!(schema(&pool).await, before);
}

/// Finishing a job removes its staged rows (truncating the table when no other job has any) and keeps
/// those of other jobs.
#[sqlx::test(migrations = false)]
async fn finishing_a_job_keeps_other_jobs_staged_rows(pool: PgPool) {
    migrate(&pool).await;
    let (first, second, third) = (job(&pool).await, job(&pool).await, job(&pool).await);
    stage(&pool, first, 0, 10).await;
    stage(&pool, second, 0, 5).await;
    stage(&pool, third, 0, 3).await;
    let staged = |job: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM person_record_staging WHERE job_id = $1",
            )
            .bind(job)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    let finish = |job: i64| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.expect("begin");
            finish_import_job(&mut tx, JobId(job))
                .await
                .expect("finish");
            tx.commit().await.expect("commit");
        }
    };
    // Other jobs' rows on both sides of the job's id: deleted row by row.
    finish(second).await;
    assert_eq!(
        (
            staged(first).await,
            staged(second).await,
            staged(third).await
        ),
        (20, 0, 6)
    );
    finish(first).await;
    assert_eq!((staged(first).await, staged(third).await), (0, 6));
    // The last job's rows: truncated. Finishing again changes nothing.
    finish(third).await;
    finish(third).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM person_record_staging").await,
        0
    );
    let status: String = sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
        .bind(third)
        .fetch_one(&pool)
        .await
        .expect("status");
    assert_eq!(status, "succeeded");
}
