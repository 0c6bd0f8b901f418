//! Column-wise record storage with interned, pre-normalised strings.
//!
//! Each column keeps a dictionary of distinct values and one `u32` code per record, so equality
//! of two values of the same column is a code comparison and term frequencies are an array
//! indexed by code. Empty or whitespace-only values are stored as NULL; other values are kept
//! verbatim (not trimmed). Dictionary strings live in one arena per column (no allocation per
//! value) and are interned through a `hashbrown` table of codes hashed with `foldhash`.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::schema::Schema;

/// Code of a NULL value.
pub(crate) const NULL: u32 = u32::MAX;

/// The hasher used for interning and row deduplication (fixed seed: deterministic).
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x1de3).hash_one(b)
}

/// Longest value kept inline in [`Dict::short`].
const SHORT_MAX: usize = 15;

/// The distinct values of a column, stored back to back in one string; values of at most
/// [`SHORT_MAX`] bytes (most names, dates and codes) are also kept inline in a 16-byte slot
/// per code, so that reading one (scoring reads values by code, at random) misses the cache
/// once instead of twice (offsets, then text).
#[derive(Debug, Clone, Default)]
pub(crate) struct Dict {
    text: String,
    /// `ends[c]` is the end of value `c` in `text`; it starts where value `c - 1` ends.
    ends: Vec<usize>,
    /// Per code: the value's bytes then, in the last byte, its length; a length above
    /// [`SHORT_MAX`] means "read it from `text`".
    short: Vec<[u8; SHORT_MAX + 1]>,
}

impl Dict {
    /// Number of distinct values.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no value.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Value of code `c`.
    #[inline]
    pub(crate) fn get(&self, c: u32) -> &str {
        // An inline value is a whole value's UTF-8, so the check never fails.
        match self.inline_bytes(c).map(std::str::from_utf8) {
            Some(Ok(s)) => s,
            _ => self.long(c as usize),
        }
    }

    /// The bytes of value `c` (its UTF-8 text, read without validating it again).
    #[inline]
    pub(crate) fn bytes(&self, c: u32) -> &[u8] {
        self.inline_bytes(c)
            .unwrap_or_else(|| self.long(c as usize).as_bytes())
    }

    /// The bytes of value `c` if it is kept inline.
    #[inline]
    fn inline_bytes(&self, c: u32) -> Option<&[u8]> {
        let slot = &self.short[c as usize];
        let len = usize::from(slot[SHORT_MAX]);
        (len <= SHORT_MAX).then(|| &slot[..len])
    }

    /// Value of code `c`, from the text.
    #[inline(never)]
    fn long(&self, c: usize) -> &str {
        let start = if c == 0 { 0 } else { self.ends[c - 1] };
        &self.text[start..self.ends[c]]
    }

    fn push(&mut self, s: &str) -> u32 {
        let code = self.ends.len() as u32;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        let mut slot = [0u8; SHORT_MAX + 1];
        slot[SHORT_MAX] = u8::MAX;
        if s.len() <= SHORT_MAX {
            slot[..s.len()].copy_from_slice(s.as_bytes());
            slot[SHORT_MAX] = s.len() as u8;
        }
        self.short.push(slot);
        code
    }
}

/// Interns the values of one column into its [`Dict`].
///
/// Entries carry the value's code, the upper 32 bits of its hash, and where the value is in the
/// dictionary's text (so a lookup reads the table and the text, not also the dictionary's
/// offsets), and growing the table rehashes from the entry alone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    table: HashTable<Entry>,
}

/// An interning table entry; `start == u32::MAX` when the text offset does not fit in 32 bits
/// (then the value is read through the dictionary).
#[derive(Debug, Clone, Copy)]
struct Entry {
    code: u32,
    h32: u32,
    start: u32,
    len: u32,
}

/// The table hash of an entry's stored 32 hash bits (mixed so every bit range is usable).
#[inline]
fn table_hash(h32: u32) -> u64 {
    u64::from(h32)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(32)
        ^ u64::from(h32)
}

