//! Shared helpers: example libraries, scratch directories, a tiny record set and scoring.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use idem_matching::{
    FunctionRegistry, Model, PredictOptions, RecordSet, RecordSetBuilder, Schema, ScoredPair,
};
pub use idem_plugin_host::testing::{example, example_with_features};

pub const NICKNAME: &str = "idem-plugin-nickname";
pub const DMETAPHONE: &str = "idem-plugin-dmetaphone";
pub const FAULTY: &str = "idem-plugin-faulty";

/// A fresh empty directory under the system temp dir, removed when dropped.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scratch_dir(name: &str) -> Scratch {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "idem-plugin-host-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

pub fn schema() -> Schema {
    Schema::new(&["first_name", "last_name", "birth_date"])
}

/// Records `(first_name, last_name, birth_date)` with ids 1, 2, ...
pub fn records(rows: &[(&str, &str, &str)]) -> RecordSet {
    let mut b = RecordSetBuilder::new(schema());
    for (i, (f, l, d)) in rows.iter().enumerate() {
        b.push(i as i64 + 1, &[Some(*f), Some(*l), Some(*d)])
            .unwrap();
    }
    b.build()
}

/// Every candidate pair of `settings` over `records`.
pub fn score(
    settings: &serde_json::Value,
    registry: &FunctionRegistry,
    records: &RecordSet,
) -> idem_matching::Result<Vec<ScoredPair>> {
    let model = Model::from_json(&settings.to_string(), &schema(), registry)
        .unwrap_or_else(|e| panic!("settings compile: {e}"));
    let mut pairs = Vec::new();
    model.predict(records, &PredictOptions::default(), |chunk| {
        pairs.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(pairs)
}

/// A settings document: `levels` are the first-name comparison's levels between the exact
/// and the ELSE level, `rules` the blocking rules.
pub fn settings(rules: &[&str], first_name_levels: &[&str]) -> serde_json::Value {
    let mut levels = vec![
        serde_json::json!({"sql_condition": "\"first_name_l\" IS NULL OR \"first_name_r\" IS NULL",
            "label_for_charts": "null", "is_null_level": true}),
        serde_json::json!({"sql_condition": "\"first_name_l\" = \"first_name_r\"",
            "label_for_charts": "exact", "m_probability": 0.5, "u_probability": 0.01}),
    ];
    for (i, c) in first_name_levels.iter().enumerate() {
        levels.push(
            serde_json::json!({"sql_condition": c, "label_for_charts": format!("level {i}"),
            "m_probability": 0.3, "u_probability": 0.02}),
        );
    }
    levels.push(
        serde_json::json!({"sql_condition": "ELSE", "label_for_charts": "else",
        "m_probability": 0.2, "u_probability": 0.97}),
    );
    serde_json::json!({
        "link_type": "dedupe_only",
        "probability_two_random_records_match": 0.01,
        "blocking_rules_to_generate_predictions":
            rules.iter().map(|r| serde_json::json!({"blocking_rule": r})).collect::<Vec<_>>(),
        "comparisons": [
            {"output_column_name": "first_name", "comparison_levels": levels},
            {"output_column_name": "birth_date", "comparison_levels": [
                {"sql_condition": "\"birth_date_l\" IS NULL OR \"birth_date_r\" IS NULL",
                 "label_for_charts": "null", "is_null_level": true},
                {"sql_condition": "\"birth_date_l\" = \"birth_date_r\"", "label_for_charts": "exact",
                 "m_probability": 0.9, "u_probability": 0.05},
                {"sql_condition": "ELSE", "label_for_charts": "else",
                 "m_probability": 0.1, "u_probability": 0.95}
            ]}
        ]
    })
}
