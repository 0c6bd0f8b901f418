//! Comparator plugins through the API and the binary: listing, config validation against the
//! loaded functions, an import scoring with plugin functions, a workflow step whose plugin panics
//! (permanent failure, the worker keeps serving), and `idem score --plugin`.

use std::process::Command;

use axum::http::StatusCode;
use idem_plugin_host::Plugins;
use idem_plugin_host::testing::example;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{
    WorkerProcess, app_with_plugins, create_config, database_url, empi_engine, empi_engine_with,
    send, send_json, spawn_workers, start_import, wait_job,
};

const NICKNAME: &str = "idem-plugin-nickname";
const DMETAPHONE: &str = "idem-plugin-dmetaphone";
const FAULTY: &str = "idem-plugin-faulty";

/// Settings over `first_name` whose middle level calls `condition`.
fn settings(condition: &str) -> Value {
    json!({
        "link_type": "dedupe_only",
        "probability_two_random_records_match": 0.01,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": "l.last_name = r.last_name"}],
        "comparisons": [{"output_column_name": "first_name", "comparison_levels": [
            {"sql_condition": "\"first_name_l\" IS NULL OR \"first_name_r\" IS NULL",
             "label_for_charts": "null", "is_null_level": true},
            {"sql_condition": "\"first_name_l\" = \"first_name_r\"", "label_for_charts": "exact",
             "m_probability": 0.6, "u_probability": 0.01},
            {"sql_condition": condition, "label_for_charts": "plugin",
             "m_probability": 0.3, "u_probability": 0.02},
            {"sql_condition": "ELSE", "label_for_charts": "else",
             "m_probability": 0.1, "u_probability": 0.97}
        ]}]
    })
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("idem-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a person-records CSV of `(source_person_id, first_name, last_name, birth_date)` rows
/// into `dir`.
fn write_csv(dir: &TempDir, name: &str, rows: &[(&str, &str, &str, &str)]) -> String {
    let mut lines = vec![idem_matching::PERSON_RECORD_COLUMNS.join(",")];
    for (id, first, last, birth) in rows {
        lines.push(format!(
            "\"ds\",\"{id}\",\"{first}\",\"{last}\",,,\"{birth}\",,,,,,,,"
        ));
    }
    let path = dir.0.join(name);
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.display().to_string()
}

#[sqlx::test(migrations = false)]
async fn plugins_are_listed_and_a_panicking_plugin_fails_only_its_import(pool: PgPool) {
    // The API and an `idem worker` process load the same plugin directory.
    let tmp = TempDir::new("plugin-dir");
    let dir = tmp.0.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for package in [NICKNAME, FAULTY] {
        let library = example(package);
        std::fs::copy(&library, dir.join(library.file_name().unwrap())).unwrap();
    }
    let plugins = Plugins::load(Some(&dir), &[]).unwrap();
    let manifest = plugins.manifest();
    let engine = empi_engine_with(&pool, &plugins).await;
    let app = app_with_plugins(&engine, plugins).await;

    let listed = send(&app, "GET", "/api/v1/plugins").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json, json!({ "plugins": manifest }));
    let names: Vec<&str> = manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["faulty", "nickname"], "directory order");
    assert_eq!(manifest[1]["functions"][0]["name"], "nickname_match");
    assert_eq!(manifest[1]["sha256"].as_str().unwrap().len(), 64);

    let mut worker = WorkerProcess::start(
        &database_url(&pool),
        &[("IDEM_PLUGIN_DIR", dir.display().to_string())],
    );
    let wait = std::time::Duration::from_secs(60);

    // A record that makes the plugin panic: the scoring step fails permanently, naming plugin
    // and function, after one attempt.
    let faulty = create_config(
        &app,
        &settings("fail_on(\"first_name_l\") = fail_on(\"first_name_r\")"),
        0.05,
        0.8,
    )
    .await;
    let csv = write_csv(
        &tmp,
        "panic.csv",
        &[
            ("p1", "ann", "Lee", "2000-01-01"),
            ("p2", "panic", "Lee", "2000-01-01"),
        ],
    );
    let (job, run) = start_import(&app, &faulty, "source_uri", &csv).await;
    let failed = wait_job(&app, &job, wait).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.contains("function fail_on")
            && reason.contains("plugin 'faulty'")
            && reason.contains("panicked: asked to panic"),
        "{reason}"
    );
    let run = send(&app, "GET", &format!("/api/v1/runs/{run}")).await.json["run"].clone();
    let step = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed")
        .unwrap_or_else(|| panic!("a failed step: {run}"));
    assert_eq!(step["attempt_list"].as_array().unwrap().len(), 1, "{step}");
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "the worker process survives the panic"
    );

    // The same worker then serves another import using a plugin.
    let nickname = create_config(
        &app,
        &settings("nickname_match(\"first_name_l\", \"first_name_r\") >= 1"),
        0.05,
        0.8,
    )
    .await;
    let csv = write_csv(
        &tmp,
        "fine.csv",
        &[
            ("f1", "Robert", "Lee", "1990-01-01"),
            ("f2", "Bob", "Lee", "1990-01-01"),
        ],
    );
    let (job, _) = start_import(&app, &nickname, "source_uri", &csv).await;
    let done = wait_job(&app, &job, wait).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["plugins"], manifest);
    assert_eq!(done["records_loaded"], 2, "{done}");
    assert!(worker.0.try_wait().unwrap().is_none());
    let worker_name = |job: &Value| {
        job["run"]["steps"][3]["attempt_list"][0]["worker"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        worker_name(&failed),
        worker_name(&done),
        "one worker process ran both"
    );

    let none = app_with_plugins(&engine, Plugins::builtins_only()).await;
    let listed = send(&none, "GET", "/api/v1/plugins").await;
    assert_eq!(listed.json, json!({"plugins": []}));
}

