//! Splink 4 settings JSON: parsing and structural validation.
//!
//! Every problem is collected (not just the first) and located by its JSON path. Known Splink
//! keys that do not affect scoring (prefixes, `retain_*`, `sql_dialect`, ...) and unknown keys
//! are accepted and ignored. Conditions are syntax-checked here; column and function
//! resolution happens in [`crate::Model::compile`].

use serde_json::{Map, Value as Json};

use crate::error::{ValidationError, ValidationErrors};
use crate::sql::check_syntax;

/// Splink `link_type`. Only deduplication is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `dedupe_only`: pairs within one record set.
    DedupeOnly,
}

/// A parsed, structurally valid settings document.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The link type.
    pub link_type: LinkType,
    /// Comparisons, in order.
    pub comparisons: Vec<ComparisonSettings>,
    /// `blocking_rules_to_generate_predictions`, in order.
    pub blocking_rules: Vec<BlockingRuleSettings>,
    /// λ, the prior probability that two random records match.
    pub probability_two_random_records_match: f64,
    /// EM convergence threshold (training only).
    pub em_convergence: f64,
    /// EM iteration cap (training only).
    pub max_iterations: u32,
    /// Name of the unique id column (informational).
    pub unique_id_column_name: String,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonSettings {
    /// `output_column_name`, if given.
    pub output_column_name: Option<String>,
    /// `comparison_description`, if given.
    pub comparison_description: Option<String>,
    /// Levels in evaluation order.
    pub levels: Vec<ComparisonLevelSettings>,
}

/// One comparison level.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonLevelSettings {
    /// The SQL condition, or `ELSE`.
    pub sql_condition: String,
    /// `label_for_charts`, if given.
    pub label_for_charts: Option<String>,
    /// Null level: contributes weight 0.
    pub is_null_level: bool,
    /// P(level | match).
    pub m_probability: Option<f64>,
    /// P(level | non-match).
    pub u_probability: Option<f64>,
    /// Column whose term frequencies adjust this level.
    pub tf_adjustment_column: Option<String>,
    /// Strength of the TF adjustment (default 1).
    pub tf_adjustment_weight: f64,
    /// Floor for the term frequency used (default 0).
    pub tf_minimum_u_value: f64,
    /// EM must not update m.
    pub fix_m_probability: bool,
    /// EM must not update u.
    pub fix_u_probability: bool,
    /// Use this level's own u instead of the exact-match level's for TF adjustment.
    pub disable_tf_exact_match_detection: bool,
}

impl ComparisonLevelSettings {
    /// Whether this is the catch-all `ELSE` level.
    pub fn is_else(&self) -> bool {
        self.sql_condition.trim().eq_ignore_ascii_case("else")
    }
}

/// One blocking rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingRuleSettings {
    /// The SQL rule over `l.` / `r.` columns.
    pub blocking_rule: String,
    /// `sql_dialect`, if given (informational).
    pub sql_dialect: Option<String>,
}

struct Ctx {
    errors: Vec<ValidationError>,
}