impl Interner {
    /// The code of `s` (not NULL text), adding it to `dict` if new.
    #[inline]
    pub(crate) fn intern(&mut self, dict: &mut Dict, s: &str) -> u32 {
        let h32 = (hash_bytes(s.as_bytes()) >> 32) as u32;
        let h = table_hash(h32);
        let sb = s.as_bytes();
        let found = self.table.find(h, |e| {
            e.h32 == h32
                && if e.start == u32::MAX {
                    dict.get(e.code) == s
                } else {
                    e.len as usize == sb.len()
                        && dict
                            .text
                            .as_bytes()
                            .get(e.start as usize..(e.start + e.len) as usize)
                            == Some(sb)
                }
        });
        if let Some(e) = found {
            return e.code;
        }
        let start = dict.text.len();
        let code = dict.push(s);
        let (start, len) = match (u32::try_from(start), u32::try_from(sb.len())) {
            (Ok(st), Ok(len)) if st.checked_add(len).is_some_and(|e| e < u32::MAX) => (st, len),
            _ => (u32::MAX, 0),
        };
        self.table.insert_unique(
            h,
            Entry {
                code,
                h32,
                start,
                len,
            },
            |e| table_hash(e.h32),
        );
        code
    }
}

/// One column: a dictionary plus codes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Column {
    pub(crate) codes: Vec<u32>,
    pub(crate) dict: Dict,
}

/// Most columns whose codes are also stored row-major (one cache line per record).
pub(crate) const ROW_WIDTH: usize = 16;

/// The codes of one record, one cache line: scoring a random pair reads two lines instead of
/// one per column. Slot `s` holds a `u32` code (little-endian) in bytes `4s..4s + 4`; the slots
/// after the codes are spare bytes for the caller (see [`RecordSet::spare`]).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Row(pub(crate) [u8; 4 * ROW_WIDTH]);

