//! Import runs over the API: file formats and their errors, the febrl set from S3 against Splink's
//! clusters, re-imports and second imports, a worker killed mid-run, resume after a failed fetch.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{
    S3Server, WorkerProcess, app, create_config, database_url, empi_engine, send, send_json,
    shared, spawn_workers, start_import, wait_job,
};

const HEADER: &str = "data_source,source_person_id,first_name,last_name,sex,race,birth_date,death_date,\
social_security_number,address,city,state,zip_code,county,phone";

/// A model whose probabilities do not depend on the data (no term frequencies): same first name and
/// birth date -> 0.89, same first name only -> 0.092, else ~0.
fn simple_settings() -> Value {
    json!({
        "link_type": "dedupe_only",
        "probability_two_random_records_match": 0.01,
        "blocking_rules_to_generate_predictions": ["l.last_name = r.last_name"],
        "comparisons": [
            {"output_column_name": "first_name", "comparison_levels": [
                {"sql_condition": "first_name_l IS NULL OR first_name_r IS NULL", "is_null_level": true},
                {"sql_condition": "first_name_l = first_name_r", "m_probability": 0.9, "u_probability": 0.01},
                {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.99}
            ]},
            {"output_column_name": "birth_date", "comparison_levels": [
                {"sql_condition": "birth_date_l IS NULL OR birth_date_r IS NULL", "is_null_level": true},
                {"sql_condition": "birth_date_l = birth_date_r", "m_probability": 0.9, "u_probability": 0.1},
                {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.9}
            ]}
        ]
    })
}

