//! Splink-compatible Fellegi-Sunter matching for idem.
//!
//! This crate owns everything between a Splink 4 settings JSON and a scored list of candidate
//! pairs, natively and without executing SQL:
//!
//! * [`Settings`]: parse and validate a Splink settings JSON, reporting *all* problems with their
//!   JSON path ([`ValidationErrors`]).
//! * The condition compiler (internal `sql` module): a hand-written tokenizer and parser for the
//!   SQL expression subset that Splink emits, compiled to a tree of typed nodes with
//!   pre-resolved columns and functions, constant-folded, evaluated with three-valued logic.
//! * [`FunctionRegistry`]: the named functions conditions may call (`levenshtein`,
//!   `jaro_winkler_similarity`, `regexp_extract`, ...), with DuckDB 1.4 semantics. Built-ins are
//!   registered exactly like external comparator plugins.
//! * [`RecordSet`]: records stored column-wise with interned, pre-normalised strings.
//! * [`Model`]: a compiled model; [`Model::predict`] blocks, scores and streams [`ScoredPair`]s in
//!   bounded chunks, multi-threaded with rayon.
//! * [`score_csv`]: the CSV-in, CSV-out entry point used by `idem score`.
//!
//! Results equal Splink 4.0.9 on DuckDB 1.4 bit for bit on the reference data, including
//! DuckDB's byte-based string metrics and its DECIMAL-literal casts (see `literal.rs`).
//!
//! Pure CPU: no database, no async.

mod blocking;
mod csv_io;
mod csv_split;
mod error;
mod float_fmt;
mod functions;
mod graph;
mod literal;
mod model;
mod predict;
mod records;
mod schema;
mod settings;
mod sql;
mod value;

pub use csv_io::{ScoreCsvOptions, ScoreSummary, read_records_csv, score_csv};
pub use error::{
    Error, EvalError, FunctionError, RegistryError, Result, ValidationError, ValidationErrors,
};
pub use float_fmt::format_g17;
pub use functions::{ArgType, Arity, FunctionDef, FunctionImpl, FunctionRegistry, Specializer};
pub use graph::{
    CrosswalkPerson, CrosswalkRecord, GraphError, GraphResult, Group, MatchAnalysis, MatchGraph,
    PersonAction,
};
pub use model::{Comparison, ComparisonLevel, Model};
pub use predict::{ComparisonExplain, MatchKeyMode, PredictOptions, PredictStats, ScoredPair};
pub use records::{RecordSet, RecordSetBuilder};
pub use schema::{PERSON_RECORD_COLUMNS, Schema};
pub use settings::{
    BlockingRuleSettings, ComparisonLevelSettings, ComparisonSettings, LinkType, Settings,
};
pub use value::Value;