impl Ctx {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.errors.push(ValidationError::new(path, msg));
    }

    fn number(&mut self, obj: &Map<String, Json>, key: &str, path: &str) -> Option<f64> {
        match obj.get(key) {
            None | Some(Json::Null) => None,
            Some(Json::Number(n)) => n.as_f64(),
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!("expected a number, got {}", kind(other)),
                );
                None
            }
        }
    }

    fn probability(&mut self, obj: &Map<String, Json>, key: &str, path: &str) -> Option<f64> {
        let v = self.number(obj, key, path)?;
        if !(0.0..=1.0).contains(&v) {
            self.err(
                &format!("{path}.{key}"),
                format!("probability {v} is out of range [0, 1]"),
            );
        }
        Some(v)
    }

    fn boolean(&mut self, obj: &Map<String, Json>, key: &str, path: &str) -> bool {
        match obj.get(key) {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!("expected true or false, got {}", kind(other)),
                );
                false
            }
        }
    }

    fn string(&mut self, obj: &Map<String, Json>, key: &str, path: &str) -> Option<String> {
        match obj.get(key) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!("expected a string, got {}", kind(other)),
                );
                None
            }
        }
    }

    fn condition(&mut self, sql: &str, path: &str) {
        if sql.trim().is_empty() {
            self.err(path, "condition is empty");
        } else if let Err(e) = check_syntax(sql) {
            self.err(path, e.to_string());
        }
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

impl Settings {
    /// Parses and validates a settings JSON document, returning all problems found.
    pub fn from_json(json: &str) -> Result<Settings, ValidationErrors> {
        let doc: Json = serde_json::from_str(json).map_err(|e| {
            ValidationErrors(vec![ValidationError::new("", format!("invalid JSON: {e}"))])
        })?;
        Self::from_value(&doc)
    }

    /// Like [`Settings::from_json`] for an already parsed document.
    pub fn from_value(doc: &Json) -> Result<Settings, ValidationErrors> {
        match Self::parse_lenient(doc) {
            (Some(s), errors) if errors.is_empty() => Ok(s),
            (_, errors) => Err(ValidationErrors(errors)),
        }
    }

    /// Parses as much as possible: the settings (with invalid parts defaulted or left out)
    /// plus every structural problem, so that compiling can report its own problems too.
    pub(crate) fn parse_lenient(doc: &Json) -> (Option<Settings>, Vec<ValidationError>) {
        let mut cx = Ctx { errors: Vec::new() };
        let Some(obj) = doc.as_object() else {
            let e = ValidationError::new("", format!("expected a JSON object, got {}", kind(doc)));
            return (None, vec![e]);
        };
        let link_type = match cx.string(obj, "link_type", "") {
            None => LinkType::DedupeOnly,
            Some(s) if s == "dedupe_only" => LinkType::DedupeOnly,
            Some(s) => {
                cx.err(
                    "link_type",
                    format!("link type '{s}' is not supported (only dedupe_only)"),
                );
                LinkType::DedupeOnly
            }
        };
        let prior = cx
            .number(obj, "probability_two_random_records_match", "")
            .unwrap_or(0.0001);
        if !(prior > 0.0 && prior < 1.0) {
            cx.err(
                "probability_two_random_records_match",
                format!("probability {prior} must be strictly between 0 and 1"),
            );
        }
        let em_convergence = cx.number(obj, "em_convergence", "").unwrap_or(0.0001);
        if em_convergence.is_nan() || em_convergence <= 0.0 {
            cx.err(
                "em_convergence",
                format!("must be positive, got {em_convergence}"),
            );
        }
        let max_iterations = match obj.get("max_iterations") {
            None | Some(Json::Null) => 25,
            Some(Json::Number(n)) if n.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)) => {
                n.as_u64().unwrap_or(25) as u32
            }
            Some(other) => {
                cx.err(
                    "max_iterations",
                    format!("expected a non-negative integer, got {other}"),
                );
                25
            }
        };
        let unique_id_column_name = cx
            .string(obj, "unique_id_column_name", "")
            .unwrap_or_else(|| "unique_id".into());

        let comparisons = match obj.get("comparisons") {
            None | Some(Json::Null) => {
                cx.err("comparisons", "at least one comparison is required");
                Vec::new()
            }
            Some(Json::Array(list)) => {
                if list.is_empty() {
                    cx.err("comparisons", "at least one comparison is required");
                }
                list.iter()
                    .enumerate()
                    .filter_map(|(i, c)| parse_comparison(&mut cx, c, &format!("comparisons[{i}]")))
                    .collect()
            }
            Some(other) => {
                cx.err(
                    "comparisons",
                    format!("expected an array, got {}", kind(other)),
                );
                Vec::new()
            }
        };

        let key = "blocking_rules_to_generate_predictions";
        let blocking_rules = match obj.get(key) {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let path = format!("{key}[{i}]");
                    let (rule, dialect) = match r {
                        Json::String(s) => (s.clone(), None),
                        Json::Object(o) => {
                            let Some(rule) = cx.string(o, "blocking_rule", &path) else {
                                cx.err(&format!("{path}.blocking_rule"), "missing blocking_rule");
                                return None;
                            };
                            let d = cx.string(o, "sql_dialect", &path);
                            if d.as_deref()
                                .is_some_and(|d| !d.eq_ignore_ascii_case("duckdb"))
                            {
                                cx.err(
                                    &format!("{path}.sql_dialect"),
                                    "only the duckdb dialect is supported",
                                );
                            }
                            (rule, d)
                        }
                        other => {
                            cx.err(
                                &path,
                                format!("expected a string or an object, got {}", kind(other)),
                            );
                            return None;
                        }
                    };
                    let cpath = if r.is_object() {
                        format!("{path}.blocking_rule")
                    } else {
                        path
                    };
                    cx.condition(&rule, &cpath);
                    Some(BlockingRuleSettings {
                        blocking_rule: rule,
                        sql_dialect: dialect,
                    })
                })
                .collect(),
            Some(other) => {
                cx.err(key, format!("expected an array, got {}", kind(other)));
                Vec::new()
            }
        };

        let settings = Settings {
            link_type,
            comparisons,
            blocking_rules,
            probability_two_random_records_match: prior,
            em_convergence,
            max_iterations,
            unique_id_column_name,
        };
        (Some(settings), cx.errors)
    }
}