fn row(id: &str, first: &str, last: &str, birth: &str) -> String {
    format!("\"ds\",\"{id}\",\"{first}\",\"{last}\",,,\"{birth}\",,,,,,,,")
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn files_are_validated_and_bad_rows_are_named(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let app = app(&engine).await;
    let _workers = spawn_workers(&engine);
    let config = create_config(&app, &simple_settings(), 0.05, 0.8).await;
    let dir = tempdir("formats");
    let data = |name: &str| shared(&format!("data/{name}")).display().to_string();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let wait = Duration::from_secs(60);

    // The reference's file: quoted "" is the empty string, an unquoted empty field NULL, numbers text.
    let (job, _) = start_import(&app, &config, "source_uri", &data("raw-person-records.csv")).await;
    let done = wait_job(&app, &job, wait).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["rows_read"].clone(), done["records_loaded"].clone()),
        (json!(6), json!(6))
    );
    let names: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT source_person_id, first_name FROM person_records ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(names[3], ("a4".into(), Some(String::new())));
    assert_eq!(names[4], ("a5".into(), None));
    assert_eq!(names[5], ("a6".into(), Some("1".into())));
    let records = count(&pool, "SELECT count(*) FROM person_records").await;

    // Failures: the run fails with a reason naming the problem; nothing of the job is loaded or left staged.
    let mut big_line = format!("{HEADER}\n");
    for i in 2..5000 {
        big_line.push_str(&row(&format!("r{i}"), "ann", "lee", "2000-01-01"));
        big_line.push('\n');
    }
    big_line.push_str("\"ds\",\"r5000\",\"ann\"\n");
    let failures = [
        (
            data("raw-person-records-missing-phone-col.csv"),
            "missing columns: phone",
        ),
        (
            data("raw-person-records-extra-col.csv"),
            "unknown columns: extra",
        ),
        (
            data("raw-person-records-missing-phone-val.csv"),
            "line 2 has 14 fields",
        ),
        (write("empty.csv", b""), "is empty"),
        (
            write(
                "utf8.csv",
                &[
                    format!("{HEADER}\n\"ds\",\"x\",\"").as_bytes(),
                    b"\xff\",,,,,,,,,,,,\n",
                ]
                .concat(),
            ),
            "",
        ),
        (
            write("line5000.csv", big_line.as_bytes()),
            "line 5000 has 3 fields",
        ),
        (
            write("missing.csv", b"x").replace("missing.csv", "nowhere.csv"),
            "does not exist",
        ),
        (write("notgzip.csv.gz", HEADER.as_bytes()), "not valid gzip"),
        (
            write(
                "noid.csv",
                format!("{HEADER}\n\"ds\",,\"a\",,,,,,,,,,,,\n").as_bytes(),
            ),
            "line 2: source_person_id is empty",
        ),
    ];
    for (path, reason) in failures {
        let (job, _) = start_import(&app, &config, "source_uri", &path).await;
        let done = wait_job(&app, &job, wait).await;
        assert_eq!(done["status"], "failed", "{path}: {done}");
        let text = done["reason"].as_str().unwrap();
        assert!(text.contains(reason), "{path}: {text}");
        let job_id: i64 = job.trim_start_matches("job_").parse().unwrap();
        for sql in [
            "SELECT count(*) FROM person_records WHERE job_id = $1",
            "SELECT count(*) FROM person_record_staging WHERE job_id = $1",
        ] {
            let n: i64 = sqlx::query_scalar(sql)
                .bind(job_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(n, 0, "{path}: {sql}");
        }
    }
    // Invalid UTF-8 is named with its line (the `""` needle above only checked the failure).
    let (job, _) = start_import(
        &app,
        &config,
        "source_uri",
        &dir.join("utf8.csv").display().to_string(),
    )
    .await;
    let done = wait_job(&app, &job, wait).await;
    assert!(
        done["reason"]
            .as_str()
            .unwrap()
            .contains("line 2: first_name is not valid UTF-8"),
        "{done}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM person_records").await,
        records
    );

    // Accepted variants: BOM + CRLF + reordered columns, gzip, header only, a 2 MB field, a quoted
    // field spanning lines.
    let mut columns: Vec<&str> = HEADER.split(',').collect();
    columns.reverse();
    let reordered = format!(
        "\u{feff}{}\r\n,,,,,,,,\"1999-09-09\",,,\"kim\",\"zed\",\"b1\",\"ds\"\r\n",
        columns.join(",")
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("{HEADER}\n{}\n", row("g1", "gus", "gzip", "2001-01-01")).as_bytes())
        .unwrap();
    let huge = "x".repeat(2 << 20);
    let accepted = [
        (write("bom.csv", reordered.as_bytes()), 1),
        (write("rows.csv.gz", &gz.finish().unwrap()), 1),
        (
            write("header-only.csv", format!("{HEADER}\n").as_bytes()),
            0,
        ),
        (
            write(
                "big.csv",
                format!("{HEADER}\n\"ds\",\"h1\",,,,,,,,\"{huge}\",\"multi\nline\",,,,\n")
                    .as_bytes(),
            ),
            1,
        ),
    ];
    for (path, loaded) in accepted {
        let (job, _) = start_import(&app, &config, "source_uri", &path).await;
        let done = wait_job(&app, &job, wait).await;
        assert_eq!(done["status"], "succeeded", "{path}: {done}");
        assert_eq!(done["records_loaded"], loaded, "{path}: {done}");
    }
    let reordered: (String, String, Option<String>, String) = sqlx::query_as(
        "SELECT first_name, last_name, birth_date, data_source FROM person_records WHERE source_person_id = 'b1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        reordered,
        (
            "zed".into(),
            "kim".into(),
            Some("1999-09-09".into()),
            "ds".into()
        )
    );
    let (address, city): (String, String) =
        sqlx::query_as("SELECT address, city FROM person_records WHERE source_person_id = 'h1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((address.len(), city.as_str()), (2 << 20, "multi\nline"));

    // Request validation.
    let bad = send_json(
        &app,
        "POST",
        "/api/v1/person-records/import",
        &json!({"config_id": "cfg_x", "s3_uri": "s4://b/k"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json["error"]["details"],
        json!([{"field": "config_id", "message": "Invalid Config ID"}])
    );
    let bad = send_json(
        &app,
        "POST",
        "/api/v1/person-records/import",
        &json!({"config_id": config, "s3_uri": "s3://Bad_Bucket/k"}),
    )
    .await;
    assert_eq!(
        bad.json["error"]["details"],
        json!([{"field": "s3_uri", "message": "Invalid S3 URI"}])
    );
    let neither = send_json(
        &app,
        "POST",
        "/api/v1/person-records/import",
        &json!({"config_id": config}),
    )
    .await;
    assert_eq!(
        neither.json["error"]["details"],
        json!([{"message": "Must provide either 's3_uri' or 'file'."}])
    );
    let unknown = send_json(
        &app,
        "POST",
        "/api/v1/person-records/import",
        &json!({"config_id": "cfg_999", "source_uri": "/x.csv"}),
    )
    .await;
    assert_eq!(
        unknown.json["error"]["details"],
        json!([{"field": "config_id", "message": "Config cfg_999 does not exist"}])
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("idem-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Union-find over ids.
#[derive(Default)]
struct Components(HashMap<i64, i64>);

impl Components {
    fn find(&mut self, x: i64) -> i64 {
        let parent = *self.0.entry(x).or_insert(x);
        if parent == x {
            return x;
        }
        let root = self.find(parent);
        self.0.insert(x, root);
        root
    }
    fn union(&mut self, a: i64, b: i64) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0.insert(a.max(b), a.min(b));
        }
    }
    fn sets(&mut self) -> BTreeSet<BTreeSet<i64>> {
        let keys: Vec<i64> = self.0.keys().copied().collect();
        let mut by_root: HashMap<i64, BTreeSet<i64>> = HashMap::new();
        for k in keys {
            let root = self.find(k);
            by_root.entry(root).or_default().insert(k);
        }
        by_root.into_values().collect()
    }
}

/// Record id by source_person_id (unique in the febrl set).
async fn record_ids(pool: &PgPool) -> HashMap<String, i64> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT source_person_id, id FROM person_records")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// The persons as sets of record ids.
async fn persons(pool: &PgPool) -> BTreeSet<BTreeSet<i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT person_id, id FROM person_records")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut by_person: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for (person, record) in rows {
        by_person.entry(person).or_default().insert(record);
    }
    by_person.into_values().collect()
}

/// Splink's clusters of febrl_clean at 0.95, as sets of our record ids.
async fn reference_clusters(pool: &PgPool) -> BTreeSet<BTreeSet<i64>> {
    let ids = record_ids(pool).await;
    let mut reader =
        csv::Reader::from_path(shared("data/splink-reference/febrl_clean.clusters.csv")).unwrap();
    let mut by_cluster: HashMap<String, BTreeSet<i64>> = HashMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        by_cluster
            .entry(row[2].to_owned())
            .or_default()
            .insert(ids[&row[1]]);
    }
    by_cluster.into_values().collect()
}

