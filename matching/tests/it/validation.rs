//! Settings validation: every problem is reported with its JSON path.

use idem_matching::{FunctionRegistry, Model, Schema, Settings};

use crate::common::data;

fn errors(json: &str) -> Vec<String> {
    match Model::from_json(
        json,
        &Schema::person_record(),
        &FunctionRegistry::with_builtins(),
    ) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

#[track_caller]
fn assert_has(errs: &[String], path: &str, needle: &str) {
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{path}: ")) && e.contains(needle)),
        "expected an error at {path} containing {needle:?}; got {errs:#?}"
    );
}

const NULL_LEVEL: &str =
    r#"{"sql_condition": "first_name_l IS NULL OR first_name_r IS NULL", "is_null_level": true}"#;
const ELSE_LEVEL: &str = r#"{"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.9}"#;

fn with_levels(levels: &[&str]) -> String {
    format!(
        r#"{{"link_type": "dedupe_only", "comparisons": [{{"comparison_levels": [{}]}}],
            "blocking_rules_to_generate_predictions": ["l.first_name = r.first_name"]}}"#,
        levels.join(",")
    )
}

#[test]
fn shipped_settings_files_are_valid() {
    for f in [
        "febrl/febrl_model.json",
        "tuva_synth/tuva_synth_model.json",
        "splink-settings-example.json",
    ] {
        let json = std::fs::read_to_string(data(f)).unwrap();
        assert_eq!(errors(&json), Vec::<String>::new(), "{f}");
    }
}

#[test]
fn reports_each_problem_with_its_json_path() {
    let l = "comparisons[0].comparison_levels";
    // Missing m/u on a non-null level; m/u on a null level.
    let errs = errors(&with_levels(&[
        r#"{"sql_condition": "first_name_l IS NULL", "is_null_level": true, "m_probability": 0.5, "u_probability": 0.5}"#,
        r#"{"sql_condition": "first_name_l = first_name_r", "u_probability": 0.1}"#,
        r#"{"sql_condition": "ELSE", "m_probability": 1.5, "u_probability": -0.1}"#,
    ]));
    assert_has(
        &errs,
        &format!("{l}[0].m_probability"),
        "must not be set on a null level",
    );
    assert_has(
        &errs,
        &format!("{l}[0].u_probability"),
        "must not be set on a null level",
    );
    assert_has(
        &errs,
        &format!("{l}[1].m_probability"),
        "missing m_probability",
    );
    assert_has(&errs, &format!("{l}[2].m_probability"), "out of range");
    assert_has(&errs, &format!("{l}[2].u_probability"), "out of range");
    assert_eq!(errs.len(), 5, "all problems are reported: {errs:#?}");

    // Unknown column, unknown function, wrong arity, unparsable condition with position.
    let errs = errors(&with_levels(&[
        NULL_LEVEL,
        r#"{"sql_condition": "\"nickname_l\" = \"nickname_r\"", "m_probability": 0.5, "u_probability": 0.1}"#,
        r#"{"sql_condition": "soundex(first_name_l) = soundex(first_name_r)", "m_probability": 0.5, "u_probability": 0.1}"#,
        r#"{"sql_condition": "levenshtein(first_name_l) <= 1", "m_probability": 0.5, "u_probability": 0.1}"#,
        r#"{"sql_condition": "first_name_l = = first_name_r", "m_probability": 0.5, "u_probability": 0.1}"#,
        ELSE_LEVEL,
    ]));
    assert_has(
        &errs,
        &format!("{l}[1].sql_condition"),
        "unknown column 'nickname_l'",
    );
    assert_has(
        &errs,
        &format!("{l}[2].sql_condition"),
        "unknown function 'soundex'",
    );
    assert_has(
        &errs,
        &format!("{l}[3].sql_condition"),
        "takes 2 argument(s), got 1",
    );
    assert_has(&errs, &format!("{l}[4].sql_condition"), "at position 15");

    // TF level without an exact-match level; unknown TF column.
    let errs = errors(&with_levels(&[
        NULL_LEVEL,
        r#"{"sql_condition": "jaro_winkler_similarity(first_name_l, first_name_r) > 0.9", "m_probability": 0.5,
            "u_probability": 0.1, "tf_adjustment_column": "first_name"}"#,
        r#"{"sql_condition": "first_name_l = last_name_r", "m_probability": 0.5, "u_probability": 0.1, "tf_adjustment_column": "middle_name"}"#,
        ELSE_LEVEL,
    ]));
    assert_has(
        &errs,
        &format!("{l}[1].tf_adjustment_column"),
        "exact match level on 'first_name' is required",
    );
    assert_has(
        &errs,
        &format!("{l}[2].tf_adjustment_column"),
        "unknown column 'middle_name'",
    );

    // Empty comparisons / levels, bad prior, unsupported link type, bad blocking rules.
    let errs = errors(
        r#"{"link_type": "link_only", "comparisons": [], "probability_two_random_records_match": 1.5,
            "blocking_rules_to_generate_predictions": [42, {"sql_dialect": "duckdb"}, "l.first_name = "]}"#,
    );
    assert_has(&errs, "link_type", "not supported");
    assert_has(&errs, "comparisons", "at least one comparison");
    assert_has(
        &errs,
        "probability_two_random_records_match",
        "strictly between 0 and 1",
    );
    assert_has(
        &errs,
        "blocking_rules_to_generate_predictions[0]",
        "expected a string or an object",
    );
    assert_has(
        &errs,
        "blocking_rules_to_generate_predictions[1].blocking_rule",
        "missing blocking_rule",
    );
    assert_has(
        &errs,
        "blocking_rules_to_generate_predictions[2]",
        "cannot parse condition",
    );
    let errs =
        errors(r#"{"comparisons": [{"comparison_levels": []}, {"output_column_name": "x"}]}"#);
    assert_has(
        &errs,
        "comparisons[0].comparison_levels",
        "at least one comparison level",
    );
    assert_has(
        &errs,
        "comparisons[1].comparison_levels",
        "at least one comparison level",
    );

    // Blocking rule referencing an unknown column (compile stage).
    let errs = errors(
        &with_levels(&[NULL_LEVEL, ELSE_LEVEL])
            .replace("l.first_name = r.first_name", "l.job_id = r.job_id"),
    );
    assert_has(
        &errs,
        "blocking_rules_to_generate_predictions[0]",
        "unknown column 'job_id'",
    );

    // Wrong JSON types.
    let errs = errors(&with_levels(&[
        r#"{"sql_condition": 3, "is_null_level": "yes"}"#,
        r#"{"sql_condition": "ELSE", "m_probability": "0.5", "u_probability": 0.5}"#,
    ]));
    assert_has(&errs, &format!("{l}[0].sql_condition"), "expected a string");
    assert_has(
        &errs,
        &format!("{l}[0].is_null_level"),
        "expected true or false",
    );
    assert_has(&errs, &format!("{l}[1].m_probability"), "expected a number");
    assert!(
        Settings::from_json("not json").unwrap_err().errors()[0]
            .message
            .contains("invalid JSON")
    );
}

