//! Built-in string functions: similarity metrics and text manipulation, with DuckDB 1.4
//! semantics.
//!
//! DuckDB 1.4's `levenshtein`, `damerau_levenshtein`, `jaro_similarity`,
//! `jaro_winkler_similarity`, `jaccard` and `hamming` work on UTF-8 **bytes**, not characters
//! (`levenshtein('ü', 'u') = 2`), while `length` and `substr` count characters. We reproduce
//! that, using strsim's character versions as a fast path when both inputs are ASCII.

use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;

use super::{ArgType, Arity, FunctionDef, FunctionImpl, TextMetric, int_arg, text_arg};
use crate::error::FunctionError;
use crate::value::Value;

/// A byte slice that strsim's generic functions can iterate.
struct Bytes<'a>(&'a [u8]);

impl<'b> IntoIterator for &'b Bytes<'_> {
    type Item = &'b u8;
    type IntoIter = std::slice::Iter<'b, u8>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Levenshtein distance over bytes (DuckDB's), without allocating for strings of up to 64
/// bytes (after removing their common prefix and suffix, which never changes the distance).
pub(crate) fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let (a, b) = trim_common(a, b);
    // The shorter string is the bit-parallel pattern.
    let (p, t) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if p.is_empty() {
        return t.len();
    }
    if p.len() <= 64 {
        return levenshtein_bitparallel(p, t);
    }
    strsim::generic_levenshtein(&Bytes(a), &Bytes(b))
}

/// `a` and `b` without their common prefix and common suffix.
fn trim_common<'s>(a: &'s [u8], b: &'s [u8]) -> (&'s [u8], &'s [u8]) {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (&a[..a.len() - suf], &b[..b.len() - suf])
}

/// Myers' / Hyyrö's bit-parallel Levenshtein distance; `p` is not empty and at most 64 bytes.
///
/// The positions of a byte in `p` (a bit mask) come from a table indexed by byte, or, for a
/// pattern of at most 8 bytes (most after trimming: dates, codes, the differing middle of two
/// names), from comparing the byte with the pattern's 8 bytes at once in a word: no 2 KB table
/// to zero per call (a `memset` call, 1.4% of the prediction's instructions).
fn levenshtein_bitparallel(p: &[u8], t: &[u8]) -> usize {
    debug_assert!(!p.is_empty() && p.len() <= 64);
    if p.len() <= 8 {
        let word = p.iter().rev().fold(0u64, |w, &c| (w << 8) | u64::from(c));
        let valid = u64::MAX >> (64 - p.len());
        return myers(p.len(), t, |c| byte_positions(word, c) & valid);
    }
    let mut peq = [0u64; 256];
    for (i, &c) in p.iter().enumerate() {
        peq[usize::from(c)] |= 1 << i;
    }
    myers(p.len(), t, |c| peq[usize::from(c)])
}