impl Row {
    /// The code in slot `slot` (below [`ROW_WIDTH`]: taken modulo it, which lets the compiler
    /// drop the bounds check).
    #[inline]
    fn get(&self, slot: usize) -> u32 {
        let at = 4 * (slot % ROW_WIDTH);
        let b = &self.0[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

/// An immutable set of records: ids (strictly increasing) and one [`Column`] per schema column.
#[derive(Debug, Clone)]
pub struct RecordSet {
    schema: Schema,
    ids: Vec<i64>,
    pub(crate) columns: Vec<Column>,
    /// The same codes row-major, when the schema has at most [`ROW_WIDTH`] columns (else empty):
    /// columns with a value get a slot each, in column order; columns that are NULL in every
    /// record share one always-NULL slot; the remaining slots are spare.
    rows: Vec<Row>,
    /// Row slot of each column.
    slot_of: [u8; ROW_WIDTH],
    /// First spare slot (`ROW_WIDTH` if none).
    spare_from: usize,
    /// Whether `ids` is exactly `1..=len` (then an id is found without reading `ids`).
    dense: bool,
}

impl RecordSet {
    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Record ids, in storage order (strictly increasing).
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Value of column `col` of record at position `i` (None = NULL).
    #[inline]
    pub fn value(&self, i: usize, col: usize) -> Option<&str> {
        match self.code(i, col) {
            NULL => None,
            c => Some(self.columns[col].dict.get(c)),
        }
    }

    /// The bytes of column `col` of record at position `i` (None = NULL), see [`Dict::bytes`].
    #[inline]
    pub(crate) fn bytes(&self, i: usize, col: usize) -> Option<&[u8]> {
        match self.code(i, col) {
            NULL => None,
            c => Some(self.columns[col].dict.bytes(c)),
        }
    }

    /// Id of the record at position `i`.
    #[inline]
    pub(crate) fn id(&self, i: usize) -> i64 {
        if self.dense {
            i as i64 + 1
        } else {
            self.ids[i]
        }
    }

    /// Position of the record with this id, trying `id - 1` first (without a memory read
    /// when the ids are `1..=len`).
    #[inline]
    pub(crate) fn position_fast(&self, id: i64) -> Option<usize> {
        if self.dense {
            return usize::try_from(id - 1).ok().filter(|&p| p < self.ids.len());
        }
        usize::try_from(id - 1)
            .ok()
            .filter(|&g| self.ids.get(g) == Some(&id))
            .or_else(|| self.position(id))
    }

    /// Number of spare bytes per row (see [`Self::spare`]); 0 if rows are not stored.
    pub(crate) fn spare_len(&self) -> usize {
        if self.rows.is_empty() {
            0
        } else {
            4 * (ROW_WIDTH - self.spare_from)
        }
    }

    /// Sets the spare bytes of every row: `value(i, bytes)` fills those of row `i`, for the
    /// caller's per-record data (e.g. a short text read with the row, at no extra cache miss).
    pub(crate) fn set_spare(&mut self, value: impl Fn(usize, &mut [u8]) + Sync) {
        let from = 4 * self.spare_from;
        self.rows
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, row)| value(i, &mut row.0[from..]));
    }

    /// The spare bytes of row `i` (see [`Self::set_spare`]; empty without rows).
    #[inline]
    pub(crate) fn spare(&self, i: usize) -> &[u8] {
        match self.rows.get(i) {
            Some(row) => &row.0[4 * self.spare_from..],
            None => &[],
        }
    }

    /// Prefetches the row of position `i` (see [`prefetch`]; nothing without rows).
    #[inline]
    pub(crate) fn prefetch_row(&self, i: usize) {
        if let Some(row) = self.rows.get(i) {
            prefetch(row);
        }
    }

    /// Prefetches the dictionary entry of value `code` (not [`NULL`]) of column `col`: the
    /// inline slot that [`Dict::get`] and [`Dict::bytes`] read first.
    #[inline]
    pub(crate) fn prefetch_value(&self, col: usize, code: u32) {
        if let Some(slot) = self.columns[col].dict.short.get(code as usize) {
            prefetch(slot);
        }
    }

    /// Code of column `col` of record at position `i` ([`NULL`] for NULL).
    #[inline]
    pub(crate) fn code(&self, i: usize, col: usize) -> u32 {
        // One test for "rows are stored" and "row `i` exists" (without rows, or past them, the
        // columns answer or panic).
        match self.rows.get(i) {
            Some(row) => row.get(usize::from(self.slot_of[col])),
            None => self.columns[col].codes[i],
        }
    }

    fn new(schema: Schema, ids: Vec<i64>, columns: Vec<Column>) -> Self {
        let mut rows = Vec::new();
        let mut slot_of = [0u8; ROW_WIDTH];
        let mut spare_from = ROW_WIDTH;
        if columns.len() <= ROW_WIDTH {
            // Columns with values first; the all-NULL ones share the next slot.
            let mut next = 0;
            for (c, col) in columns.iter().enumerate() {
                if !col.dict.is_empty() {
                    slot_of[c] = next as u8;
                    next += 1;
                }
            }
            if next < ROW_WIDTH {
                for (c, col) in columns.iter().enumerate() {
                    if col.dict.is_empty() {
                        slot_of[c] = next as u8;
                    }
                }
                spare_from = next + 1;
            }
            let cols: Vec<(usize, &[u32])> = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.dict.is_empty())
                .map(|(c, col)| (usize::from(slot_of[c]), col.codes.as_slice()))
                .collect();
            let null_slot = (next < ROW_WIDTH).then_some(next);
            rows = (0..ids.len())
                .into_par_iter()
                .with_min_len(1 << 12)
                .map(|i| {
                    let mut row = [0u8; 4 * ROW_WIDTH];
                    for &(slot, codes) in &cols {
                        row[4 * slot..4 * slot + 4].copy_from_slice(&codes[i].to_le_bytes());
                    }
                    if let Some(s) = null_slot {
                        row[4 * s..4 * s + 4].copy_from_slice(&NULL.to_le_bytes());
                    }
                    Row(row)
                })
                .collect();
        }
        // Ids are strictly increasing: they are 1..=n iff the first is 1 and the last is n.
        let dense = ids.first().is_none_or(|&f| f == 1)
            && ids.last().is_none_or(|&l| l == ids.len() as i64);
        Self {
            schema,
            ids,
            columns,
            rows,
            slot_of,
            spare_from,
            dense,
        }
    }

    /// Position of the record with this id.
    pub fn position(&self, id: i64) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }
}

/// Asks the CPU to bring the cache line of `x` in, without waiting for it: scoring prefetches
/// the rows and values of the pairs a few pairs ahead of the one it scores, whose reads
/// (random: a partner's row, its values' dictionary entries) then hit the cache. Loads that
/// only touched them instead (a block of pairs at a time, as before) still stalled: the CPU
/// cannot retire a load before its data arrives.
#[inline(always)]
#[allow(
    unsafe_code,
    reason = "a prefetch instruction (measured: about 10% less CPU time in prediction); see SAFETY"
)]
pub(crate) fn prefetch<T: Copy>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults (whatever the address; this one is
    // a live reference's), writes nothing and has no effect the program can observe. SSE,
    // which it needs, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast());
    }
    // Elsewhere, a load (which waits for its data, but overlaps with the next ones).
    #[cfg(not(target_arch = "x86_64"))]
    std::hint::black_box(*x);
}

