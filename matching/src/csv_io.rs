//! `score_csv`: person-records CSV in, pairs CSV out, in the reference harness's format.
//!
//! Reading follows `splink_peer.py --null-mode empty`: header by name, empty and
//! whitespace-only values are NULL, exact-duplicate rows (after that normalisation) are
//! dropped, and ids are 1-based row numbers after dropping. Every record counts as new, so
//! match keys use [`MatchKeyMode::Reference`] numbering like the splink-reference files.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::float_fmt::format_g17;
use crate::functions::FunctionRegistry;
use crate::fxhash::{FxBuild, FxHasher};
use crate::model::Model;
use crate::predict::{MatchKeyMode, PredictOptions, ScoredPair};
use crate::records::{RecordSet, RecordSetBuilder, is_null_text};
use crate::schema::Schema;

/// Options of [`score_csv`].
#[derive(Debug, Clone)]
pub struct ScoreCsvOptions {
    /// Person-records CSV (UTF-8, optional BOM, header row with the 15 person-record columns;
    /// extra columns are ignored).
    pub csv: PathBuf,
    /// Splink settings JSON.
    pub settings: PathBuf,
    /// Output pairs CSV.
    pub out: PathBuf,
    /// Keep pairs with `match_probability > threshold` (strict; the harness default is 0).
    pub threshold: f64,
    /// Also write the per-comparison columns (`tf_<col>_l`, `tf_<col>_r`, `bf_<c>`,
    /// `bf_tf_adj_<c>`).
    pub explain: bool,
}

impl ScoreCsvOptions {
    /// Options with threshold 0 and no explain columns.
    pub fn new(
        csv: impl Into<PathBuf>,
        settings: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
    ) -> Self {
        Self {
            csv: csv.into(),
            settings: settings.into(),
            out: out.into(),
            threshold: 0.0,
            explain: false,
        }
    }
}

/// What [`score_csv`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScoreSummary {
    /// Data rows in the CSV.
    pub rows_read: u64,
    /// Exact-duplicate rows dropped.
    pub exact_duplicates_dropped: u64,
    /// Records scored (`rows_read - exact_duplicates_dropped`).
    pub records: u64,
    /// Candidate pairs scored.
    pub candidate_pairs: u64,
    /// Pairs written.
    pub pairs_written: u64,
    /// Seconds reading and deduplicating the CSV.
    pub load_seconds: f64,
    /// Seconds parsing and compiling the settings.
    pub compile_seconds: f64,
    /// Seconds building TF tables.
    pub tf_seconds: f64,
    /// Seconds building blocking indexes.
    pub index_seconds: f64,
    /// Seconds scoring and writing pairs.
    pub scoring_seconds: f64,
    /// Wall-clock seconds of the whole call.
    pub total_seconds: f64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a person-records CSV like the reference harness: returns the records (ids = 1-based
/// row numbers after dropping exact duplicates), the number of rows read and dropped.
pub fn read_records_csv(path: &Path, schema: &Schema) -> Result<(RecordSet, u64, u64)> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let headers: Vec<String> = rdr
        .headers()?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let mut map = Vec::with_capacity(schema.len());
    for col in schema.columns() {
        match headers.iter().position(|h| h == col) {
            Some(i) => map.push(i),
            None => {
                return Err(Error::Input(format!(
                    "{}: missing column '{col}' in the header",
                    path.display()
                )));
            }
        }
    }
    let mut builder = RecordSetBuilder::new(schema.clone());
    let mut seen: HashMap<u64, Vec<u32>, FxBuild> = HashMap::default();
    let (mut rows, mut dropped) = (0u64, 0u64);
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec)? {
        rows += 1;
        let values: Vec<Option<&str>> = map
            .iter()
            .map(|&i| rec.get(i).filter(|v| !is_null_text(v)))
            .collect();
        let mut h = FxHasher::default();
        values.hash(&mut h);
        let bucket = seen.entry(h.finish()).or_default();
        if bucket
            .iter()
            .any(|&pos| builder.row_equals(pos as usize, &values))
        {
            dropped += 1;
            continue;
        }
        bucket.push(builder.len() as u32);
        builder.push(rows as i64 - dropped as i64, &values)?;
    }
    Ok((builder.build(), rows, dropped))
}