/// Bit `i` set where byte `i` of `word` (little-endian) is `c`.
#[inline]
fn byte_positions(word: u64, c: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (u64::from(c) * 0x0101_0101_0101_0101);
    // 0x80 in each zero byte of `x` (exact: no carry crosses a byte).
    let zero = !((((x & LOW7) + LOW7) | x) | LOW7);
    // Bit 7 of byte i moved to bit 56 + i (the products' other bits land elsewhere).
    ((zero >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The recurrence of [`levenshtein_bitparallel`] for a pattern of `len` bytes whose positions
/// of byte `c` are `peq(c)`.
#[inline(always)]
fn myers(len: usize, t: &[u8], peq: impl Fn(u8) -> u64) -> usize {
    let last = 1u64 << (len - 1);
    let (mut pv, mut mv) = (!0u64, 0u64);
    let mut score = len;
    for &c in t {
        let eq = peq(c);
        let xv = eq | mv;
        let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
        let mut ph = mv | !(xh | pv);
        let mut mh = pv & xh;
        if ph & last != 0 {
            score += 1;
        } else if mh & last != 0 {
            score -= 1;
        }
        ph = (ph << 1) | 1;
        mh <<= 1;
        pv = mh | !(xv | ph);
        mv = ph & xv;
    }
    score
}

/// True (unrestricted) Damerau-Levenshtein distance over bytes (DuckDB's), in linear space
/// (Zhao and Sahni), without allocating when `b` has at most 62 bytes.
pub(crate) fn damerau_levenshtein(a: &[u8], b: &[u8]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    const STACK: usize = 64;
    let size = b.len() + 2;
    if size <= STACK {
        let mut rows = [[0i32; STACK]; 3];
        let [fr, r1, r] = &mut rows;
        damerau_rows(a, b, &mut fr[..size], &mut r1[..size], &mut r[..size])
    } else {
        let (mut fr, mut r1, mut r) = (vec![0; size], vec![0; size], vec![0; size]);
        damerau_rows(a, b, &mut fr, &mut r1, &mut r)
    }
}

/// The Zhao-Sahni recurrence over three rows of `b.len() + 2` cells each.
fn damerau_rows<'r>(
    a: &[u8],
    b: &[u8],
    fr: &mut [i32],
    mut r1: &'r mut [i32],
    mut r: &'r mut [i32],
) -> usize {
    let to_i32 = |n: usize| i32::try_from(n).expect("a text value is shorter than 2 GiB");
    let max_val = to_i32(a.len().max(b.len())) + 1;
    fr.fill(max_val);
    r1.fill(max_val);
    r[0] = max_val;
    for (j, cell) in r.iter_mut().enumerate().skip(1) {
        *cell = to_i32(j - 1);
    }
    // Last row (1-based) where each byte occurred in `a`; -1 if not yet.
    let mut last_row = [-1i32; 256];
    for (i, &ch1) in a.iter().enumerate() {
        let i = to_i32(i + 1);
        std::mem::swap(&mut r, &mut r1);
        let mut last_col: i32 = -1;
        let mut last_i2l1 = r[1];
        r[1] = i;
        let mut t = max_val;
        for (j0, &ch2) in b.iter().enumerate() {
            let j = j0 + 1;
            let jj = to_i32(j);
            let diag = r1[j] + i32::from(ch1 != ch2);
            let left = r[j] + 1;
            let up = r1[j + 1] + 1;
            let mut temp = diag.min(left).min(up);
            if ch1 == ch2 {
                last_col = jj;
                fr[j + 1] = r1[j - 1];
                t = last_i2l1;
            } else {
                let k = last_row[usize::from(ch2)];
                if jj - last_col == 1 {
                    temp = temp.min(fr[j + 1] + (i - k));
                } else if i - k == 1 {
                    temp = temp.min(t + (jj - last_col));
                }
            }
            last_i2l1 = r[j + 1];
            r[j + 1] = temp;
        }
        last_row[usize::from(ch1)] = i;
    }
    r[b.len() + 1] as usize
}

pub(crate) fn jaro(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0; // DuckDB: jaro('', '') = 0, strsim says 1
    }
    jaro_bytes(a, b)
}

pub(crate) fn jaro_winkler(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let sim = jaro_bytes(a, b);
    // strsim's generic_jaro_winkler, with the same floating-point operations.
    if sim > 0.7 {
        let prefix = a.iter().take(4).zip(b).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// strsim's `generic_jaro` over bytes (same matching order and floating-point operations, so
/// bit-identical results), with the match flags in two `u64` masks when both strings have at
/// most 64 bytes.
fn jaro_bytes(a: &[u8], b: &[u8]) -> f64 {
    let (a_len, b_len) = (a.len(), b.len());
    if a_len > 64 || b_len > 64 {
        return strsim::generic_jaro(&Bytes(a), &Bytes(b));
    }
    if a_len == 0 && b_len == 0 {
        return 1.0;
    } else if a_len == 0 || b_len == 0 {
        return 0.0;
    }
    let search_range = (a_len.max(b_len) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(search_range);
        let hi = b_len.min(i + search_range + 1);
        for (j, &y) in b.iter().enumerate().take(hi).skip(lo) {
            if y == x && b_flags & (1 << j) == 0 {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let (mut fa, mut fb) = (a_flags, b_flags);
    while fa != 0 {
        let (i, j) = (fa.trailing_zeros() as usize, fb.trailing_zeros() as usize);
        if a[i] != b[j] {
            transpositions += 1;
        }
        fa &= fa - 1;
        fb &= fb - 1;
    }
    transpositions /= 2;
    ((matches as f64 / a_len as f64)
        + (matches as f64 / b_len as f64)
        + ((matches - transpositions) as f64 / matches as f64))
        / 3.0
}

fn jaccard(a: &str, b: &str) -> Result<f64, FunctionError> {
    if a.is_empty() || b.is_empty() {
        return Err(FunctionError::new(
            "Jaccard Function: An argument too short!",
        ));
    }
    let sa: HashSet<u8> = a.bytes().collect();
    let sb: HashSet<u8> = b.bytes().collect();
    let inter = sa.intersection(&sb).count();
    let union = sa.len() + sb.len() - inter;
    Ok(inter as f64 / union as f64)
}

fn hamming(a: &str, b: &str) -> Result<i64, FunctionError> {
    if a.is_empty() || b.is_empty() {
        return Err(FunctionError::new(
            "Mismatch Function: Strings must be of length > 0!",
        ));
    }
    if a.len() != b.len() {
        return Err(FunctionError::new(
            "Mismatch Function: Strings must be of equal length!",
        ));
    }
    Ok(a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() as i64)
}

/// Optional third argument of the jaro functions: results below it become 0.
fn with_cutoff(score: f64, args: &[Value<'_>]) -> Result<f64, FunctionError> {
    match args.get(2) {
        Some(v) => {
            let cutoff = v
                .as_f64()
                .ok_or_else(|| FunctionError::new("score_cutoff must be a number"))?;
            Ok(if score >= cutoff { score } else { 0.0 })
        }
        None => Ok(score),
    }
}

/// DuckDB's simple (one-to-one) case mapping.
fn lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

fn upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => u,
                _ if c == 'ß' => 'ẞ',
                _ => c,
            }
        })
        .collect()
}

/// DuckDB `substring(s, start[, length])` on characters, 1-based; a negative start counts from
/// the end and a negative length takes characters before `start`.
pub(crate) fn substring(s: &str, start: i64, len: Option<i64>) -> String {
    let n = s.chars().count() as i64;
    // Work in 0-based half-open [from, to) over character positions, then clamp.
    let begin = if start > 0 {
        start - 1
    } else if start < 0 {
        n + start
    } else {
        -1
    };
    let (from, to) = match len {
        None => (begin, n),
        Some(l) if l >= 0 => (begin, begin.saturating_add(l)),
        Some(l) => (begin.saturating_add(l), begin),
    };
    let (from, to) = (from.clamp(0, n), to.clamp(0, n));
    if from >= to {
        return String::new();
    }
    s.chars()
        .skip(from as usize)
        .take((to - from) as usize)
        .collect()
}

fn regexp_extract_with<'a>(re: &Regex, s: &str, group: usize) -> Value<'a> {
    let out = re
        .captures(s)
        .and_then(|c| c.get(group).map(|m| m.as_str().to_string()))
        .unwrap_or_default();
    Value::string(out)
}

fn compile_regex(p: &str) -> Result<Regex, FunctionError> {
    Regex::new(p).map_err(|e| FunctionError::new(format!("invalid regular expression: {e}")))
}

fn regexp_group(args: &[Value<'_>]) -> Result<usize, FunctionError> {
    match args.get(2) {
        None => Ok(0),
        Some(_) => {
            let g = int_arg(args, 2, "regexp_extract")?;
            usize::try_from(g).map_err(|_| FunctionError::new("regexp_extract: group must be >= 0"))
        }
    }
}

fn num(v: usize) -> Value<'static> {
    Value::Int(v as i64)
}

fn bytes_arg<'v>(args: &'v [Value<'_>], i: usize, fname: &str) -> Result<&'v [u8], FunctionError> {
    text_arg(args, i, fname).map(str::as_bytes)
}

const LEVENSHTEIN: fn(&[u8], &[u8]) -> Value<'static> = |a, b| num(levenshtein(a, b));
const DAMERAU_LEVENSHTEIN: fn(&[u8], &[u8]) -> Value<'static> =
    |a, b| num(damerau_levenshtein(a, b));

/// Whether the edit distance of `a` and `b` is at most 1 (with `transpose`, the
/// Damerau-Levenshtein distance, where swapping two adjacent bytes is one edit), from what
/// differs once their common prefix and suffix are removed: nothing (distance 0), one byte
/// against one or none (a substitution, insertion or deletion), or, with `transpose`, two
/// swapped bytes. One edit leaves nothing else: anything else takes at least two.
fn within_one(a: &[u8], b: &[u8], transpose: bool) -> bool {
    match trim_common(a, b) {
        (x, y) if x.len() <= 1 && y.len() <= 1 => true,
        ([x0, x1], [y0, y1]) => transpose && x0 == y1 && x1 == y0,
        _ => false,
    }
}

/// The built-ins that are a [`TextMetric`] when called with two arguments (see
/// [`FunctionRegistry::text_metric`](super::FunctionRegistry::text_metric)), by name.
pub(super) fn text_metrics() -> [(&'static str, TextMetric); 4] {
    [
        (
            "levenshtein",
            TextMetric {
                value: LEVENSHTEIN,
                within_one: Some(|a, b| within_one(a, b, false)),
            },
        ),
        (
            "damerau_levenshtein",
            TextMetric {
                value: DAMERAU_LEVENSHTEIN,
                within_one: Some(|a, b| within_one(a, b, true)),
            },
        ),
        (
            "jaro_similarity",
            TextMetric {
                value: |a, b| Value::Float(jaro(a, b)),
                within_one: None,
            },
        ),
        (
            "jaro_winkler_similarity",
            TextMetric {
                value: |a, b| Value::Float(jaro_winkler(a, b)),
                within_one: None,
            },
        ),
    ]
}

pub(super) fn builtins() -> Vec<FunctionDef> {
    use ArgType::{Number, Text};
    let two = [Text, Text];
    vec![
        FunctionDef::new("levenshtein", Arity::Exact(2), &two, Number, |a| {
            let f = "levenshtein";
            Ok(LEVENSHTEIN(bytes_arg(a, 0, f)?, bytes_arg(a, 1, f)?))
        }),
        FunctionDef::new("damerau_levenshtein", Arity::Exact(2), &two, Number, |a| {
            let f = "damerau_levenshtein";
            Ok(DAMERAU_LEVENSHTEIN(
                bytes_arg(a, 0, f)?,
                bytes_arg(a, 1, f)?,
            ))
        }),
        FunctionDef::new(
            "jaro_similarity",
            Arity::Range(2, 3),
            &[Text, Text, Number],
            Number,
            |a| {
                let f = "jaro_similarity";
                Ok(Value::Float(with_cutoff(
                    jaro(bytes_arg(a, 0, f)?, bytes_arg(a, 1, f)?),
                    a,
                )?))
            },
        )
        .aliases(&["jaro_sim"]),
        FunctionDef::new(
            "jaro_winkler_similarity",
            Arity::Range(2, 3),
            &[Text, Text, Number],
            Number,
            |a| {
                let f = "jaro_winkler_similarity";
                Ok(Value::Float(with_cutoff(
                    jaro_winkler(bytes_arg(a, 0, f)?, bytes_arg(a, 1, f)?),
                    a,
                )?))
            },
        )
        .aliases(&["jaro_winkler", "jaro_winkler_sim"]),
        FunctionDef::new("jaccard", Arity::Exact(2), &two, Number, |a| {
            Ok(Value::Float(jaccard(
                text_arg(a, 0, "jaccard")?,
                text_arg(a, 1, "jaccard")?,
            )?))
        }),
        FunctionDef::new("hamming", Arity::Exact(2), &two, Number, |a| {
            Ok(Value::Int(hamming(
                text_arg(a, 0, "hamming")?,
                text_arg(a, 1, "hamming")?,
            )?))
        })
        .aliases(&["mismatches"]),
        FunctionDef::new("lower", Arity::Exact(1), &[Text], Text, |a| {
            Ok(Value::string(lower(text_arg(a, 0, "lower")?)))
        })
        .aliases(&["lcase"]),
        FunctionDef::new("upper", Arity::Exact(1), &[Text], Text, |a| {
            Ok(Value::string(upper(text_arg(a, 0, "upper")?)))
        })
        .aliases(&["ucase"]),
        FunctionDef::new("trim", Arity::Range(1, 2), &[Text, Text], Text, |a| {
            let s = text_arg(a, 0, "trim")?;
            let out = match a.get(1) {
                None => s.trim_matches(' '),
                Some(_) => {
                    let chars: Vec<char> = text_arg(a, 1, "trim")?.chars().collect();
                    s.trim_matches(|c| chars.contains(&c))
                }
            };
            Ok(Value::string(out.to_string()))
        }),
        FunctionDef::new("length", Arity::Exact(1), &[Text], Number, |a| {
            Ok(num(text_arg(a, 0, "length")?.chars().count()))
        })
        .aliases(&["len", "char_length", "character_length"]),
        FunctionDef::new(
            "substring",
            Arity::Range(2, 3),
            &[Text, Number, Number],
            Text,
            |a| {
                let s = text_arg(a, 0, "substring")?;
                let start = int_arg(a, 1, "substring")?;
                let len = if a.len() > 2 {
                    Some(int_arg(a, 2, "substring")?)
                } else {
                    None
                };
                Ok(Value::string(substring(s, start, len)))
            },
        )
        .aliases(&["substr"]),
        FunctionDef::new("concat", Arity::AtLeast(1), &[ArgType::Any], Text, |a| {
            let mut out = String::new();
            for v in a.iter().filter(|v| !v.is_null()) {
                out.push_str(&crate::value::render(v));
            }
            Ok(Value::string(out))
        })
        .handles_nulls(),
        FunctionDef::new(
            "regexp_extract",
            Arity::Range(2, 3),
            &[Text, Text, Number],
            Text,
            |a| {
                let re = compile_regex(text_arg(a, 1, "regexp_extract")?)?;
                Ok(regexp_extract_with(
                    &re,
                    text_arg(a, 0, "regexp_extract")?,
                    regexp_group(a)?,
                ))
            },
        )
        .specializer(Arc::new(|consts: &[Option<Value<'static>>]| {
            // Pre-compile a literal pattern (and group) once instead of per row.
            let Some(Some(Value::Text(p))) = consts.get(1) else {
                return Ok(None);
            };
            let re = compile_regex(p)?;
            let group = match consts.get(2) {
                None => Some(0),
                Some(Some(g)) => Some(regexp_group(&[Value::Null, Value::Null, g.clone()])?),
                Some(None) => None,
            };
            let imp: FunctionImpl = Arc::new(move |a: &[Value<'_>]| {
                let g = match group {
                    Some(g) => g,
                    None => regexp_group(a)?,
                };
                Ok(regexp_extract_with(
                    &re,
                    text_arg(a, 0, "regexp_extract")?,
                    g,
                ))
            });
            Ok(Some(imp))
        })),
        FunctionDef::new(
            "regexp_matches",
            Arity::Exact(2),
            &two,
            ArgType::Boolean,
            |a| {
                let re = compile_regex(text_arg(a, 1, "regexp_matches")?)?;
                Ok(Value::Bool(re.is_match(text_arg(a, 0, "regexp_matches")?)))
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::FunctionRegistry;

    fn call(name: &str, args: &[Value<'_>]) -> Result<Value<'static>, FunctionError> {
        let reg = FunctionRegistry::with_builtins();
        let def = reg.get(name).unwrap();
        if def.null_propagating && args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        (def.implementation)(args).map(Value::into_owned)
    }

    fn s(x: &str) -> Value<'_> {
        Value::str(x)
    }

    fn f(name: &str, a: &str, b: &str) -> f64 {
        call(name, &[s(a), s(b)]).unwrap().as_f64().unwrap()
    }

    fn i(name: &str, a: &str, b: &str) -> Value<'static> {
        call(name, &[s(a), s(b)]).unwrap()
    }

    // Every expected value below was computed with DuckDB 1.4.0 (`select <expr>`).
    #[test]
    fn jaro_and_jaro_winkler_match_duckdb() {
        assert_eq!(f("jaro_similarity", "martha", "marhta"), 0.9444444444444445);
        assert_eq!(f("jaro_similarity", "dwayne", "duane"), 0.8222222222222223);
        assert_eq!(f("jaro_similarity", "", ""), 0.0);
        assert_eq!(f("jaro_similarity", "", "a"), 0.0);
        assert_eq!(f("jaro_similarity", "ü", "u"), 0.0);
        assert_eq!(f("jaro_similarity", "über", "uber"), 0.7833333333333333);
        assert_eq!(f("jaro_similarity", "😀", "😀"), 1.0);
        assert_eq!(
            f("jaro_similarity", "1993-04-13", "1993-04-31"),
            0.9666666666666667
        );
        assert_eq!(f("jaro_sim", "martha", "marhta"), 0.9444444444444445);
        assert_eq!(
            f("jaro_winkler_similarity", "Lee", "Leigh"),
            0.6888888888888888
        );
        assert_eq!(
            f("jaro_winkler_similarity", "martha", "marhta"),
            0.9611111111111111
        );
        assert_eq!(
            f("jaro_winkler_similarity", "dwayne", "duane"),
            0.8400000000000001
        );
        assert_eq!(
            f("jaro_winkler_similarity", "kyle", "kyli"),
            0.8833333333333334
        );
        assert_eq!(f("jaro_winkler_similarity", "", ""), 0.0);
        assert_eq!(f("jaro_winkler_similarity", "abc", "abc"), 1.0);
        assert_eq!(
            f("jaro_winkler_similarity", "Stürmer", "Sturmer"),
            0.8952380952380953
        );
        assert_eq!(f("jaro_winkler", "kyle", "kyli"), 0.8833333333333334);
        assert_eq!(f("jaro_winkler_sim", "kyle", "kyli"), 0.8833333333333334);
        assert_eq!(
            call(
                "jaro_winkler_similarity",
                &[s("a"), s("a"), Value::Float(0.5)]
            )
            .unwrap(),
            Value::Float(1.0)
        );
        assert_eq!(
            call(
                "jaro_winkler_similarity",
                &[s("abc"), s("xyz"), Value::Float(0.5)]
            )
            .unwrap(),
            Value::Float(0.0)
        );
        assert_eq!(
            call("jaro_winkler_similarity", &[Value::Null, s("a")]).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn edit_distances_match_duckdb() {
        assert_eq!(i("levenshtein", "kitten", "sitting"), Value::Int(3));
        assert_eq!(i("levenshtein", "", ""), Value::Int(0));
        assert_eq!(i("levenshtein", "", "abc"), Value::Int(3));
        assert_eq!(i("levenshtein", "ü", "u"), Value::Int(2));
        assert_eq!(i("levenshtein", "über", "uber"), Value::Int(2));
        assert_eq!(i("levenshtein", "ü", "ü"), Value::Int(0));
        assert_eq!(i("levenshtein", "😀", "a"), Value::Int(4));
        assert_eq!(
            call("levenshtein", &[Value::Null, s("a")]).unwrap(),
            Value::Null
        );
        assert_eq!(i("damerau_levenshtein", "CA", "ABC"), Value::Int(2));
        assert_eq!(i("damerau_levenshtein", "ab", "ba"), Value::Int(1));
        assert_eq!(i("damerau_levenshtein", "smith", "smtih"), Value::Int(1));
        assert_eq!(i("damerau_levenshtein", "abc", "abc"), Value::Int(0));
        assert_eq!(i("damerau_levenshtein", "", "ab"), Value::Int(2));
        assert_eq!(i("damerau_levenshtein", "ü", "u"), Value::Int(2));
        assert_eq!(i("damerau_levenshtein", "über", "uber"), Value::Int(2));
        assert_eq!(i("hamming", "karolin", "kathrin"), Value::Int(3));
        assert_eq!(i("hamming", "abc", "abd"), Value::Int(1));
        assert_eq!(i("hamming", "üa", "üb"), Value::Int(1));
        assert_eq!(i("mismatches", "abc", "abd"), Value::Int(1));
        assert!(
            call("hamming", &[s("abc"), s("ab")])
                .unwrap_err()
                .message
                .contains("equal length")
        );
        assert!(
            call("hamming", &[s("üa"), s("ua")])
                .unwrap_err()
                .message
                .contains("equal length")
        );
        assert!(
            call("hamming", &[s(""), s("")])
                .unwrap_err()
                .message
                .contains("length > 0")
        );
    }

    /// The allocation-free byte metrics agree with strsim's generic (byte) versions on random
    /// strings: short and long (> 64 bytes), ASCII and multi-byte, with shared prefixes.
    #[test]
    fn byte_metrics_agree_with_strsim() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = ["a", "b", "c", "d", "e", "ü", "😀", " ", "1"];
        let word = |next: &mut dyn FnMut() -> u64| {
            let len = match next() % 4 {
                0 => next() % 4,
                1 | 2 => next() % 14,
                _ => next() % 90,
            };
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect::<String>()
        };
        for _ in 0..20_000 {
            let a = word(&mut next);
            let mut b = if next() % 3 == 0 {
                a.clone()
            } else {
                word(&mut next)
            };
            if next() % 2 == 0 && !b.is_empty() {
                // A small edit of a similar string.
                let cut = b
                    .char_indices()
                    .nth((next() % 3) as usize)
                    .map_or(0, |c| c.0);
                b.insert(cut, 'x');
            }
            let (x, y) = (Bytes(a.as_bytes()), Bytes(b.as_bytes()));
            assert_eq!(
                within_one(a.as_bytes(), b.as_bytes(), false),
                levenshtein(a.as_bytes(), b.as_bytes()) <= 1,
                "levenshtein({a:?}, {b:?}) <= 1"
            );
            assert_eq!(
                within_one(a.as_bytes(), b.as_bytes(), true),
                damerau_levenshtein(a.as_bytes(), b.as_bytes()) <= 1,
                "damerau_levenshtein({a:?}, {b:?}) <= 1"
            );
            assert_eq!(
                levenshtein(a.as_bytes(), b.as_bytes()),
                strsim::generic_levenshtein(&x, &y),
                "levenshtein({a:?}, {b:?})"
            );
            assert_eq!(
                damerau_levenshtein(a.as_bytes(), b.as_bytes()),
                strsim::generic_damerau_levenshtein(a.as_bytes(), b.as_bytes()),
                "damerau_levenshtein({a:?}, {b:?})"
            );
            if !(a.is_empty() && b.is_empty()) {
                assert_eq!(
                    jaro(a.as_bytes(), b.as_bytes()).to_bits(),
                    strsim::generic_jaro(&x, &y).to_bits(),
                    "jaro({a:?}, {b:?})"
                );
                assert_eq!(
                    jaro_winkler(a.as_bytes(), b.as_bytes()).to_bits(),
                    strsim::generic_jaro_winkler(&x, &y).to_bits(),
                    "jaro_winkler({a:?}, {b:?})"
                );
            }
        }
    }

    #[test]
    fn byte_positions_match_a_scan() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Few distinct bytes (many matches), or any.
            let word = if i % 2 == 0 {
                state & 0x0303_0303_0303_0303
            } else {
                state
            };
            for c in 0..=255u8 {
                let want = (0..8)
                    .filter(|&k| (word >> (8 * k)) as u8 == c)
                    .fold(0u64, |m, k| m | 1 << k);
                assert_eq!(byte_positions(word, c), want, "{word:#x} {c}");
            }
        }
    }

    #[test]
    fn within_one_decides_distance_at_most_one() {
        for (a, b, lev, dl) in [
            ("", "", true, true),
            ("a", "", true, true),
            ("ab", "", false, false),
            ("abc", "abxc", true, true),
            ("abc", "axyc", false, false),
            ("abc", "xbc", true, true),
            ("ab", "ba", false, true),
            ("martha", "marhta", false, true),
            ("abcd", "badc", false, false),
            ("abc", "cab", false, false),
            ("aab", "aba", false, true),
        ] {
            let (x, y) = (a.as_bytes(), b.as_bytes());
            assert_eq!(within_one(x, y, false), lev, "levenshtein({a:?}, {b:?})");
            assert_eq!(
                within_one(x, y, true),
                dl,
                "damerau_levenshtein({a:?}, {b:?})"
            );
            assert_eq!(lev, levenshtein(x, y) <= 1);
            assert_eq!(dl, damerau_levenshtein(x, y) <= 1);
        }
    }

    #[test]
    fn jaccard_matches_duckdb() {
        assert_eq!(f("jaccard", "aab", "ab"), 1.0);
        assert_eq!(f("jaccard", "night", "nacht"), 0.42857142857142855);
        assert_eq!(f("jaccard", "abc", "abc"), 1.0);
        assert_eq!(f("jaccard", "ü", "u"), 0.0);
        assert_eq!(f("jaccard", "über", "uber"), 0.5);
        assert!(
            call("jaccard", &[s(""), s("ab")])
                .unwrap_err()
                .message
                .contains("too short")
        );
        assert!(call("jaccard", &[s(""), s("")]).is_err());
    }

    #[test]
    fn text_functions_match_duckdb() {
        assert_eq!(call("lower", &[s("ÜBER")]).unwrap(), s("über"));
        assert_eq!(call("lower", &[s("İ")]).unwrap(), s("i"));
        assert_eq!(call("lcase", &[s("AB")]).unwrap(), s("ab"));
        assert_eq!(call("char_length", &[s("ü")]).unwrap(), Value::Int(1));
        assert_eq!(call("upper", &[s("straße")]).unwrap(), s("STRAẞE"));
        assert_eq!(call("upper", &[s("ß")]).unwrap(), s("ẞ"));
        assert_eq!(call("trim", &[s("  a b  ")]).unwrap(), s("a b"));
        assert_eq!(call("trim", &[s("\ta\t")]).unwrap(), s("\ta\t"));
        assert_eq!(call("trim", &[s("xxaxx"), s("x")]).unwrap(), s("a"));
        assert_eq!(call("trim", &[s("")]).unwrap(), s(""));
        assert_eq!(call("length", &[s("😀ü")]).unwrap(), Value::Int(2));
        assert_eq!(call("len", &[s("hello")]).unwrap(), Value::Int(5));
        assert_eq!(call("length", &[s("")]).unwrap(), Value::Int(0));
        assert_eq!(call("length", &[Value::Null]).unwrap(), Value::Null);
        assert_eq!(
            call("concat", &[s("a"), Value::Null, s("b")]).unwrap(),
            s("ab")
        );
    }

    #[test]
    fn substring_matches_duckdb() {
        let sub = |st: i64, len: Option<i64>| {
            let mut a = vec![s("hello"), Value::Int(st)];
            a.extend(len.map(Value::Int));
            call("substr", &a).unwrap()
        };
        assert_eq!(sub(0, Some(2)), s("h"));
        assert_eq!(sub(-3, Some(2)), s("ll"));
        assert_eq!(sub(2, None), s("ello"));
        assert_eq!(sub(2, Some(-1)), s("h"));
        assert_eq!(sub(0, Some(1)), s(""));
        assert_eq!(sub(-10, Some(3)), s(""));
        assert_eq!(sub(-1, None), s("o"));
        assert_eq!(sub(3, Some(-2)), s("he"));
        assert_eq!(sub(10, Some(2)), s(""));
        assert_eq!(sub(1, Some(0)), s(""));
        assert_eq!(sub(-2, Some(-2)), s("el"));
        assert_eq!(sub(0, None), s("hello"));
        assert_eq!(sub(2, Some(2)), s("el"));
        assert_eq!(
            call("substring", &[s("😀ü"), Value::Int(2), Value::Int(1)]).unwrap(),
            s("ü")
        );
    }

    #[test]
    fn regexp_extract_matches_duckdb() {
        assert_eq!(
            call("regexp_extract", &[s("abc123"), s("[0-9]+")]).unwrap(),
            s("123")
        );
        assert_eq!(
            call("regexp_extract", &[s("abc"), s("[0-9]+")]).unwrap(),
            s("")
        );
        assert_eq!(
            call(
                "regexp_extract",
                &[s("abc123"), s("([a-z]+)([0-9]+)"), Value::Int(2)]
            )
            .unwrap(),
            s("123")
        );
        assert_eq!(
            call(
                "regexp_extract",
                &[s("abc123"), s("([a-z]+)([0-9]+)"), Value::Int(3)]
            )
            .unwrap(),
            s("")
        );
        assert_eq!(call("regexp_extract", &[s("abc"), s("")]).unwrap(), s(""));
        assert_eq!(call("regexp_extract", &[s("ABC"), s("b")]).unwrap(), s(""));
        assert_eq!(
            call("regexp_extract", &[Value::Null, s("a")]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call(
                "regexp_extract",
                &[s("john@example.com"), s("^[^@]+"), Value::Int(0)]
            )
            .unwrap(),
            s("john")
        );
        assert_eq!(
            call(
                "regexp_extract",
                &[s("john@example.com"), s("@(.+)$"), Value::Int(1)]
            )
            .unwrap(),
            s("example.com")
        );
        assert!(call("regexp_extract", &[s("x"), s("(")]).is_err());
        assert_eq!(
            call("regexp_matches", &[s("abc"), s("b")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            call("regexp_matches", &[s("abc"), s("^b")]).unwrap(),
            Value::Bool(false)
        );
    }
}
