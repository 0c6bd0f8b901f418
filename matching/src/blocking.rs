//! Blocking rules: compiled into hash-join keys plus a residual filter.
//!
//! The top-level AND conjuncts of a rule of the form `<expr over l> = <expr over r>` become join
//! keys (`l.x = r.x` uses the column's dictionary codes directly; other expressions are
//! evaluated once per record and interned). Records are sorted by key so each key's records are
//! a contiguous, id-ordered range; candidate pairs are enumerated per range and filtered by the
//! remaining conjuncts. A rule without any equality conjunct is a cartesian product (every pair
//! of records is a candidate): allowed, but quadratic in the number of records.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::error::{EvalError, Result};
use crate::functions::FunctionRegistry;
use crate::records::{Column, NULL, RecordSet};
use crate::schema::Schema;
use crate::sql::{CmpOp, CompileError, Node, PairCtx, Side, compile_condition};
use crate::value::{Value, render};

/// One equality join key of a rule.
#[derive(Debug, Clone)]
pub(crate) enum KeyPart {
    /// `l.c = r.c`: the column's dictionary code.
    Column(usize),
    /// `f(l...) = g(r...)`: evaluated per record and interned.
    Exprs { left: Node, right: Node },
}

/// A compiled blocking rule.
#[derive(Debug, Clone)]
pub(crate) struct BlockingRule {
    pub(crate) sql: String,
    pub(crate) keys: Vec<KeyPart>,
    pub(crate) residual: Option<Node>,
}

impl BlockingRule {
    pub(crate) fn compile(
        sql: &str,
        schema: &Schema,
        registry: &FunctionRegistry,
    ) -> Result<Self, Vec<CompileError>> {
        let node = compile_condition(sql, schema, registry)?;
        let mut keys = Vec::new();
        let mut rest = Vec::new();
        for c in node.conjuncts() {
            match c {
                Node::EqCols {
                    a: (s1, c1),
                    b: (s2, c2),
                } if s1 != s2 && c1 == c2 => keys.push(KeyPart::Column(c1)),
                Node::EqCols { a, b } if a.0 != b.0 => {
                    let (l, r) = if a.0 == Side::L { (a, b) } else { (b, a) };
                    keys.push(KeyPart::Exprs {
                        left: Node::Col {
                            side: Side::L,
                            col: l.1,
                        },
                        right: Node::Col {
                            side: Side::R,
                            col: r.1,
                        },
                    });
                }
                Node::Cmp {
                    op: CmpOp::Eq,
                    l,
                    r,
                } => match (l.sides(), r.sides()) {
                    ((true, false), (false, true)) => keys.push(KeyPart::Exprs {
                        left: *l,
                        right: *r,
                    }),
                    ((false, true), (true, false)) => keys.push(KeyPart::Exprs {
                        left: *r,
                        right: *l,
                    }),
                    _ => rest.push(Node::Cmp {
                        op: CmpOp::Eq,
                        l,
                        r,
                    }),
                },
                other => rest.push(other),
            }
        }
        Ok(Self {
            sql: sql.to_string(),
            keys,
            residual: Node::and_all(rest),
        })
    }
}

/// Join keys of one rule for one record set.
pub(crate) struct RuleIndex {
    width: usize,
    /// Left keys, `width` per record; the first component is [`NULL`] if any part is NULL.
    lkeys: Vec<u32>,
    /// Right keys (shared with `lkeys` when every part is symmetric).
    rkeys: Option<Vec<u32>>,
    /// Record positions with a right key, sorted by (right key, position).
    by_rkey: Vec<u32>,
    /// Same for left keys, built only when needed.
    by_lkey: Option<Vec<u32>>,
    /// Symmetric rules only: per position, its index in `by_rkey` and the bounds of its key
    /// group there (so a lookup is O(1) instead of a binary search).
    groups: Option<Groups>,
}