fn parse_comparison(cx: &mut Ctx, c: &Json, path: &str) -> Option<ComparisonSettings> {
    let Some(obj) = c.as_object() else {
        cx.err(path, format!("expected an object, got {}", kind(c)));
        return None;
    };
    let output_column_name = cx.string(obj, "output_column_name", path);
    let comparison_description = cx.string(obj, "comparison_description", path);
    let lpath = format!("{path}.comparison_levels");
    let levels = match obj.get("comparison_levels") {
        Some(Json::Array(list)) if !list.is_empty() => list
            .iter()
            .enumerate()
            .filter_map(|(j, l)| parse_level(cx, l, &format!("{lpath}[{j}]")))
            .collect(),
        Some(Json::Array(_)) | None | Some(Json::Null) => {
            cx.err(&lpath, "at least one comparison level is required");
            Vec::new()
        }
        Some(other) => {
            cx.err(&lpath, format!("expected an array, got {}", kind(other)));
            Vec::new()
        }
    };
    Some(ComparisonSettings {
        output_column_name,
        comparison_description,
        levels,
    })
}

fn parse_level(cx: &mut Ctx, l: &Json, path: &str) -> Option<ComparisonLevelSettings> {
    let Some(obj) = l.as_object() else {
        cx.err(path, format!("expected an object, got {}", kind(l)));
        return None;
    };
    let sql_condition = match cx.string(obj, "sql_condition", path) {
        Some(s) => s,
        None => {
            if !obj.contains_key("sql_condition") {
                cx.err(&format!("{path}.sql_condition"), "missing sql_condition");
            }
            String::new()
        }
    };
    let level = ComparisonLevelSettings {
        label_for_charts: cx.string(obj, "label_for_charts", path),
        is_null_level: cx.boolean(obj, "is_null_level", path),
        m_probability: cx.probability(obj, "m_probability", path),
        u_probability: cx.probability(obj, "u_probability", path),
        tf_adjustment_column: cx.string(obj, "tf_adjustment_column", path),
        tf_adjustment_weight: cx.number(obj, "tf_adjustment_weight", path).unwrap_or(1.0),
        tf_minimum_u_value: cx
            .probability(obj, "tf_minimum_u_value", path)
            .unwrap_or(0.0),
        fix_m_probability: cx.boolean(obj, "fix_m_probability", path),
        fix_u_probability: cx.boolean(obj, "fix_u_probability", path),
        disable_tf_exact_match_detection: cx.boolean(obj, "disable_tf_exact_match_detection", path),
        sql_condition,
    };
    if obj.contains_key("sql_condition") && !level.is_else() {
        cx.condition(&level.sql_condition, &format!("{path}.sql_condition"));
    }
    if !(level.tf_adjustment_weight.is_finite() && level.tf_adjustment_weight >= 0.0) {
        cx.err(
            &format!("{path}.tf_adjustment_weight"),
            format!(
                "must be a finite number >= 0, got {}",
                level.tf_adjustment_weight
            ),
        );
    }
    for (key, v) in [
        ("m_probability", level.m_probability),
        ("u_probability", level.u_probability),
    ] {
        match (level.is_null_level, v) {
            (true, Some(_)) => cx.err(
                &format!("{path}.{key}"),
                format!("{key} must not be set on a null level"),
            ),
            (false, None) if obj.get(key).is_none_or(|x| x.is_null()) => cx.err(
                &format!("{path}.{key}"),
                format!("missing {key} (required on a non-null level)"),
            ),
            _ => {}
        }
    }
    if level.is_null_level && level.tf_adjustment_column.is_some() {
        cx.err(
            &format!("{path}.tf_adjustment_column"),
            "a null level cannot have a term-frequency adjustment",
        );
    }
    Some(level)
}
