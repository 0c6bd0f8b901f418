//! Prediction: candidate generation over the blocking indexes, Fellegi-Sunter scoring, and
//! streaming of scored pairs in bounded, deterministically ordered chunks.
//!
//! Output order is (blocking rule, pass, anchor record, partner record): pass A pairs a new
//! left record with later records; pass B (only with a new-record restriction) pairs an old
//! left record with a new right record.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Serialize, Serializer};

use crate::blocking::{RuleIndex, rule_holds};
use crate::error::{EvalError, Result};
use crate::model::{Model, TfAdjust};
use crate::records::{NULL, RecordSet, prefetch};
use crate::sql::{Node, PairCtx};

/// How `match_key` is numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchKeyMode {
    /// As the reference system's rewritten rules `(R_k) and l.job_id = J` (key 2k) and
    /// `(R_k) and r.job_id = J` (key 2k+1): 2k when the left record is new, else 2k+1.
    #[default]
    Reference,
    /// The index k of the first blocking rule that produced the pair.
    Plain,
}

/// Options of [`Model::predict`].
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// If set, only pairs with at least one record whose id is in this set are produced (new vs
    /// new and new vs old, never old vs old). `None` = every record is new.
    pub new_records: Option<HashSet<i64>>,
    /// Numbering of `match_key`.
    pub match_key_mode: MatchKeyMode,
    /// Keep only pairs with `match_probability > threshold` (strict). `None` keeps all.
    pub threshold: Option<f64>,
    /// Fill [`ScoredPair::explain`].
    pub explain: bool,
    /// Approximate number of candidate pairs per parallel work unit.
    pub chunk_pairs: usize,
    /// Approximate number of candidate pairs in flight (bounds memory).
    pub window_pairs: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            new_records: None,
            match_key_mode: MatchKeyMode::Reference,
            threshold: None,
            explain: false,
            chunk_pairs: 4096,
            window_pairs: 1 << 16,
        }
    }
}

/// Per-comparison explanation of a pair's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonExplain {
    /// Comparison vector value of the chosen level (-1 = null level or no level matched).
    pub gamma: i32,
    /// Index of the chosen level in the comparison (None if no level matched).
    pub level: Option<u16>,
    /// The chosen level's label.
    #[serde(serialize_with = "ser_arc_str")]
    pub label: Arc<str>,
    /// Bayes factor of the chosen level (`bf_<comparison>`).
    pub bayes_factor: f64,
    /// log2 of `bayes_factor`.
    pub match_weight: f64,
    /// Term frequency of the left value (`tf_<col>_l`), for comparisons with a TF column.
    pub tf_l: Option<f64>,
    /// Term frequency of the right value (`tf_<col>_r`).
    pub tf_r: Option<f64>,
    /// TF adjustment as a Bayes factor (`bf_tf_adj_<comparison>`; 1 if none).
    pub tf_adjustment_bayes_factor: f64,
    /// log2 of `tf_adjustment_bayes_factor`.
    pub tf_adjustment_weight: f64,
}

fn ser_arc_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// A scored candidate pair (`id_l < id_r`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredPair {
    /// Left record id.
    pub id_l: i64,
    /// Right record id.
    pub id_r: i64,
    /// log2 of the total Bayes factor.
    pub match_weight: f64,
    /// Posterior match probability.
    pub match_probability: f64,
    /// Blocking rule key, see [`MatchKeyMode`].
    pub match_key: u32,
    /// Per comparison, when [`PredictOptions::explain`] is set.
    pub explain: Vec<ComparisonExplain>,
}

/// Counts and timings of a prediction run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PredictStats {
    /// Candidate pairs scored.
    pub candidate_pairs: u64,
    /// Pairs passed to the sink (after the threshold).
    pub pairs_emitted: u64,
    /// Seconds spent building TF tables.
    pub tf_seconds: f64,
    /// Seconds spent building blocking indexes.
    pub index_seconds: f64,
    /// Seconds spent enumerating, scoring and emitting pairs.
    pub scoring_seconds: f64,
}

/// Term-frequency tables per column (indexed by dictionary code).
struct TfTables {
    by_column: Vec<Option<Vec<f64>>>,
}