#[test]
fn idem_score_loads_plugins_from_flags_and_environment() {
    let tmp = TempDir::new("score-plugins");
    let dir = &tmp.0;
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    let dmetaphone = example(DMETAPHONE);
    std::fs::copy(
        &dmetaphone,
        plugin_dir.join(dmetaphone.file_name().unwrap()),
    )
    .unwrap();
    let csv = dir.join("records.csv");
    let header = idem_matching::PERSON_RECORD_COLUMNS.join(",");
    let row =
        |id: &str, first: &str, last: &str| format!("src,{id},{first},{last},,,1980-01-01,,,,,,,,");
    std::fs::write(
        &csv,
        [
            header,
            row("a", "Robert", "Smith"),
            row("b", "Bob", "Smyth"),
            row("c", "Alan", "Jones"),
        ]
        .join("\n"),
    )
    .unwrap();
    let mut doc = settings("nickname_match(\"first_name_l\", \"first_name_r\") >= 1");
    doc["blocking_rules_to_generate_predictions"] =
        json!([{"blocking_rule": "dmetaphone(l.last_name) = dmetaphone(r.last_name)"}]);
    let settings_path = dir.join("settings.json");
    std::fs::write(&settings_path, doc.to_string()).unwrap();
    let out = dir.join("pairs.csv");

    let run = |with_plugins: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_idem"));
        cmd.arg("score")
            .arg(&csv)
            .arg(&settings_path)
            .arg("--out")
            .arg(&out)
            .env("RUST_LOG", "warn")
            .env_remove("IDEM_PLUGIN_DIR");
        if with_plugins {
            cmd.arg("--plugin")
                .arg(example(NICKNAME))
                .env("IDEM_PLUGIN_DIR", &plugin_dir);
        }
        cmd.output().expect("idem runs")
    };
    let refused = run(false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("nickname_match"), "{stderr}");

    let scored = run(true);
    assert!(
        scored.status.success(),
        "{}",
        String::from_utf8_lossy(&scored.stderr)
    );
    let pairs = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = pairs.lines().collect();
    // Smith/Smyth share a Double Metaphone code; Robert/Bob reach the nickname level.
    assert_eq!(lines.len(), 2, "{pairs}");
    assert!(lines[1].starts_with("a,b,"), "{pairs}");
    let weight: f64 = lines[1].split(',').nth(2).unwrap().parse().unwrap();
    assert!(weight > (0.01f64 / 0.99).log2(), "{pairs}");
}