/// Position → (group start, rank in the sorted array, group end); all zeros for a record
/// without partners (a NULL key, or alone with its key: empty partner lists either way).
struct Groups {
    /// Per position: `[start, rank, end]`, together so that setting them while walking the
    /// sorted array (random positions) touches one cache line, not three. Zeros by default, so
    /// the table is allocated zeroed (no pass filling it).
    by_pos: Vec<[u32; 3]>,
}

/// A canonical, type-aware key for interning an expression value.
fn key_text(v: &Value<'_>) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Text(s) => format!("t{s}"),
        Value::Int(i) => format!("n{}", (*i as f64).to_bits()),
        Value::Float(f) => format!("n{}", f.to_bits()),
        other => format!("o{}", render(other)),
    })
}

impl RuleIndex {
    pub(crate) fn build(
        rule: &BlockingRule,
        rs: &RecordSet,
        need_left_index: bool,
    ) -> Result<Self, EvalError> {
        let n = rs.len();
        let width = rule.keys.len();
        let columns: Option<Vec<&Column>> = rule
            .keys
            .iter()
            .map(|k| match k {
                KeyPart::Column(c) => Some(&rs.columns[*c]),
                KeyPart::Exprs { .. } => None,
            })
            .collect();
        if let Some(cols) = &columns
            && let [hi, lo @ ..] = cols.as_slice()
            && lo.len() <= 1
        {
            // Column keys of width 1 or 2 (the usual rules): packed straight from the columns'
            // codes (read in order), bounded by their dictionaries' sizes; no per-record keys.
            let lo = lo.first();
            let code_bits = |c: &Column| bits(c.dict.len().saturating_sub(1) as u64);
            let lo_bits = lo.map_or(0, |c| code_bits(c));
            let sorted = sort_keys(n, code_bits(hi) + lo_bits, |i| {
                let a = hi.codes[i];
                let b = lo.map_or(0, |c| c.codes[i]);
                (a != NULL && b != NULL).then(|| (u64::from(a) << lo_bits) | u64::from(b))
            });
            let (by_rkey, groups) = sorted.groups(n, &[], 0);
            return Ok(Self {
                width,
                lkeys: Vec::new(),
                rkeys: None,
                by_rkey,
                by_lkey: None,
                groups: Some(groups),
            });
        }
        let symmetric = columns.is_some();
        let mut lkeys = vec![0u32; n * width];
        let mut rkeys = if symmetric {
            None
        } else {
            Some(vec![0u32; n * width])
        };
        for (p, part) in rule.keys.iter().enumerate() {
            match part {
                KeyPart::Column(c) => {
                    for (i, code) in rs.columns[*c].codes.iter().enumerate() {
                        lkeys[i * width + p] = *code;
                        if let Some(r) = rkeys.as_mut() {
                            r[i * width + p] = *code;
                        }
                    }
                }
                KeyPart::Exprs { left, right } => {
                    let eval = |node: &Node| -> Result<Vec<Option<String>>, EvalError> {
                        (0..n)
                            .into_par_iter()
                            .map(|i| Ok(key_text(&node.eval(&PairCtx { rs, l: i, r: i })?)))
                            .collect()
                    };
                    let (lv, rv) = (eval(left)?, eval(right)?);
                    let mut interner: HashMap<String, u32> = HashMap::new();
                    let mut intern = |k: Option<String>| match k {
                        None => NULL,
                        Some(s) => {
                            let next = interner.len() as u32;
                            *interner.entry(s).or_insert(next)
                        }
                    };
                    let rk = rkeys.get_or_insert_with(|| lkeys.clone());
                    for (i, (a, b)) in lv.into_iter().zip(rv).enumerate() {
                        lkeys[i * width + p] = intern(a);
                        rk[i * width + p] = intern(b);
                    }
                }
            }
        }
        // Normalise: any NULL component makes the whole key NULL.
        for keys in std::iter::once(&mut lkeys).chain(rkeys.as_mut()) {
            if width > 0 {
                for k in keys.chunks_mut(width) {
                    if k.contains(&NULL) {
                        k[0] = NULL;
                    }
                }
            }
        }
        let sorted = |keys: &[u32]| -> Sorted {
            if (1..=2).contains(&width) {
                // Packed like column keys, `k[0]` above just enough bits for `k[1]`.
                let present = |i: &usize| keys[i * width] != NULL;
                let max = |p: usize| (0..n).filter(present).map(|i| keys[i * width + p]).max();
                let hi_bits = bits(max(0).map_or(0, u64::from));
                let lo_bits = if width == 2 {
                    bits(max(1).map_or(0, u64::from))
                } else {
                    0
                };
                return sort_keys(n, hi_bits + lo_bits, |i| {
                    let k = &keys[i * width..(i + 1) * width];
                    let lo = if width == 2 { u64::from(k[1]) } else { 0 };
                    (k[0] != NULL).then(|| (u64::from(k[0]) << lo_bits) | lo)
                });
            }
            let mut v: Vec<u32> = (0..n as u32)
                .filter(|&i| width == 0 || keys[i as usize * width] != NULL)
                .collect();
            v.par_sort_unstable_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                keys[a * width..(a + 1) * width]
                    .cmp(&keys[b * width..(b + 1) * width])
                    .then(a.cmp(&b))
            });
            Sorted::Positions(v)
        };
        let by_rkey = sorted(rkeys.as_deref().unwrap_or(&lkeys));
        let by_lkey = if need_left_index && rkeys.is_some() {
            Some(sorted(&lkeys).positions())
        } else {
            None
        };
        let (by_rkey, groups) = if rkeys.is_none() {
            let (by_rkey, groups) = by_rkey.groups(n, &lkeys, width);
            (by_rkey, Some(groups))
        } else {
            (by_rkey.positions(), None)
        };
        Ok(Self {
            width,
            lkeys,
            rkeys,
            by_rkey,
            by_lkey,
            groups,
        })
    }

    fn lkey(&self, i: usize) -> &[u32] {
        &self.lkeys[i * self.width..(i + 1) * self.width]
    }

    fn rkey(&self, i: usize) -> &[u32] {
        let keys = self.rkeys.as_deref().unwrap_or(&self.lkeys);
        &keys[i * self.width..(i + 1) * self.width]
    }

    fn is_null_key(k: &[u32]) -> bool {
        k.first() == Some(&NULL)
    }

    /// Records whose right key equals `key`, in position order.
    fn range_by(&self, sorted: &[u32], keys: &[u32], key: &[u32]) -> std::ops::Range<usize> {
        if Self::is_null_key(key) {
            return 0..0;
        }
        let w = self.width;
        let at = |p: usize| {
            let i = sorted[p] as usize;
            &keys[i * w..(i + 1) * w]
        };
        let start = partition_point(sorted.len(), |p| at(p) < key);
        let end = start + partition_point(sorted.len() - start, |p| at(start + p) <= key);
        start..end
    }

    /// Candidate right partners of left record `l` with position > `l`: a slice of positions.
    /// (Inlined: called for every record, most of which have none.)
    #[inline]
    pub(crate) fn partners_after(&self, l: usize) -> &[u32] {
        if let Some(g) = &self.groups {
            // Sorted by (key, position): the later members of l's group are exactly its partners
            // (`rank < end` for a record in a group; zeros otherwise).
            let [_, rank, end] = g.by_pos[l].map(|x| x as usize);
            return &self.by_rkey[(rank + 1).min(end)..end];
        }
        let rkeys = self.rkeys.as_deref().unwrap_or(&self.lkeys);
        let range = self.range_by(&self.by_rkey, rkeys, self.lkey(l));
        let slice = &self.by_rkey[range];
        let from = slice.partition_point(|&r| r as usize <= l);
        &slice[from..]
    }

    /// Candidate left partners of right record `r` with position < `r`.
    pub(crate) fn partners_before(&self, r: usize) -> &[u32] {
        if let Some(g) = &self.groups {
            let [start, rank, _] = g.by_pos[r];
            return &self.by_rkey[start as usize..rank as usize];
        }
        let sorted = self.by_lkey.as_deref().unwrap_or(&self.by_rkey);
        let range = self.range_by(sorted, &self.lkeys, self.rkey(r));
        let slice = &sorted[range];
        let to = slice.partition_point(|&l| (l as usize) < r);
        &slice[..to]
    }

    /// Whether the join keys of the rule agree (and are not NULL) for this pair.
    #[inline]
    pub(crate) fn keys_match(&self, l: usize, r: usize) -> bool {
        let k = self.lkey(l);
        !Self::is_null_key(k) && k == self.rkey(r)
    }
}