impl TfTables {
    fn build(model: &Model, rs: &RecordSet) -> Self {
        let mut cols: Vec<usize> = model
            .comparisons
            .iter()
            .filter_map(|c| c.tf_column)
            .collect();
        cols.sort_unstable();
        cols.dedup();
        // One task per column (each a pass over the column's codes).
        let tables: Vec<(usize, Vec<f64>)> = cols
            .into_par_iter()
            .with_max_len(1)
            .map(|col| {
                let column = &rs.columns[col];
                let mut counts = vec![0u64; column.dict.len()];
                let mut total = 0u64;
                for &c in &column.codes {
                    if c != NULL {
                        counts[c as usize] += 1;
                        total += 1;
                    }
                }
                let freqs = counts.into_iter().map(|k| k as f64 / total as f64);
                (col, freqs.collect())
            })
            .collect();
        let mut by_column: Vec<Option<Vec<f64>>> = vec![None; rs.columns.len()];
        for (col, table) in tables {
            by_column[col] = Some(table);
        }
        Self { by_column }
    }

    /// Prefetches the frequency of `code` (not [`NULL`]) of column `col`.
    #[inline]
    fn prefetch(&self, col: usize, code: u32) {
        if let Some(f) = self.by_column[col]
            .as_ref()
            .and_then(|t| t.get(code as usize))
        {
            prefetch(f);
        }
    }

    /// The frequency of column `col`'s value in record `i` (None for NULL or a column without
    /// frequencies). Always inlined: called a few times per scored pair, for a few loads.
    #[inline(always)]
    fn get(&self, rs: &RecordSet, col: usize, i: usize) -> Option<f64> {
        let code = rs.code(i, col);
        if code == NULL {
            return None;
        }
        self.by_column[col].as_ref().map(|t| t[code as usize])
    }
}

/// Splink's TF adjustment Bayes factor.
fn tf_adjustment(adj: &TfAdjust, tf_l: Option<f64>, tf_r: Option<f64>) -> f64 {
    let (Some(a), Some(b)) = (tf_l.or(tf_r), tf_r.or(tf_l)) else {
        return 1.0;
    };
    let divisor = if adj.min_u == 0.0 {
        if a >= b { a } else { b }
    } else if a >= b && a > adj.min_u {
        a
    } else if b > adj.min_u {
        b
    } else {
        adj.min_u
    };
    let x = adj.u_exact / divisor;
    if adj.weight == 1.0 {
        x
    } else {
        x.powf(adj.weight)
    }
}

/// How many pairs ahead of the pair being scored its rows are prefetched, and (once they are
/// in cache) the dictionary entries and frequencies the pair may read. A pair takes a few
/// thousand instructions to score (a few memory latencies): the data arrives in time.
const ROWS_AHEAD: usize = 8;
const VALUES_AHEAD: usize = 4;

/// What scoring a pair reads besides the two rows: prefetched a few pairs ahead (see
/// `score_window`), so that its cache misses overlap with scoring instead of stalling it.
struct PrefetchPlan {
    /// Columns the level conditions read (their values, when the two codes differ, are
    /// compared as text).
    text: Vec<usize>,
    /// Columns with term frequencies, and whether those of two different values are read (if
    /// not, only equal values' are: a frequency adjusts an exact match level, which only
    /// holds for equal codes).
    tf: Vec<(usize, bool)>,
}

impl PrefetchPlan {
    fn new(model: &Model, explain: bool) -> Self {
        let mut text = Vec::new();
        let mut tf = Vec::new();
        for comp in &model.comparisons {
            for level in &comp.levels {
                if let Some(c) = &level.condition {
                    c.visit_columns(&mut |_, col| text.push(col));
                }
                if let Some(a) = &level.tf {
                    let exact = level.condition.as_ref().and_then(Node::exact_match_column);
                    tf.push((a.column, exact != Some(a.column)));
                }
            }
            // Explanations report both frequencies of the comparison's column.
            if let (true, Some(col)) = (explain, comp.tf_column) {
                tf.push((col, true));
            }
        }
        text.sort_unstable();
        text.dedup();
        // Per column, `true` (both values) wins: first among its entries once reversed.
        tf.sort_unstable();
        tf.reverse();
        tf.dedup_by_key(|&mut (col, _)| col);
        Self { text, tf }
    }