/// Settings for an import: Double Metaphone blocking on last names, a nickname level on first
/// names strong enough that Robert/Bob with the same birth date is an auto-match.
fn import_settings() -> Value {
    json!({
        "link_type": "dedupe_only",
        "probability_two_random_records_match": 0.01,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": "dmetaphone(l.last_name) = dmetaphone(r.last_name)"}
        ],
        "comparisons": [
            {"output_column_name": "first_name", "comparison_levels": [
                {"sql_condition": "first_name_l IS NULL OR first_name_r IS NULL", "is_null_level": true},
                {"sql_condition": "first_name_l = first_name_r", "m_probability": 0.5, "u_probability": 0.001},
                {"sql_condition": "nickname_match(first_name_l, first_name_r) >= 1",
                 "m_probability": 0.4, "u_probability": 0.001},
                {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.998}
            ]},
            {"output_column_name": "birth_date", "comparison_levels": [
                {"sql_condition": "birth_date_l IS NULL OR birth_date_r IS NULL", "is_null_level": true},
                {"sql_condition": "birth_date_l = birth_date_r", "m_probability": 0.9, "u_probability": 0.1},
                {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.9}
            ]}
        ]
    })
}

#[sqlx::test(migrations = false)]
async fn configs_using_unknown_functions_are_rejected_naming_them(pool: PgPool) {
    let engine = empi_engine(&pool).await;
    let without = app_with_plugins(&engine, Plugins::builtins_only()).await;
    let body = json!({"potential_match_threshold": 0.5, "auto_match_threshold": 0.9,
                      "splink_settings": import_settings()});
    let refused = send_json(&without, "POST", "/api/v1/config", &body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    let details = refused.json["error"]["details"].as_array().unwrap();
    let mentions = |name: &str| {
        details
            .iter()
            .find(|d| d["message"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("no detail names {name}: {details:?}"))["field"]
            .clone()
    };
    assert_eq!(
        mentions("dmetaphone"),
        "splink_settings.blocking_rules_to_generate_predictions[0]"
    );
    assert_eq!(
        mentions("nickname_match"),
        "splink_settings.comparisons[0].comparison_levels[2].sql_condition"
    );

    let plugins = Plugins::load(None, &[example(NICKNAME), example(DMETAPHONE)]).unwrap();
    let with = app_with_plugins(&engine, plugins).await;
    let created = send_json(&with, "POST", "/api/v1/config", &body).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    // Arity and argument types of plugin functions are checked like built-ins'.
    let mut wrong = body.clone();
    wrong["splink_settings"]["comparisons"][0]["comparison_levels"][2]["sql_condition"] =
        json!("nickname_match(first_name_l) >= 1");
    let refused = send_json(&with, "POST", "/api/v1/config", &wrong).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    assert!(
        refused.json.to_string().contains("nickname_match"),
        "{}",
        refused.json
    );
}

#[sqlx::test(migrations = false)]
async fn an_import_scores_with_plugin_functions_and_records_them(pool: PgPool) {
    let plugins = Plugins::load(None, &[example(NICKNAME), example(DMETAPHONE)]).unwrap();
    let manifest = plugins.manifest();
    let engine = empi_engine_with(&pool, &plugins).await;
    let app = app_with_plugins(&engine, plugins).await;
    let _workers = spawn_workers(&engine);
    let config = create_config(&app, &import_settings(), 0.05, 0.8).await;

    let tmp = TempDir::new("plugin-import");
    let csv = tmp.0.join("people.csv");
    let row = |id: &str, first: &str, last: &str, birth: &str| {
        format!("\"ds\",\"{id}\",\"{first}\",\"{last}\",,,\"{birth}\",,,,,,,,")
    };
    let lines = [
        idem_matching::PERSON_RECORD_COLUMNS.join(","),
        row("a1", "Robert", "Smith", "1980-01-01"),
        row("a2", "Bob", "Smyth", "1980-01-01"),
        row("a3", "Alan", "Smith", "1970-07-07"),
        row("a4", "Alfred", "Jones", "1970-07-07"),
    ];
    std::fs::write(&csv, lines.join("\n")).unwrap();
    let (job, _) = start_import(&app, &config, "source_uri", &csv.display().to_string()).await;
    let done = wait_job(&app, &job, std::time::Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["plugins"], manifest,
        "the job records the plugins it scored with"
    );
    assert_eq!(done["plugins"][0]["name"], "nickname");
    assert_eq!(done["plugins"][1]["name"], "dmetaphone");

    // Smith/Smyth are only candidates through dmetaphone, Robert/Bob only similar through
    // nickname_match: the two records became one person. Alan Smith stays apart.
    let persons: Vec<(String, i64)> =
        sqlx::query_as("SELECT source_person_id, person_id FROM person_records ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(persons.len(), 4);
    assert_eq!(persons[0].1, persons[1].1, "{persons:?}");
    assert_ne!(persons[0].1, persons[2].1, "{persons:?}");
    assert_ne!(persons[2].1, persons[3].1, "{persons:?}");
}