/// Asserts that the persons equal Splink's clusters and the pending potential matches equal the
/// connected components of Splink's pairs > 0.5 whose records still belong to more than one person.
async fn assert_febrl_outcome(pool: &PgPool) {
    let clusters = reference_clusters(pool).await;
    let got = persons(pool).await;
    assert_eq!(got.len(), clusters.len(), "number of persons");
    assert!(got == clusters, "persons differ from Splink's clusters");

    let ids = record_ids(pool).await;
    let person_of: HashMap<i64, i64> =
        sqlx::query_as::<_, (i64, i64)>("SELECT id, person_id FROM person_records")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let mut components = Components::default();
    let mut reader =
        csv::Reader::from_path(shared("data/splink-reference/febrl_clean.pairs.csv")).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let probability: f64 = row[3].parse().unwrap();
        if probability > 0.5 {
            components.union(ids[&row[0]], ids[&row[1]]);
        }
    }
    let expected: BTreeSet<BTreeSet<i64>> = components
        .sets()
        .into_iter()
        .filter(|set| {
            set.iter()
                .map(|r| person_of[r])
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        })
        .collect();
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT g.id, res.person_record_l_id, res.person_record_r_id FROM match_groups g \
         JOIN prediction_results res ON res.match_group_id = g.id \
         WHERE g.matched IS NULL AND g.deleted IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut groups: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for (g, l, r) in rows {
        groups.entry(g).or_default().extend([l, r]);
    }
    let pending: BTreeSet<BTreeSet<i64>> = groups.into_values().collect();
    assert_eq!(
        pending.len(),
        expected.len(),
        "number of pending potential matches"
    );
    assert!(pending == expected, "pending potential matches differ");
}

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
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn febrl_from_s3_gives_splinks_clusters_after_a_resumed_fetch(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let app = app(&engine).await;
    let s3 = S3Server::start().await;
    let _worker = WorkerProcess::start(&database_url(&pool), &s3.env());
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(shared("data/febrl/febrl_model.json")).unwrap(),
    )
    .unwrap();
    let config = create_config(&app, &settings, 0.5, 0.95).await;
    let schema_before = schema(&pool).await;

    // The object is not there yet: the run fails at fetch, naming it.
    let uri = "s3://idem-test/in/febrl_clean.csv";
    let (job, run) = start_import(&app, &config, "s3_uri", uri).await;
    let failed = wait_job(&app, &job, Duration::from_secs(60)).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["reason"].as_str().unwrap().contains(uri), "{failed}");
    assert_eq!(failed["run"]["steps"][0]["status"], "failed");

    // Uploaded, the run resumes from the failed step and finishes.
    s3.put(
        "idem-test",
        "in/febrl_clean.csv",
        std::fs::read(shared("data/febrl/febrl_clean.csv")).unwrap(),
    )
    .await;
    let resumed = send(&app, "POST", &format!("/api/v1/runs/{run}/resume")).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.json);
    let done = wait_job(&app, &job, Duration::from_secs(300)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(shared("data/splink-reference/febrl_clean.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(done["rows_read"], 40000);
    assert_eq!(done["records_loaded"], 40000);
    assert_eq!(done["pairs_scored"], summary["candidate_pairs"]);
    assert_eq!(done["results_stored"], summary["pairs_gt"]["0.5"]);
    assert_eq!(
        done["records_auto_matched"].as_i64().unwrap(),
        40000 - summary["clusters_rx"]["n_clusters"].as_i64().unwrap()
    );
    assert_febrl_outcome(&pool).await;
    // Load and match took the bulk path (an empty index): every index and key is back as migrated,
    // the plain indexes they deferred built before the run ended.
    assert_eq!(schema(&pool).await, schema_before);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM deferred_indexes").await,
        0
    );
    let pending = count(
        &pool,
        "SELECT count(*) FROM match_groups WHERE matched IS NULL AND deleted IS NULL",
    )
    .await;
    assert_eq!(done["potential_matches"], pending);
    // Must-show 6: the potential-match export of the febrl run to S3 reads back equal.
    crate::exports::assert_potential_match_export_round_trips(&app, &s3, &pool).await;
    // Nothing of the run is left behind.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM person_record_staging").await,
        0
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prediction_result_staging").await,
        0
    );
}

