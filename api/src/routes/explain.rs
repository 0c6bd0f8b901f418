//! Explains a stored result per comparison from its `data` (`match_key`, `gamma_<c>`, `bf_<c>`,
//! `tf_<col>_l/_r`, `bf_tf_adj_<c>`) and the config its job scored it with: the chosen level's label, the
//! Bayes factor and its match-weight contribution (log2), and the term-frequency adjustment.

use idem_matching::{FunctionRegistry, Model, Schema, Settings};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The term-frequency adjustment of a comparison.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub(crate) struct TfAdjustmentView {
    /// The column whose term frequencies adjust the comparison.
    column: String,
    /// Term frequency of the left record's value.
    tf_l: Option<f64>,
    /// Term frequency of the right record's value.
    tf_r: Option<f64>,
    /// The adjustment as a Bayes factor (1: none).
    bayes_factor: Option<f64>,
    /// log2 of `bayes_factor`.
    match_weight: Option<f64>,
}

/// One comparison's part of a result's score.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub(crate) struct ComparisonView {
    /// The comparison's output column name.
    comparison: String,
    /// The chosen level's comparison-vector value (-1: the null level).
    gamma: Option<i64>,
    /// The chosen level's `label_for_charts` (its condition when it has none).
    level: Option<String>,
    /// The level's Bayes factor (`bf_<comparison>`).
    bayes_factor: Option<f64>,
    /// Its match-weight contribution, log2 of `bayes_factor`.
    match_weight: Option<f64>,
    /// Present for comparisons with a term-frequency column.
    tf_adjustment: Option<TfAdjustmentView>,
}

/// Why a result scored as it did.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub(crate) struct ExplanationView {
    /// The index of the blocking rule that generated the pair.
    match_key: Option<String>,
    /// Per comparison, in the config's order.
    comparisons: Vec<ComparisonView>,
}

/// Explains results scored with one config.
pub(crate) struct Explainer {
    /// `None` when the config is missing or no longer compiles (e.g. a plugin function is not loaded): the
    /// comparisons are then read from the data's `bf_` keys, without labels.
    model: Option<Model>,
}

fn number(data: &Value, key: &str) -> Option<f64> {
    match data.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn log2(bf: Option<f64>) -> Option<f64> {
    bf.map(f64::log2).filter(|w| w.is_finite())
}

impl Explainer {
    pub(crate) fn new(settings: Option<&Value>, functions: &FunctionRegistry) -> Self {
        let model = settings
            .and_then(|s| Settings::from_value(s).ok())
            .and_then(|s| Model::compile(&s, &Schema::person_record(), functions).ok());
        Self { model }
    }

    pub(crate) fn explain(&self, data: &Value) -> ExplanationView {
        let match_key = match data.get("match_key") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let comparisons = match &self.model {
            Some(model) => model
                .comparisons
                .iter()
                .map(|c| {
                    let name = &c.output_column_name;
                    let gamma = data.get(format!("gamma_{name}")).and_then(Value::as_i64);
                    let level = gamma.and_then(|g| {
                        c.levels
                            .iter()
                            .find(|l| i64::from(l.gamma) == g)
                            .map(|l| l.label.to_string())
                    });
                    let tf = c
                        .tf_column_name(model.schema())
                        .map(|col| tf_view(data, name, col));
                    comparison_view(data, name, gamma, level, tf)
                })
                .collect(),
            None => {
                let mut names: Vec<&str> = data
                    .as_object()
                    .map(|o| {
                        o.keys()
                            .filter_map(|k| k.strip_prefix("bf_"))
                            .filter(|k| !k.starts_with("tf_adj_"))
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort_unstable();
                names
                    .into_iter()
                    .map(|name| {
                        let gamma = data.get(format!("gamma_{name}")).and_then(Value::as_i64);
                        comparison_view(data, name, gamma, None, None)
                    })
                    .collect()
            }
        };
        ExplanationView {
            match_key,
            comparisons,
        }
    }
}

fn tf_view(data: &Value, name: &str, column: &str) -> TfAdjustmentView {
    let bayes_factor = number(data, &format!("bf_tf_adj_{name}"));
    TfAdjustmentView {
        column: column.to_owned(),
        tf_l: number(data, &format!("tf_{column}_l")),
        tf_r: number(data, &format!("tf_{column}_r")),
        bayes_factor,
        match_weight: log2(bayes_factor),
    }
}

fn comparison_view(
    data: &Value,
    name: &str,
    gamma: Option<i64>,
    level: Option<String>,
    tf_adjustment: Option<TfAdjustmentView>,
) -> ComparisonView {
    let bayes_factor = number(data, &format!("bf_{name}"));
    ComparisonView {
        comparison: name.to_owned(),
        gamma,
        level,
        bayes_factor,
        match_weight: log2(bayes_factor),
        tf_adjustment,
    }
}