    /// Prefetches the dictionary entries and frequencies the pair `(l, r)` may need (reading
    /// the pair's codes: its rows should be in cache already).
    #[inline]
    fn prefetch(&self, rs: &RecordSet, tf: &TfTables, l: usize, r: usize) {
        for &c in &self.text {
            let (x, y) = (rs.code(l, c), rs.code(r, c));
            if x != y && x != NULL && y != NULL {
                rs.prefetch_value(c, x);
                rs.prefetch_value(c, y);
            }
        }
        for &(c, unequal) in &self.tf {
            let (x, y) = (rs.code(l, c), rs.code(r, c));
            if x != NULL && (x == y || unequal) {
                tf.prefetch(c, x);
            }
            if y != NULL && y != x && unequal {
                tf.prefetch(c, y);
            }
        }
    }
}

/// Per chunk of a window: the mapped pairs (if any), pairs emitted, candidate pairs scored.
type WindowResult<T> = Result<(Option<T>, usize, u64), EvalError>;

/// One unit of work: an anchor record and a slice of its partners.
#[derive(Clone, Copy)]
struct Task<'i> {
    rule: usize,
    /// Pass B: the anchor is the right record.
    anchor_is_right: bool,
    anchor: usize,
    partners: &'i [u32],
}

impl Model {
    /// Blocks and scores `records`, passing scored pairs to `sink` in chunks, in deterministic
    /// order. Memory stays bounded by [`PredictOptions::window_pairs`] whatever the input size.
    pub fn predict<F>(
        &self,
        records: &RecordSet,
        opts: &PredictOptions,
        mut sink: F,
    ) -> Result<PredictStats>
    where
        F: FnMut(&[ScoredPair]) -> Result<()>,
    {
        self.predict_mapped(
            records,
            opts,
            |out: &mut Vec<ScoredPair>, pair| out.push(pair),
            |pairs| sink(&pairs),
        )
    }