#[sqlx::test(migrations = false)]
async fn a_worker_killed_while_scoring_is_replaced_and_the_persons_are_the_same(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let app = app(&engine).await;
    let url = database_url(&pool);
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(shared("data/febrl/febrl_model.json")).unwrap(),
    )
    .unwrap();
    let config = create_config(&app, &settings, 0.5, 0.95).await;
    let mut first = WorkerProcess::start(&url, &[]);
    let csv = shared("data/febrl/febrl_clean.csv").display().to_string();
    let (job, run) = start_import(&app, &config, "source_uri", &csv).await;

    // Kill the worker while the score step runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM workflow_steps WHERE run_id = $1::uuid AND name = 'score'",
        )
        .bind(&run)
        .fetch_optional(&pool)
        .await
        .unwrap();
        if status.as_deref() == Some("running") {
            break;
        }
        assert!(
            status.as_deref() != Some("succeeded") && std::time::Instant::now() < deadline,
            "never saw the score step running (status {status:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let _second = WorkerProcess::start(&url, &[]);
    let done = wait_job(&app, &job, Duration::from_secs(300)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let score = done["run"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "score")
        .unwrap()
        .clone();
    assert!(score["attempts"].as_i64().unwrap() >= 2, "{score}");
    assert_febrl_outcome(&pool).await;
}

/// Waits until a backend of the test database waits for the advisory lock `key` (a step blocked at its
/// start). A bigint key is the lock's (classid, objid) pair, high and low halves.
async fn wait_for_advisory_waiter(pool: &PgPool, key: i64, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted \
             AND l.classid::bigint = $1 >> 32 AND l.objid::bigint = $1 & 4294967295 AND l.objsubid = 1",
        )
        .bind(key)
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the {what} step never waited for its lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The run's output of one of its steps.
async fn step_output(pool: &PgPool, run: &str, step: &str) -> Value {
    sqlx::query_scalar("SELECT output FROM workflow_steps WHERE run_id = $1::uuid AND name = $2")
        .bind(run)
        .bind(step)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The staging tables are unlogged: a crash of the database server empties them (crash recovery
/// resets every unlogged table; here they are truncated where a crash could leave them empty: after
/// the stage step committed, and after the score step did). The load step stages the job again from
/// its source, the match step scores it again, and the run ends as an uninterrupted one.
#[sqlx::test(migrations = false)]
async fn staging_emptied_by_a_database_crash_is_staged_and_scored_again(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let app = app(&engine).await;
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(shared("data/febrl/febrl_model.json")).unwrap(),
    )
    .unwrap();
    let config = create_config(&app, &settings, 0.5, 0.95).await;
    // The load and match steps each take one advisory lock first: held here, each waits at its start.
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1), pg_advisory_lock($2)")
        .bind(idem_empi::locks::LOAD_RECORDS)
        .bind(idem_empi::locks::MATCH_UPDATE)
        .execute(&mut *holder)
        .await
        .unwrap();
    let _worker = WorkerProcess::start(&database_url(&pool), &[]);
    let csv = shared("data/febrl/febrl_clean.csv").display().to_string();
    let (job, run) = start_import(&app, &config, "source_uri", &csv).await;

    wait_for_advisory_waiter(&pool, idem_empi::locks::LOAD_RECORDS, "load").await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM person_record_staging").await,
        40000
    );
    sqlx::query("TRUNCATE person_record_staging")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(idem_empi::locks::LOAD_RECORDS)
        .execute(&mut *holder)
        .await
        .unwrap();

    wait_for_advisory_waiter(&pool, idem_empi::locks::MATCH_UPDATE, "match").await;
    let staged = count(&pool, "SELECT count(*) FROM prediction_result_staging").await;
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(shared("data/splink-reference/febrl_clean.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json!(staged), summary["pairs_gt"]["0.5"]);
    sqlx::query("TRUNCATE prediction_result_staging")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(idem_empi::locks::MATCH_UPDATE)
        .execute(&mut *holder)
        .await
        .unwrap();

    let done = wait_job(&app, &job, Duration::from_secs(300)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let load = step_output(&pool, &run, "load").await;
    assert_eq!(load["restaged"], true, "{load}");
    assert_eq!(load["loaded"], 40000, "{load}");
    assert_eq!(step_output(&pool, &run, "match").await["rescored"], true);
    assert_eq!(done["rows_read"], 40000);
    assert_eq!(done["records_loaded"], 40000);
    assert_eq!(done["duplicates_skipped"], 0);
    assert_eq!(done["results_stored"], summary["pairs_gt"]["0.5"]);
    assert_febrl_outcome(&pool).await;
}

#[sqlx::test(migrations = false)]
async fn a_second_import_rebuilds_only_the_groups_it_touches(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let app = app(&engine).await;
    let _workers = spawn_workers(&engine);
    let config = create_config(&app, &simple_settings(), 0.05, 0.8).await;
    let dir = tempdir("second");
    let write = |name: &str, rows: &[String]| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
        path.display().to_string()
    };
    let first = write(
        "first.csv",
        &[
            row("s1", "john", "smith", "1990-01-01"),
            row("s2", "john", "smith", "1985-05-05"),
            row("j1", "mary", "jones", "1970-01-01"),
            row("j2", "mary", "jones", "1971-01-01"),
        ],
    );
    let (job, _) = start_import(&app, &config, "source_uri", &first).await;
    let done = wait_job(&app, &job, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (
            done["results_stored"].clone(),
            done["potential_matches"].clone()
        ),
        (json!(2), json!(2))
    );
    let groups = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, i64, bool, bool)>(
            "SELECT id, version, matched IS NOT NULL, deleted IS NOT NULL FROM match_groups ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = groups(pool.clone()).await;
    let jones: i64 = sqlx::query_scalar(
        "SELECT DISTINCT res.match_group_id FROM prediction_results res \
         JOIN person_records r ON r.id = res.person_record_l_id WHERE r.last_name = 'jones'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    // s3 is s1 again (another source id): auto-matched into s1's person; the smith group is rebuilt.
    let second = write("second.csv", &[row("s3", "john", "smith", "1990-01-01")]);
    let (job, _) = start_import(&app, &config, "source_uri", &second).await;
    let done = wait_job(&app, &job, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["records_loaded"], 1);
    assert_eq!(done["results_stored"], 2);
    assert_eq!(done["records_auto_matched"], 1);
    assert_eq!(done["potential_matches"], 1);
    let after = groups(pool.clone()).await;
    // The jones group keeps its id and version; the smith group is replaced (version + 1, deleted).
    let old_jones = before.iter().find(|g| g.0 == jones).unwrap();
    assert_eq!(after.iter().find(|g| g.0 == jones).unwrap(), old_jones);
    let smith = before.iter().find(|g| g.0 != jones).unwrap();
    assert_eq!(
        after.iter().find(|g| g.0 == smith.0).unwrap(),
        &(smith.0, smith.1 + 1, false, true)
    );
    assert_eq!(after.len(), 3);
    let persons: Vec<(String, i64)> = sqlx::query_as(
        "SELECT string_agg(r.source_person_id, ',' ORDER BY r.source_person_id), p.record_count \
         FROM persons p JOIN person_records r ON r.person_id = p.id GROUP BY p.id ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        persons,
        vec![
            ("j1".into(), 1),
            ("j2".into(), 1),
            ("s1,s3".into(), 2),
            ("s2".into(), 1)
        ]
    );
    let events: Vec<String> = sqlx::query_scalar("SELECT type FROM match_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        events,
        ["new-ids", "auto-matches", "new-ids", "auto-matches"]
    );
    let moves: Vec<String> = sqlx::query_scalar(
        "SELECT a.type FROM person_actions a JOIN match_events e ON e.id = a.match_event_id \
         WHERE e.id = (SELECT max(id) FROM match_events) ORDER BY a.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(moves, ["remove-record", "add-record"]);

    // Re-importing the same file adds nothing and changes no group.
    let (job, _) = start_import(&app, &config, "source_uri", &second).await;
    let done = wait_job(&app, &job, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (
            done["records_loaded"].clone(),
            done["duplicates_skipped"].clone(),
            done["results_stored"].clone()
        ),
        (json!(0), json!(1), json!(0))
    );
    assert_eq!(groups(pool.clone()).await, after);
}

#[sqlx::test(migrations = false)]
async fn the_demo_and_the_import_command_run_end_to_end(pool: PgPool) {
    let url = database_url(&pool);
    let dir = tempdir("demo");
    let demo = std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
        .args(["demo", "--rows", "2000", "--dir"])
        .arg(&dir)
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("idem demo runs");
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(stdout.contains("Import job_1 succeeded"), "{stdout}");
    assert!(stdout.contains("time per step: fetch"), "{stdout}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM person_records").await,
        2000
    );
    let persons = count(&pool, "SELECT count(*) FROM persons WHERE deleted IS NULL").await;
    assert!(persons < 2000, "duplicates were auto-matched: {persons}");
    let pending = count(
        &pool,
        "SELECT count(*) FROM match_groups WHERE matched IS NULL AND deleted IS NULL",
    )
    .await;
    assert!(pending > 0, "some pairs are left for review");

    // `idem import --wait` with the stored config: the same file adds nothing.
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
        .arg("import")
        .arg(dir.join("demo-records.csv"))
        .args(["--config", "cfg_1", "--wait"])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("idem import runs");
    let stdout = String::from_utf8_lossy(&import.stdout);
    assert!(import.status.success(), "{stdout}");
    assert!(stdout.contains("Import job_2 succeeded"), "{stdout}");
    assert!(
        stdout.contains("records loaded 0, duplicates skipped 2000"),
        "{stdout}"
    );
}

/// `idem migrate` builds the indexes bulk writes deferred before it migrates (a migration may change one
/// of them).
#[sqlx::test(migrations = false)]
async fn migrate_builds_the_deferred_indexes_first(pool: PgPool) {
    let url = database_url(&pool);
    let migrate = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("idem migrate runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    migrate();
    let definition = || async {
        sqlx::query_scalar::<_, String>("SELECT pg_get_indexdef('persons_job'::regclass)")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let migrated = definition().await;
    sqlx::query("DROP INDEX persons_job")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO deferred_indexes (name, table_name, definition) VALUES ('persons_job', 'persons', $1)",
    )
    .bind(&migrated)
    .execute(&pool)
    .await
    .unwrap();
    migrate();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM deferred_indexes").await,
        0
    );
    assert_eq!(definition().await, migrated);
}

/// A multipart body with a `config_id` part and a `file` part.
fn multipart(config: &str, filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "idem-test-boundary-7d3f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"config_id\"\r\n\r\n{config}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &axum::Router, config: &str, key: &str) -> crate::common::Response {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let content = std::fs::read(shared("data/raw-person-records.csv")).unwrap();
    let (content_type, body) = multipart(config, "raw-person-records.csv", &content);
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/person-records/import")
        .header("content-type", content_type)
        .header("idempotency-key", key)
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    crate::common::Response {
        status,
        json: serde_json::from_slice(&bytes).unwrap(),
    }
}

#[sqlx::test(migrations = false)]
async fn configs_are_validated_and_uploads_are_kept_until_the_run_ends(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let app = app(&engine).await;

    // Config validation: thresholds, and every settings problem with its JSON path.
    let mut settings = simple_settings();
    settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] =
        json!("nickname_match(first_name_l, first_name_r) >= 1");
    settings["comparisons"][1]["comparison_levels"][1]
        .as_object_mut()
        .unwrap()
        .remove("m_probability");
    let bad = send_json(
        &app,
        "POST",
        "/api/v1/config",
        &json!({"potential_match_threshold": 0.9, "auto_match_threshold": 0.5,
                "splink_settings": settings, "colour": "red"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let details = bad.json["error"]["details"].as_array().unwrap().clone();
    let fields: Vec<&str> = details
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"colour"), "{details:?}");
    assert!(fields.contains(&"auto_match_threshold"), "{details:?}");
    let text = serde_json::to_string(&details).unwrap();
    assert!(
        text.contains("splink_settings.comparisons[0].comparison_levels[1]"),
        "{text}"
    );
    assert!(text.contains("nickname_match"), "{text}");
    assert!(
        text.contains("splink_settings.comparisons[1].comparison_levels[1]"),
        "{text}"
    );
    let missing = send_json(&app, "POST", "/api/v1/config", &json!({})).await;
    assert_eq!(
        missing.json["error"]["details"],
        json!([
            {"field": "potential_match_threshold", "message": "This field is required."},
            {"field": "auto_match_threshold", "message": "This field is required."},
            {"field": "splink_settings", "message": "This field is required."}
        ])
    );
    let config = create_config(&app, &simple_settings(), 0.05, 0.8).await;
    assert_eq!(config, "cfg_1");
    let listed = send(&app, "GET", "/api/v1/configs").await;
    assert_eq!(listed.json["pagination"]["total_count"], 1);
    assert_eq!(listed.json["configs"][0]["id"], "cfg_1");
    let one = send(&app, "GET", "/api/v1/configs/cfg_1").await;
    assert_eq!(one.json["config"]["auto_match_threshold"], 0.8);
    assert_eq!(one.json["config"]["splink_settings"], simple_settings());
    assert_eq!(
        send(&app, "GET", "/api/v1/configs/cfg_2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, "GET", "/api/v1/configs/2").await.status,
        StatusCode::BAD_REQUEST
    );

    // An upload is stored with its job before any worker runs; the same Idempotency-Key returns the
    // same job and run without storing anything again.
    let first = upload(&app, &config, "k-1").await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.json);
    let again = upload(&app, &config, "k-1").await;
    assert_eq!(again.json, first.json);
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 1);
    assert!(count(&pool, "SELECT count(*) FROM import_upload_chunks").await > 0);
    let job = first.json["job_id"].as_str().unwrap();
    let pending = send(&app, "GET", &format!("/api/v1/jobs/{job}")).await;
    assert_eq!(pending.json["job"]["status"], "new");
    assert_eq!(
        pending.json["job"]["source_uri"],
        "upload:1:raw-person-records.csv"
    );

    let _workers = spawn_workers(&engine);
    let done = wait_job(&app, job, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["records_loaded"], 6);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM import_upload_chunks").await,
        0
    );
    let sources = send(&app, "GET", "/api/v1/data-sources").await;
    assert_eq!(
        sources.json,
        json!({"data_sources": [{"name": "example-ds"}]})
    );
    let unknown = send(&app, "GET", "/api/v1/jobs/job_99").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