/// Number of significant bits of `x`.
fn bits(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// Record positions sorted by (key, position), with what tells their keys apart.
enum Sorted {
    /// Per record, its key (width 1 or 2, packed) above its position's `pos_bits` bits.
    Packed { v: Vec<u64>, pos_bits: u32 },
    /// (packed key, position): keys too wide to share 64 bits with a position.
    Wide(Vec<(u64, u32)>),
    /// Positions only (keys of width 0 or above 2, compared in the records' keys).
    Positions(Vec<u32>),
}

impl Sorted {
    /// The positions, in order.
    fn positions(self) -> Vec<u32> {
        match self {
            Sorted::Packed { v, pos_bits } => {
                let low = (1u64 << pos_bits) - 1;
                v.iter().map(|&e| (e & low) as u32).collect()
            }
            Sorted::Wide(pairs) => pairs.iter().map(|&(_, q)| q).collect(),
            Sorted::Positions(v) => v,
        }
    }

    /// The positions, in order, and the [`Groups`] of their equal keys (`keys`: the records'
    /// keys, `width` per record, read for [`Sorted::Positions`] only).
    fn groups(self, n: usize, keys: &[u32], width: usize) -> (Vec<u32>, Groups) {
        let groups = match &self {
            // Packed keys are compared in the sorted array (read in order).
            Sorted::Packed { v, pos_bits } => {
                let low = (1u64 << pos_bits) - 1;
                walk_groups(
                    n,
                    v.len(),
                    |q| (v[q] & low) as u32,
                    |a, b| v[a] >> pos_bits == v[b] >> pos_bits,
                )
            }
            Sorted::Wide(pairs) => walk_groups(
                n,
                pairs.len(),
                |q| pairs[q].1,
                |a, b| pairs[a].0 == pairs[b].0,
            ),
            Sorted::Positions(pos) => {
                let key = |q: usize| {
                    let i = pos[q] as usize;
                    &keys[i * width..(i + 1) * width]
                };
                walk_groups(n, pos.len(), |q| pos[q], |a, b| key(a) == key(b))
            }
        };
        (self.positions(), groups)
    }
}

/// The [`Groups`] of `len` sorted entries of `n` records: `pos(q)` is entry `q`'s position,
/// `same(a, b)` whether entries `a` and `b` have equal keys.
fn walk_groups(
    n: usize,
    len: usize,
    pos: impl Fn(usize) -> u32,
    same: impl Fn(usize, usize) -> bool,
) -> Groups {
    let mut g = Groups {
        by_pos: vec![[0; 3]; n],
    };
    let mut s = 0;
    while s < len {
        let mut e = s + 1;
        while e < len && same(e, s) {
            e += 1;
        }
        // A record alone with its key has no partner: its entry stays zeros (one random write
        // less).
        if e - s > 1 {
            for q in s..e {
                g.by_pos[pos(q) as usize] = [s as u32, q as u32, e as u32];
            }
        }
        s = e;
    }
    g
}

/// Digits of [`sort_keys`], in bits at most: 2048 buckets, whose counts (8 KB) and current
/// output lines stay in cache while a pass scatters the entries. Fewer buckets also keep the
/// pages a pass writes to within the TLB: the two rules of a 1M-record run (35-bit keys) are
/// sorted in 4 passes of 9 bits faster than in 3 of 12 (index phase 0.046 -> 0.039 s, wall,
/// typical of 15 alternated runs), each pass's scattered writes missing the TLB far less.
const RADIX_BITS: u32 = 11;

/// The positions `0..n` of records with a key (`key(i)`, below `2^key_bits`), sorted by (key,
/// position).
fn sort_keys(n: usize, key_bits: u32, key: impl Fn(usize) -> Option<u64>) -> Sorted {
    let pos_bits = usize::BITS - n.saturating_sub(1).leading_zeros();
    if key_bits + pos_bits > u64::BITS {
        // Keys too wide to carry their positions (dictionaries of billions of values): a stable
        // comparison sort.
        let mut pairs: Vec<(u64, u32)> = (0..n)
            .filter_map(|i| key(i).map(|k| (k, i as u32)))
            .collect();
        pairs.sort_by_key(|&(k, _)| k);
        return Sorted::Wide(pairs);
    }
    // Each entry is a key above its position: a stable LSD radix sort of the keys' digits from
    // position order gives (key, position) order without comparisons. Digits are as even as
    // the passes allow (35 bits: 4 passes of 9 bits, not 3 of 11 and 1 of 2).
    let passes = key_bits.div_ceil(RADIX_BITS) as usize;
    let digit_bits = key_bits.div_ceil(passes.max(1) as u32);
    let mask = (1u64 << digit_bits) - 1;
    let digit = |e: u64, p: usize| ((e >> (pos_bits + p as u32 * digit_bits)) & mask) as usize;
    // Every pass's counts are taken while packing.
    let mut counts = vec![[0u32; 1 << RADIX_BITS]; passes];
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        if let Some(k) = key(i) {
            let e = (k << pos_bits) | i as u64;
            for (p, c) in counts.iter_mut().enumerate() {
                c[digit(e, p)] += 1;
            }
            v.push(e);
        }
    }
    let mut out = vec![0u64; v.len()];
    for (p, c) in counts.iter_mut().enumerate() {
        if c.iter().any(|&m| m as usize == v.len()) {
            continue; // the same digit everywhere: nothing would move
        }
        let mut sum = 0u32;
        for m in c.iter_mut() {
            (*m, sum) = (sum, sum + *m);
        }
        for &e in &v {
            let slot = &mut c[digit(e, p)];
            out[*slot as usize] = e;
            *slot += 1;
        }
        std::mem::swap(&mut v, &mut out);
    }
    Sorted::Packed { v, pos_bits }
}

fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

/// Whether rule `rule` (with index `idx`) is TRUE for the pair.
#[inline]
pub(crate) fn rule_holds<'a>(
    rule: &'a BlockingRule,
    idx: &RuleIndex,
    ctx: &PairCtx<'a>,
) -> Result<bool, EvalError> {
    if idx.rkeys.is_none() {
        // Column keys only: compare the pair's codes (already in cache) instead of the keys.
        for k in &rule.keys {
            if let KeyPart::Column(c) = k {
                let a = ctx.rs.code(ctx.l, *c);
                if a == NULL || a != ctx.rs.code(ctx.r, *c) {
                    return Ok(false);
                }
            }
        }
    } else if !idx.keys_match(ctx.l, ctx.r) {
        return Ok(false);
    }
    match &rule.residual {
        None => Ok(true),
        Some(n) => Ok(n.is_true(ctx)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RecordSetBuilder;

    fn rs() -> RecordSet {
        let schema = Schema::new(&["a", "b"]);
        let mut b = RecordSetBuilder::new(schema);
        for (i, (a, bb)) in [("x", "1"), ("y", "1"), ("x", "2"), ("", "1"), ("x", "1")]
            .iter()
            .enumerate()
        {
            b.push(i as i64 + 1, &[Some(a), Some(bb)]).unwrap();
        }
        b.build()
    }

    #[test]
    fn splits_rules_into_keys_and_residual() {
        let s = Schema::new(&["a", "b"]);
        let reg = FunctionRegistry::with_builtins();
        let r = BlockingRule::compile(
            "l.a = r.a AND substr(l.b, 1, 1) = substr(r.b, 1, 1) AND l.b <> r.a",
            &s,
            &reg,
        )
        .unwrap();
        assert_eq!(r.keys.len(), 2);
        assert!(matches!(r.keys[0], KeyPart::Column(0)));
        assert!(matches!(r.keys[1], KeyPart::Exprs { .. }));
        assert!(r.residual.is_some());
        let r = BlockingRule::compile("l.a = l.b", &s, &reg).unwrap();
        assert!(
            r.keys.is_empty() && r.residual.is_some(),
            "one-sided equalities are filters"
        );
    }

    #[test]
    fn finds_partners_by_key() {
        let rs = rs();
        let s = rs.schema().clone();
        let reg = FunctionRegistry::with_builtins();
        let rule = BlockingRule::compile("l.a = r.a and l.b = r.b", &s, &reg).unwrap();
        let idx = RuleIndex::build(&rule, &rs, false).unwrap();
        assert_eq!(idx.partners_after(0), &[4]);
        assert_eq!(idx.partners_after(3), &[] as &[u32], "NULL keys never join");
        assert_eq!(idx.partners_before(4), &[0]);
        let rule = BlockingRule::compile("lower(l.a) = lower(r.a)", &s, &reg).unwrap();
        let idx = RuleIndex::build(&rule, &rs, true).unwrap();
        assert_eq!(idx.partners_after(0), &[2, 4]);
        assert_eq!(idx.partners_before(4), &[0, 2]);
        let rule = BlockingRule::compile("l.b = r.b AND l.a <> r.a", &s, &reg).unwrap();
        let idx = RuleIndex::build(&rule, &rs, false).unwrap();
        assert_eq!(idx.partners_after(0), &[1, 3, 4]);
        assert!(
            !rule_holds(
                &rule,
                &idx,
                &PairCtx {
                    rs: &rs,
                    l: 0,
                    r: 4
                }
            )
            .unwrap()
        );
        assert!(
            rule_holds(
                &rule,
                &idx,
                &PairCtx {
                    rs: &rs,
                    l: 0,
                    r: 1
                }
            )
            .unwrap()
        );
    }

    #[test]
    fn sorts_keys_and_finds_their_groups() {
        // Keys of several digits, with ties, some digits equal in every key, records without a
        // key; with the position (13 bits) they fit in 64 bits (radix sort) or not (comparison
        // sort).
        for high in [40, 58] {
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let keys: Vec<Option<u64>> = (0..5000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (!x.is_multiple_of(7)).then_some(((x % 29) << high) | ((x >> 20) % 5))
                })
                .collect();
            let mut expected: Vec<(u64, u32)> = (0..keys.len() as u32)
                .filter_map(|i| keys[i as usize].map(|k| (k, i)))
                .collect();
            expected.sort_unstable();
            let sorted = sort_keys(keys.len(), high + 5, |i| keys[i]);
            assert_eq!(matches!(sorted, Sorted::Packed { .. }), high == 40);
            let (pos, groups) = sorted.groups(keys.len(), &[], 0);
            let got: Vec<(u64, u32)> = pos
                .iter()
                .map(|&i| (keys[i as usize].unwrap(), i))
                .collect();
            assert_eq!(got, expected, "keys up to bit {high}");
            let mut want = vec![[0; 3]; keys.len()];
            for (s, run) in got.chunk_by(|a, b| a.0 == b.0).scan(0, |s, run| {
                *s += run.len();
                Some((*s - run.len(), run))
            }) {
                if run.len() > 1 {
                    for (k, &(_, i)) in run.iter().enumerate() {
                        want[i as usize] = [s as u32, (s + k) as u32, (s + run.len()) as u32];
                    }
                }
            }
            assert!(groups.by_pos == want, "groups of keys up to bit {high}");
        }
        let (pos, groups) = sort_keys(0, 0, |_| None).groups(0, &[], 0);
        assert!(pos.is_empty() && groups.by_pos.is_empty());
    }
}
