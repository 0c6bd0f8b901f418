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
use crate::records::{NULL, RecordSet};
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

/// Position → (rank in the sorted array, group start, group end); `u32::MAX` rank = NULL key.
struct Groups {
    /// Per position: `[rank, start, end]`, together so that setting them while walking the
    /// sorted array (random positions) touches one cache line, not three.
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
        let symmetric = rule.keys.iter().all(|k| matches!(k, KeyPart::Column(_)));
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
        // Positions sorted by (key, position), plus, for keys of width 1 or 2, each sorted
        // position's key packed into a u64 (equal keys iff equal packed keys).
        let sorted = |keys: &[u32]| -> (Vec<u32>, Option<Vec<u64>>) {
            if (1..=2).contains(&width) {
                // Pack each key into an integer, `k[0]` above just enough bits for `k[1]` (the
                // same order as the slice comparison below), and radix sort them stably from
                // position order: (key, position) order without comparisons.
                let present = |i: &usize| keys[i * width] != NULL;
                let low_bits = if width == 2 {
                    let max = (0..n).filter(present).map(|i| keys[i * 2 + 1]).max();
                    u32::BITS - max.unwrap_or(0).leading_zeros()
                } else {
                    0
                };
                let (mut packed, mut pos): (Vec<u64>, Vec<u32>) = (0..n)
                    .filter(present)
                    .map(|i| {
                        let k = &keys[i * width..(i + 1) * width];
                        let lo = if width == 2 { u64::from(k[1]) } else { 0 };
                        ((u64::from(k[0]) << low_bits) | lo, i as u32)
                    })
                    .unzip();
                radix_sort(&mut packed, &mut pos);
                return (pos, Some(packed));
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
            (v, None)
        };
        let (by_rkey, packed) = sorted(rkeys.as_deref().unwrap_or(&lkeys));
        let by_lkey = if need_left_index && rkeys.is_some() {
            Some(sorted(&lkeys).0)
        } else {
            None
        };
        let groups = rkeys.is_none().then(|| {
            let mut g = Groups {
                by_pos: vec![[u32::MAX, 0, 0]; n],
            };
            // Equal keys of sorted entries `a` and `b`: from the packed keys when there are
            // (sequential reads), else from the records' keys.
            let same = |a: usize, b: usize| match &packed {
                Some(p) => p[a] == p[b],
                None => {
                    let key = |q: usize| {
                        let i = by_rkey[q] as usize;
                        &lkeys[i * width..(i + 1) * width]
                    };
                    key(a) == key(b)
                }
            };
            let mut s = 0;
            while s < by_rkey.len() {
                let mut e = s + 1;
                while e < by_rkey.len() && same(e, s) {
                    e += 1;
                }
                // A record alone with its key has no partner: its entry stays "NULL key"
                // (same empty partner lists, one random write less).
                if e - s > 1 {
                    for (q, &pos) in by_rkey.iter().enumerate().take(e).skip(s) {
                        let i = pos as usize;
                        g.by_pos[i] = [q as u32, s as u32, e as u32];
                    }
                }
                s = e;
            }
            g
        });
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
    pub(crate) fn partners_after(&self, l: usize) -> &[u32] {
        if let Some(g) = &self.groups {
            // Sorted by (key, position): the later members of l's group are exactly its partners.
            let [rank, _, end] = g.by_pos[l];
            return match rank {
                u32::MAX => &[],
                q => &self.by_rkey[q as usize + 1..end as usize],
            };
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
            let [rank, start, _] = g.by_pos[r];
            return match rank {
                u32::MAX => &[],
                q => &self.by_rkey[start as usize..q as usize],
            };
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

/// Digits of [`radix_sort`], in bits.
const RADIX_BITS: u32 = 11;

/// Sorts `keys` and permutes `pos` alike, stably (equal keys keep their order). When a key and
/// its position fit in 64 bits together (the usual case), each pair is packed into one `u64`
/// (key above the position) and only the key's digits are radix sorted ([`sort_digits`]).
fn radix_sort(keys: &mut [u64], pos: &mut [u32]) {
    let bits = u64::BITS - keys.iter().fold(0, |m, &k| m | k).leading_zeros();
    let pos_bits = u32::BITS - pos.iter().fold(0, |m, &q| m | q).leading_zeros();
    if bits + pos_bits <= u64::BITS {
        let mut both: Vec<u64> = keys
            .iter()
            .zip(pos.iter())
            .map(|(&k, &q)| (k << pos_bits) | u64::from(q))
            .collect();
        sort_digits(&mut both, pos_bits, bits);
        let low = (1u64 << pos_bits) - 1;
        for ((k, q), &v) in keys.iter_mut().zip(pos.iter_mut()).zip(&both) {
            *k = v >> pos_bits;
            *q = (v & low) as u32;
        }
        return;
    }
    // Keys too wide to carry their positions (dictionaries of billions of values): a stable
    // comparison sort.
    let mut pairs: Vec<(u64, u32)> = keys.iter().copied().zip(pos.iter().copied()).collect();
    pairs.sort_by_key(|&(k, _)| k);
    for ((k, q), (pk, pq)) in keys.iter_mut().zip(pos.iter_mut()).zip(pairs) {
        (*k, *q) = (pk, pq);
    }
}

/// Stable LSD radix sort of `v` on its bits `shift..shift + bits` only: one counting pass per
/// digit that is not the same in every value.
fn sort_digits(v: &mut Vec<u64>, shift: u32, bits: u32) {
    let n = v.len();
    let passes = bits.div_ceil(RADIX_BITS) as usize;
    let mask = (1u64 << RADIX_BITS) - 1;
    let digit = |k: u64, p: usize| ((k >> (shift + p as u32 * RADIX_BITS)) & mask) as usize;
    let mut counts = vec![[0u32; 1 << RADIX_BITS]; passes];
    for &k in v.iter() {
        for (p, c) in counts.iter_mut().enumerate() {
            c[digit(k, p)] += 1;
        }
    }
    let mut out = vec![0u64; n];
    for (p, c) in counts.iter_mut().enumerate() {
        if c.iter().any(|&m| m as usize == n) {
            continue;
        }
        let mut sum = 0u32;
        for m in c.iter_mut() {
            (*m, sum) = (sum, sum + *m);
        }
        for &k in v.iter() {
            let slot = &mut c[digit(k, p)];
            out[*slot as usize] = k;
            *slot += 1;
        }
        std::mem::swap(v, &mut out);
    }
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
    fn radix_sort_is_a_stable_sort() {
        // Keys of several digits, with ties, some digits equal in every key; with the position
        // (13 bits) they fit in 64 bits (packed path) or not (two arrays). Positions are
        // scrambled: ties keep their input order, whatever their position values.
        for high in [40, 58] {
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let mut keys: Vec<u64> = (0..5000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ((x % 29) << high) | ((x >> 20) % 5)
                })
                .collect();
            let mut pos: Vec<u32> = (0..keys.len() as u32).map(|i| (i * 7919) % 5000).collect();
            let mut expected: Vec<(u64, u32)> =
                keys.iter().copied().zip(pos.iter().copied()).collect();
            expected.sort_by_key(|&(k, _)| k);
            radix_sort(&mut keys, &mut pos);
            let got: Vec<(u64, u32)> = keys.into_iter().zip(pos).collect();
            assert_eq!(got, expected, "keys up to bit {high}");
        }
        let (mut empty, mut none) = (Vec::new(), Vec::new());
        radix_sort(&mut empty, &mut none);
        assert!(empty.is_empty() && none.is_empty());
    }
}
