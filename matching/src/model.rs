//! A compiled model: comparisons with compiled level conditions, weights, TF settings and
//! blocking rules, ready to score pairs of a [`crate::RecordSet`].

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::blocking::BlockingRule;
use crate::error::{ValidationError, ValidationErrors};
use crate::functions::FunctionRegistry;
use crate::literal::duckdb_float_literal as duck;
use crate::schema::Schema;
use crate::settings::Settings;
use crate::sql::{Node, compile_condition};

/// A compiled comparison level.
#[derive(Debug, Clone)]
pub struct ComparisonLevel {
    /// `label_for_charts` (or the condition text).
    pub label: Arc<str>,
    /// Splink's comparison vector value: -1 for null levels, counting down to 0 otherwise.
    pub gamma: i32,
    /// Whether this is a null level (Bayes factor 1).
    pub is_null: bool,
    /// m probability (NaN for null levels).
    pub m: f64,
    /// u probability (NaN for null levels).
    pub u: f64,
    /// Bayes factor m/u as DuckDB sees it in Splink's SQL (1 for null levels).
    pub bayes_factor: f64,
    /// log2 of the Bayes factor.
    pub match_weight: f64,
    /// `None` for `ELSE`.
    pub(crate) condition: Option<Node>,
    pub(crate) tf: Option<TfAdjust>,
}

/// Term-frequency adjustment of a level.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TfAdjust {
    pub(crate) column: usize,
    pub(crate) weight: f64,
    pub(crate) min_u: f64,
    pub(crate) u_exact: f64,
}

/// A compiled comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `output_column_name` (or derived from the columns used, as Splink does).
    pub output_column_name: String,
    /// Levels in evaluation order.
    pub levels: Vec<ComparisonLevel>,
    /// The TF column reported in explanations (`tf_<col>_l/_r`), if any level adjusts.
    pub(crate) tf_column: Option<usize>,
    /// The column `c` when the first two levels are `c_l IS NULL OR c_r IS NULL` and
    /// `c_l = c_r` (most comparisons): scoring then decides them from the pair's two codes of
    /// `c`, read once, and tests the other levels only if the codes differ.
    pub(crate) null_then_exact: Option<usize>,
}

impl Comparison {
    /// Name of the TF column reported for this comparison, if any.
    pub fn tf_column_name<'s>(&self, schema: &'s Schema) -> Option<&'s str> {
        self.tf_column.map(|c| schema.columns()[c].as_str())
    }
}

/// A compiled, validated Fellegi-Sunter model.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) schema: Schema,
    /// Comparisons in order.
    pub comparisons: Vec<Comparison>,
    pub(crate) blocking: Vec<BlockingRule>,
    /// λ.
    pub probability_two_random_records_match: f64,
    /// Prior Bayes factor λ/(1-λ).
    pub prior_bayes_factor: f64,
}