/// Scores a person-records CSV with a Splink settings JSON and writes the pairs CSV
/// (`source_person_id_l,source_person_id_r,match_weight,match_probability,id_l,id_r,match_key`
/// then, with `explain`, the per-comparison columns). Floats are written like `"%.17g"`.
pub fn score_csv(opts: &ScoreCsvOptions) -> Result<ScoreSummary> {
    let start = Instant::now();
    let schema = Schema::person_record();
    let mut summary = ScoreSummary::default();

    let t = Instant::now();
    let json = std::fs::read_to_string(&opts.settings).map_err(io_err(&opts.settings))?;
    let model = Model::from_json(&json, &schema, &FunctionRegistry::with_builtins())?;
    summary.compile_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (records, rows, dropped) = read_records_csv(&opts.csv, &schema)?;
    summary.load_seconds = t.elapsed().as_secs_f64();
    summary.rows_read = rows;
    summary.exact_duplicates_dropped = dropped;
    summary.records = records.len() as u64;

    let file = File::create(&opts.out).map_err(io_err(&opts.out))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut header = String::from(
        "source_person_id_l,source_person_id_r,match_weight,match_probability,id_l,id_r,match_key",
    );
    if opts.explain {
        for c in &model.comparisons {
            if let Some(tf) = c.tf_column_name(&schema) {
                header.push_str(&format!(",tf_{tf}_l,tf_{tf}_r"));
            }
            header.push_str(&format!(",bf_{}", c.output_column_name));
            if c.tf_column.is_some() {
                header.push_str(&format!(",bf_tf_adj_{}", c.output_column_name));
            }
        }
    }
    header.push('\n');
    out.write_all(header.as_bytes())
        .map_err(io_err(&opts.out))?;

    let spid = schema
        .index_of("source_person_id")
        .expect("person-record schema has source_person_id");
    let popts = PredictOptions {
        threshold: Some(opts.threshold),
        explain: opts.explain,
        match_key_mode: MatchKeyMode::Reference,
        ..PredictOptions::default()
    };
    let has_tf: Vec<bool> = model
        .comparisons
        .iter()
        .map(|c| c.tf_column.is_some())
        .collect();
    let stats = model.predict(&records, &popts, |pairs| {
        let lines: Vec<String> = pairs
            .par_iter()
            .map(|p| format_line(p, &records, spid, &has_tf))
            .collect();
        for l in lines {
            out.write_all(l.as_bytes()).map_err(io_err(&opts.out))?;
        }
        Ok(())
    })?;
    out.flush().map_err(io_err(&opts.out))?;
    summary.candidate_pairs = stats.candidate_pairs;
    summary.pairs_written = stats.pairs_emitted;
    summary.tf_seconds = stats.tf_seconds;
    summary.index_seconds = stats.index_seconds;
    summary.scoring_seconds = stats.scoring_seconds;
    summary.total_seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

fn format_line(p: &ScoredPair, rs: &RecordSet, spid: usize, has_tf: &[bool]) -> String {
    let name = |id: i64| {
        rs.position(id)
            .and_then(|i| rs.value(i, spid))
            .unwrap_or("")
    };
    let mut line = format!(
        "{},{},{},{},{},{},{}",
        csv_field(name(p.id_l)),
        csv_field(name(p.id_r)),
        format_g17(p.match_weight),
        format_g17(p.match_probability),
        p.id_l,
        p.id_r,
        p.match_key
    );
    let opt = |v: Option<f64>| v.map(format_g17).unwrap_or_default();
    for (e, tf) in p.explain.iter().zip(has_tf) {
        if *tf {
            line.push_str(&format!(",{},{}", opt(e.tf_l), opt(e.tf_r)));
        }
        line.push_str(&format!(",{}", format_g17(e.bayes_factor)));
        if *tf {
            line.push_str(&format!(",{}", format_g17(e.tf_adjustment_bayes_factor)));
        }
    }
    line.push('\n');
    line
}