    /// Like [`Model::predict`], but each scored pair is added by `map` to its chunk's `T` on
    /// the worker thread that scored it, right after scoring (e.g. formatted, while the pair's
    /// records are in cache); each non-empty chunk is then passed to `sink` in order.
    pub(crate) fn predict_mapped<T, M, F>(
        &self,
        records: &RecordSet,
        opts: &PredictOptions,
        map: M,
        mut sink: F,
    ) -> Result<PredictStats>
    where
        T: Send + Default,
        M: Fn(&mut T, ScoredPair) + Sync,
        F: FnMut(T) -> Result<()>,
    {
        let mut stats = PredictStats::default();
        let t0 = Instant::now();
        let tf = TfTables::build(self, records);
        stats.tf_seconds = t0.elapsed().as_secs_f64();

        let t1 = Instant::now();
        let restricted = opts.new_records.is_some();
        let is_new: Vec<bool> = match &opts.new_records {
            None => vec![true; records.len()],
            Some(ids) => records.ids().iter().map(|id| ids.contains(id)).collect(),
        };
        // Each rule's index is built on its own task (their serial parts overlap).
        let indexes: Vec<RuleIndex> = self
            .blocking
            .par_iter()
            .with_max_len(1)
            .map(|rule| RuleIndex::build(rule, records, restricted))
            .collect::<Result<_, _>>()?;
        stats.index_seconds = t1.elapsed().as_secs_f64();

        let t2 = Instant::now();
        let chunk = opts.chunk_pairs.max(1);
        let plan = &PrefetchPlan::new(self, opts.explain);
        let (indexes, tf, is_new) = (&indexes, &tf, &is_new);
        let map = &map;
        // Pipeline: while the pool scores window k, this thread passes window k - 1's pairs to
        // the sink and gathers window k + 1's tasks (both serial work).
        rayon::in_place_scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::channel::<Vec<WindowResult<T>>>();
            let mut in_flight = false;
            // Launches `window` and drains the previous one (a macro: the tasks' lifetime
            // cannot be named in a closure's signature).
            macro_rules! step {
                ($window:expr) => {{
                    let window: Vec<Vec<Task<'_>>> = $window;
                    let previous = if in_flight {
                        Some(rx.recv().expect("a launched window sends its results"))
                    } else {
                        None
                    };
                    let tx = tx.clone();
                    scope.spawn(move |_| {
                        let results = self
                            .score_window(records, indexes, tf, plan, is_new, opts, &window, map);
                        // The receiver is gone only if the run already failed.
                        let _ = tx.send(results);
                    });
                    in_flight = true;
                    if let Some(results) = previous {
                        Self::drain_window(results, &mut stats, &mut sink)?;
                    }
                }};
            }
            let mut window: Vec<Vec<Task<'_>>> = Vec::new();
            let mut current: Vec<Task<'_>> = Vec::new();
            let (mut current_pairs, mut window_pairs) = (0usize, 0usize);
            for (k, idx) in indexes.iter().enumerate() {
                for anchor_is_right in [false, true] {
                    if anchor_is_right && !restricted {
                        continue;
                    }
                    // New records' positions (not collected: every position, usually).
                    for anchor in (0..records.len()).filter(|&i| is_new[i]) {
                        let all = if anchor_is_right {
                            idx.partners_before(anchor)
                        } else {
                            idx.partners_after(anchor)
                        };
                        if all.is_empty() {
                            continue; // most records (no chunk iterator for them)
                        }
                        for partners in all.chunks(chunk) {
                            current.push(Task {
                                rule: k,
                                anchor_is_right,
                                anchor,
                                partners,
                            });
                            current_pairs += partners.len();
                            if current_pairs >= chunk {
                                window_pairs += current_pairs;
                                window.push(std::mem::take(&mut current));
                                current_pairs = 0;
                            }
                            if window_pairs >= opts.window_pairs {
                                step!(std::mem::take(&mut window));
                                window_pairs = 0;
                            }
                        }
                    }
                }
            }
            if !current.is_empty() {
                window.push(current);
            }
            step!(window);
            debug_assert!(in_flight, "the last window was launched");
            let last = rx.recv().expect("a launched window sends its results");
            Self::drain_window(last, &mut stats, &mut sink)
        })?;
        stats.scoring_seconds = t2.elapsed().as_secs_f64();
        Ok(stats)
    }

    /// Scores the pairs of a window's chunks in parallel; per chunk, its mapped pairs.
    #[allow(
        clippy::too_many_arguments,
        reason = "internal helper threading the run's state"
    )]
    fn score_window<T, M>(
        &self,
        rs: &RecordSet,
        indexes: &[RuleIndex],
        tf: &TfTables,
        plan: &PrefetchPlan,
        is_new: &[bool],
        opts: &PredictOptions,
        window: &[Vec<Task<'_>>],
        map: &M,
    ) -> Vec<WindowResult<T>>
    where
        T: Send + Default,
        M: Fn(&mut T, ScoredPair) + Sync,
    {
        window
            .par_iter()
            .map(|tasks| {
                let mut out = T::default();
                let mut emitted = 0usize;
                let mut scored = 0u64;
                // The chunk's pairs, across tasks (most anchors have one or two partners), so
                // that those a few pairs ahead can be prefetched. (Collected: iterating the
                // tasks three times in step, for the pairs ahead, took more time.)
                let mut pairs: Vec<(&Task<'_>, u32)> =
                    Vec::with_capacity(tasks.iter().map(|t| t.partners.len()).sum());
                pairs.extend(
                    tasks
                        .iter()
                        .flat_map(|t| t.partners.iter().map(move |&p| (t, p))),
                );
                for (i, &(t, p)) in pairs.iter().enumerate() {
                    if let Some(&(a, q)) = pairs.get(i + ROWS_AHEAD) {
                        rs.prefetch_row(a.anchor);
                        rs.prefetch_row(q as usize);
                    }
                    if let Some(&(a, q)) = pairs.get(i + VALUES_AHEAD) {
                        plan.prefetch(rs, tf, a.anchor, q as usize);
                    }
                    let (l, r) = if t.anchor_is_right {
                        (p as usize, t.anchor)
                    } else {
                        (t.anchor, p as usize)
                    };
                    if t.anchor_is_right && is_new[l] {
                        continue; // produced by pass A already
                    }
                    let ctx = PairCtx { rs, l, r };
                    if let Some(res) = &self.blocking[t.rule].residual
                        && !res.is_true(&ctx)?
                    {
                        continue;
                    }
                    let mut earlier = false;
                    for (rule, idx) in self.blocking.iter().zip(indexes).take(t.rule) {
                        if rule_holds(rule, idx, &ctx)? {
                            earlier = true;
                            break;
                        }
                    }
                    if earlier {
                        continue;
                    }
                    scored += 1;
                    let match_key = match opts.match_key_mode {
                        MatchKeyMode::Plain => t.rule as u32,
                        MatchKeyMode::Reference => 2 * t.rule as u32 + u32::from(!is_new[l]),
                    };
                    let pair = self.score(&ctx, tf, match_key, opts.explain)?;
                    if opts.threshold.is_none_or(|th| pair.match_probability > th) {
                        map(&mut out, pair);
                        emitted += 1;
                    }
                }
                Ok(((emitted > 0).then_some(out), emitted, scored))
            })
            .collect()
    }

    /// Passes a scored window's chunks to the sink, in order, and counts them.
    fn drain_window<T, F>(
        results: Vec<WindowResult<T>>,
        stats: &mut PredictStats,
        sink: &mut F,
    ) -> Result<()>
    where
        F: FnMut(T) -> Result<()>,
    {
        for r in results {
            let (mapped, emitted, scored) = r?;
            stats.candidate_pairs += scored;
            stats.pairs_emitted += emitted as u64;
            if let Some(m) = mapped {
                sink(m)?;
            }
        }
        Ok(())
    }

    /// Scores one pair: levels in order, first TRUE wins; BF = prior × Π bf × Π bf_tf_adj.
    fn score(
        &self,
        ctx: &PairCtx<'_>,
        tf: &TfTables,
        match_key: u32,
        explain: bool,
    ) -> Result<ScoredPair, EvalError> {
        let mut bf = self.prior_bayes_factor;
        let mut parts = if explain {
            Vec::with_capacity(self.comparisons.len())
        } else {
            Vec::new()
        };
        for comp in &self.comparisons {
            let mut chosen = None;
            let mut from = 0;
            if let Some(c) = comp.null_then_exact {
                let (x, y) = (ctx.rs.code(ctx.l, c), ctx.rs.code(ctx.r, c));
                if x == NULL || y == NULL {
                    chosen = Some(0);
                } else if x == y {
                    chosen = Some(1);
                } else {
                    from = 2;
                }
            }
            if chosen.is_none() {
                for (j, level) in comp.levels.iter().enumerate().skip(from) {
                    let hit = match &level.condition {
                        None => true,
                        Some(c) => c.is_true(ctx)?,
                    };
                    if hit {
                        chosen = Some(j);
                        break;
                    }
                }
            }
            let level = chosen.map(|j| &comp.levels[j]);
            let level_bf = level.map_or(1.0, |l| l.bayes_factor);
            bf *= level_bf;
            let mut adj = 1.0;
            if let Some(a) = level.and_then(|l| l.tf.as_ref()) {
                let (al, ar) = (
                    tf.get(ctx.rs, a.column, ctx.l),
                    tf.get(ctx.rs, a.column, ctx.r),
                );
                adj = tf_adjustment(a, al, ar);
            }
            if comp.tf_column.is_some() {
                bf *= adj;
            }
            if explain {
                // Only the explain columns need the TF column's frequencies of both sides (the
                // adjustment above reads its own column's).
                let (tf_l, tf_r) = match comp.tf_column {
                    Some(col) => (tf.get(ctx.rs, col, ctx.l), tf.get(ctx.rs, col, ctx.r)),
                    None => (None, None),
                };
                parts.push(ComparisonExplain {
                    gamma: level.map_or(-1, |l| l.gamma),
                    level: chosen.map(|j| j as u16),
                    label: level.map_or_else(|| Arc::from("no level matched"), |l| l.label.clone()),
                    bayes_factor: level_bf,
                    match_weight: level_bf.log2(),
                    tf_l,
                    tf_r,
                    tf_adjustment_bayes_factor: adj,
                    tf_adjustment_weight: adj.log2(),
                });
            }
        }
        let match_probability = if bf == f64::INFINITY {
            1.0
        } else {
            bf / (1.0 + bf)
        };
        Ok(ScoredPair {
            id_l: ctx.rs.id(ctx.l),
            id_r: ctx.rs.id(ctx.r),
            match_weight: bf.log2(),
            match_probability,
            match_key,
            explain: parts,
        })
    }
}