impl Model {
    /// Parses, validates and compiles a settings JSON in one step.
    pub fn from_json(
        json: &str,
        schema: &Schema,
        registry: &FunctionRegistry,
    ) -> Result<Model, ValidationErrors> {
        let doc: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            ValidationErrors(vec![ValidationError::new("", format!("invalid JSON: {e}"))])
        })?;
        let (settings, mut errors) = Settings::parse_lenient(&doc);
        let Some(settings) = settings else {
            return Err(ValidationErrors(errors));
        };
        match Model::compile(&settings, schema, registry) {
            Ok(model) if errors.is_empty() => Ok(model),
            Ok(_) => Err(ValidationErrors(errors)),
            Err(more) => {
                // Syntax errors are found by both stages; report each problem once.
                for e in more.0 {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                }
                Err(ValidationErrors(errors))
            }
        }
    }

    /// Compiles validated settings against a schema and a function registry, reporting every
    /// unknown column or function, arity mismatch, and TF level without an exact-match level.
    pub fn compile(
        settings: &Settings,
        schema: &Schema,
        registry: &FunctionRegistry,
    ) -> Result<Model, ValidationErrors> {
        let mut errors = Vec::new();
        let mut comparisons = Vec::new();
        for (i, cs) in settings.comparisons.iter().enumerate() {
            let path = format!("comparisons[{i}]");
            let mut levels = Vec::new();
            let mut columns_used = BTreeSet::new();
            let n_non_null = cs.levels.iter().filter(|l| !l.is_null_level).count() as i32;
            let mut next_gamma = n_non_null - 1;
            for (j, ls) in cs.levels.iter().enumerate() {
                let lpath = format!("{path}.comparison_levels[{j}]");
                let condition = if ls.is_else() || ls.sql_condition.trim().is_empty() {
                    None
                } else {
                    match compile_condition(&ls.sql_condition, schema, registry) {
                        Ok(node) => {
                            node.visit_columns(&mut |_, c| {
                                columns_used.insert(c);
                            });
                            Some(node)
                        }
                        Err(errs) => {
                            for e in errs {
                                errors.push(ValidationError::new(
                                    format!("{lpath}.sql_condition"),
                                    e.to_string(),
                                ));
                            }
                            None
                        }
                    }
                };
                let gamma = if ls.is_null_level {
                    -1
                } else {
                    next_gamma -= 1;
                    next_gamma + 1
                };
                let (m, u) = (
                    ls.m_probability.unwrap_or(f64::NAN),
                    ls.u_probability.unwrap_or(f64::NAN),
                );
                let bayes_factor = if ls.is_null_level {
                    1.0
                } else if u == 0.0 {
                    f64::INFINITY
                } else {
                    duck(m / u)
                };
                levels.push(ComparisonLevel {
                    label: ls
                        .label_for_charts
                        .clone()
                        .unwrap_or_else(|| ls.sql_condition.clone())
                        .into(),
                    gamma,
                    is_null: ls.is_null_level,
                    m,
                    u,
                    bayes_factor,
                    match_weight: bayes_factor.log2(),
                    condition,
                    tf: None,
                });
            }
            // Term-frequency adjustments (need every level's exact-match column first).
            let mut tf_column = None;
            for (j, ls) in cs.levels.iter().enumerate() {
                let Some(tf_name) = &ls.tf_adjustment_column else {
                    continue;
                };
                let tpath = format!("{path}.comparison_levels[{j}].tf_adjustment_column");
                let Some(col) = schema.index_of(tf_name) else {
                    errors.push(ValidationError::new(
                        tpath,
                        format!("unknown column '{tf_name}'"),
                    ));
                    continue;
                };
                match tf_column {
                    Some(c) if c != col => {
                        errors.push(ValidationError::new(
                            tpath,
                            "all TF levels of one comparison must use the same column",
                        ));
                        continue;
                    }
                    _ => tf_column = Some(col),
                }
                if ls.is_else() || ls.tf_adjustment_weight == 0.0 {
                    continue;
                }
                let u_exact = if ls.disable_tf_exact_match_detection {
                    ls.u_probability
                } else {
                    cs.levels.iter().zip(&levels).find_map(|(other, compiled)| {
                        let exact = compiled.condition.as_ref()?.exact_match_column()?;
                        (exact == col && !other.is_null_level)
                            .then_some(other.u_probability)
                            .flatten()
                    })
                };
                let Some(u_exact) = u_exact else {
                    errors.push(ValidationError::new(
                        tpath,
                        format!(
                            "an exact match level on '{tf_name}' is required to make a term frequency adjustment \
                             (or set disable_tf_exact_match_detection)"
                        ),
                    ));
                    continue;
                };
                levels[j].tf = Some(TfAdjust {
                    column: col,
                    weight: duck(ls.tf_adjustment_weight),
                    min_u: duck(ls.tf_minimum_u_value),
                    u_exact: duck(u_exact),
                });
            }
            let output_column_name = cs.output_column_name.clone().unwrap_or_else(|| {
                let names: Vec<&str> = columns_used
                    .iter()
                    .map(|c| schema.columns()[*c].as_str())
                    .collect();
                if names.len() == 1 {
                    names[0].to_string()
                } else {
                    format!("custom_{}", names.join("_"))
                }
            });
            let condition = |j: usize| levels.get(j).and_then(|l| l.condition.as_ref());
            let null_then_exact = condition(0).and_then(Node::null_level_column).filter(|&c| {
                matches!(condition(1), Some(Node::EqCols { a, b })
                        if a.1 == c && b.1 == c && a.0 != b.0)
            });
            comparisons.push(Comparison {
                output_column_name,
                levels,
                tf_column,
                null_then_exact,
            });
        }
        let mut blocking = Vec::new();
        for (k, br) in settings.blocking_rules.iter().enumerate() {
            match BlockingRule::compile(&br.blocking_rule, schema, registry) {
                Ok(rule) => blocking.push(rule),
                Err(errs) => {
                    for e in errs {
                        errors.push(ValidationError::new(
                            format!("blocking_rules_to_generate_predictions[{k}]"),
                            e.to_string(),
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        let p = settings.probability_two_random_records_match;
        Ok(Model {
            schema: schema.clone(),
            comparisons,
            blocking,
            probability_two_random_records_match: p,
            prior_bayes_factor: duck(p / (1.0 - p)),
        })
    }

    /// The schema the model was compiled against.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Per schema column, whether prediction reads it (comparison levels, TF adjustments,
    /// blocking rules). Columns not read may be left NULL in the records passed to
    /// [`Model::predict`] without changing any result.
    pub fn used_columns(&self) -> Vec<bool> {
        let mut used = vec![false; self.schema.len()];
        let mut mark = |_: crate::sql::Side, c: usize| used[c] = true;
        for comp in &self.comparisons {
            for level in &comp.levels {
                if let Some(c) = &level.condition {
                    c.visit_columns(&mut mark);
                }
                if let Some(tf) = &level.tf {
                    mark(crate::sql::Side::L, tf.column);
                }
            }
            if let Some(c) = comp.tf_column {
                mark(crate::sql::Side::L, c);
            }
        }
        for rule in &self.blocking {
            for key in &rule.keys {
                match key {
                    crate::blocking::KeyPart::Column(c) => mark(crate::sql::Side::L, *c),
                    crate::blocking::KeyPart::Exprs { left, right } => {
                        left.visit_columns(&mut mark);
                        right.visit_columns(&mut mark);
                    }
                }
            }
            if let Some(r) = &rule.residual {
                r.visit_columns(&mut mark);
            }
        }
        used
    }

    /// The blocking rules' SQL, in order.
    pub fn blocking_rules(&self) -> Vec<&str> {
        self.blocking.iter().map(|b| b.sql.as_str()).collect()
    }
}