#[test]
fn accepts_known_and_unknown_keys_and_blocking_rule_forms() {
    let json = r#"{"link_type": "dedupe_only", "sql_dialect": "duckdb", "linker_uid": "x", "retain_matching_columns": true,
        "bayes_factor_column_prefix": "bf_", "match_weight_column_prefix": "mw_", "something_new": [1, 2],
        "unique_id_column_name": "id", "em_convergence": 0.001, "max_iterations": 10,
        "comparisons": [{"comparison_levels": [
            {"sql_condition": "\"first_name_l\" IS NULL OR \"first_name_r\" IS NULL", "is_null_level": true, "fix_m_probability": false},
            {"sql_condition": "\"first_name_l\" = \"first_name_r\"", "m_probability": 0.9, "u_probability": 0.01,
             "tf_adjustment_column": "first_name", "tf_adjustment_weight": 0.5, "tf_minimum_u_value": 0.001, "comparison_vector_value": 1},
            {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.99}]}],
        "blocking_rules_to_generate_predictions": ["l.first_name = r.first_name",
            {"blocking_rule": "l.\"last_name\" = r.\"last_name\"", "sql_dialect": "duckdb", "salting_partitions": 4}]}"#;
    let s = Settings::from_json(json).unwrap();
    assert_eq!(s.max_iterations, 10);
    assert_eq!(s.blocking_rules.len(), 2);
    assert_eq!(s.comparisons[0].levels[1].tf_adjustment_weight, 0.5);
    let m = Model::compile(
        &s,
        &Schema::person_record(),
        &FunctionRegistry::with_builtins(),
    )
    .unwrap();
    assert_eq!(m.comparisons[0].output_column_name, "first_name");
    assert_eq!(
        m.comparisons[0]
            .levels
            .iter()
            .map(|l| l.gamma)
            .collect::<Vec<_>>(),
        vec![-1, 1, 0]
    );
}