/// Builds a [`RecordSet`] row by row.
#[derive(Debug)]
pub struct RecordSetBuilder {
    schema: Schema,
    ids: Vec<i64>,
    columns: Vec<Column>,
    interners: Vec<Interner>,
}

/// Whether a raw value counts as NULL for matching.
#[inline]
pub(crate) fn is_null_text(v: &str) -> bool {
    match v.as_bytes().first() {
        None => true,
        // Fast path: an ASCII first byte that is not whitespace (char::is_whitespace's ASCII
        // set is \t \n \x0B \x0C \r and space).
        Some(&b) if b < 0x80 && !matches!(b, b'\t'..=b'\r' | b' ') => false,
        Some(_) => v.chars().all(char::is_whitespace),
    }
}

impl RecordSetBuilder {
    /// A builder for records of `schema`.
    pub fn new(schema: Schema) -> Self {
        let n = schema.len();
        Self {
            schema,
            ids: Vec::new(),
            columns: vec![Column::default(); n],
            interners: vec![Interner::default(); n],
        }
    }

    /// Adds a record. `values` has one entry per schema column; `None`, empty and
    /// whitespace-only values are NULL. Ids must be strictly increasing.
    pub fn push(&mut self, id: i64, values: &[Option<&str>]) -> Result<()> {
        if values.len() != self.schema.len() {
            return Err(Error::Input(format!(
                "record {id} has {} values, the schema has {} columns",
                values.len(),
                self.schema.len()
            )));
        }
        if self.ids.last().is_some_and(|&last| last >= id) {
            return Err(Error::Input(format!(
                "record ids must be strictly increasing (got {id} after {:?})",
                self.ids.last()
            )));
        }
        self.ids.push(id);
        for (c, v) in values.iter().enumerate() {
            let code = match v {
                Some(s) if !is_null_text(s) => {
                    self.interners[c].intern(&mut self.columns[c].dict, s)
                }
                _ => NULL,
            };
            self.columns[c].codes.push(code);
        }
        Ok(())
    }

    /// Columns and interners, for interning columns in parallel.
    pub(crate) fn columns_mut(&mut self) -> impl Iterator<Item = (&mut Column, &mut Interner)> {
        self.columns.iter_mut().zip(self.interners.iter_mut())
    }

    /// Sets the ids and the codes of columns `cols` (the others are NULL) of every record at
    /// once, after interning through [`Self::columns_mut`]. Ids must be strictly increasing.
    pub(crate) fn set_codes(&mut self, ids: Vec<i64>, cols: &[usize], codes: Vec<Vec<u32>>) {
        debug_assert!(self.ids.is_empty() && ids.windows(2).all(|w| w[0] < w[1]));
        for (&c, v) in cols.iter().zip(codes) {
            debug_assert_eq!(v.len(), ids.len());
            self.columns[c].codes = v;
        }
        self.ids = ids;
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no record was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Finishes the set.
    pub fn build(mut self) -> RecordSet {
        // Columns left out by `push_codes` are NULL.
        let n = self.ids.len();
        for col in &mut self.columns {
            col.codes.resize(n, NULL);
        }
        RecordSet::new(self.schema, self.ids, self.columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_blank_values_to_null_and_interns() {
        let mut b = RecordSetBuilder::new(Schema::new(&["a", "b"]));
        b.push(1, &[Some("x"), Some("  ")]).unwrap();
        b.push(2, &[Some(" x"), None]).unwrap();
        b.push(5, &[Some("x"), Some("")]).unwrap();
        assert!(b.push(5, &[None, None]).is_err());
        assert!(b.push(6, &[None]).is_err());
        let rs = b.build();
        assert_eq!(rs.value(0, 0), Some("x"));
        assert_eq!(rs.value(1, 0), Some(" x"), "values are not trimmed");
        assert_eq!(rs.value(0, 1), None);
        assert_eq!(rs.columns[0].codes, vec![0, 1, 0]);
        assert_eq!(rs.position(5), Some(2));
    }
}
