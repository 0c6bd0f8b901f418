//! `score_csv`: person-records CSV in, pairs CSV out, in the reference harness's format.
//!
//! Reading follows `splink_peer.py --null-mode empty`: header by name, empty and
//! whitespace-only values are NULL, exact-duplicate rows (after that normalisation) are
//! dropped, and ids are 1-based row numbers after dropping. Every record counts as new, so
//! match keys use [`MatchKeyMode::Reference`] numbering like the splink-reference files.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hashbrown::HashTable;
use rayon::prelude::*;
use serde::Serialize;

use crate::csv_split::BatchReader;
use crate::error::{Error, Result};
use crate::float_fmt::{G17_MAX, U64_MAX_LEN, put_g17, put_i64, put_u64};
use crate::functions::FunctionRegistry;
use crate::model::Model;
use crate::predict::{MatchKeyMode, PredictOptions, ScoredPair};
use crate::records::{NULL, ROW_WIDTH, RecordSet, RecordSetBuilder, is_null_text};
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
    /// The functions the settings may call (built-ins, plus loaded plugins' in `idem score`).
    pub functions: Arc<FunctionRegistry>,
}

impl ScoreCsvOptions {
    /// Options with threshold 0, no explain columns and the built-in functions.
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
            functions: Arc::new(FunctionRegistry::with_builtins()),
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
    /// Wall-clock seconds of the prediction phase, `tf + index + scoring` (what Splink's
    /// `predict()` does, plus formatting and writing the pairs, which Splink does not).
    pub predict_seconds: f64,
    /// CPU seconds (all threads) of reading the CSV (`None` where `/proc/self/stat` is not
    /// readable).
    pub load_cpu_seconds: Option<f64>,
    /// CPU seconds (all threads) of the prediction phase (see `predict_seconds`).
    pub predict_cpu_seconds: Option<f64>,
}

/// CPU time (user + system, all threads) of this process so far, from `/proc/self/stat`
/// (Linux; None elsewhere). Its unit, USER_HZ, is 100 on every Linux platform.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with field 3 (`state`);
    // utime and stime are fields 14 and 15.
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
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
    let (rdr, map) = open_records_csv(path, schema)?;
    let (rs, rows, dropped, _) = load_records(rdr, &map, schema, &vec![true; schema.len()])?;
    Ok((rs, rows, dropped))
}

/// Opens the CSV and maps each schema column to its CSV field index; returns a parallel
/// reader of the records after the header and the file's size in bytes (0 if unknown), to
/// size the deduplication table.
fn open_records_csv(path: &Path, schema: &Schema) -> Result<((BatchReader, u64), Vec<usize>)> {
    let file = File::open(path).map_err(io_err(path))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::new(file));
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
    // The records after the header are cut into pieces parsed in parallel.
    let data_start = rdr.position().byte();
    let reader = BatchReader::open(path, data_start, headers.len())?;
    Ok(((reader, size), map))
}

/// Per-batch packing of the columns that are not kept: one key per row, per column a 0 byte
/// for NULL, else a 1 byte, the value's length (`u32`, little-endian) and the value; plus the
/// key's hash.
#[derive(Default)]
struct RestBatch {
    text: Vec<u8>,
    ends: Vec<usize>,
    hashes: Vec<u64>,
}

impl RestBatch {
    fn fill(&mut self, batch: &[Vec<csv::StringRecord>], srcs: &[usize]) {
        self.text.clear();
        self.ends.clear();
        self.hashes.clear();
        for rec in batch.iter().flatten() {
            let start = self.text.len();
            for &src in srcs {
                match rec.get(src).filter(|v| !is_null_text(v)) {
                    None => self.text.push(0),
                    Some(v) => {
                        self.text.push(1);
                        let len = u32::try_from(v.len()).expect("a CSV field is < 4 GiB");
                        self.text.extend_from_slice(&len.to_le_bytes());
                        self.text.extend_from_slice(v.as_bytes());
                    }
                }
            }
            self.ends.push(self.text.len());
            self.hashes
                .push(crate::records::hash_bytes(&self.text[start..]));
        }
    }

    fn get(&self, r: usize) -> &[u8] {
        let start = if r == 0 { 0 } else { self.ends[r - 1] };
        &self.text[start..self.ends[r]]
    }
}

/// The packed keys (see [`RestBatch`]) of the columns not kept, per kept record.
#[derive(Default)]
struct RestKeys {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl RestKeys {
    fn get(&self, p: usize) -> &[u8] {
        let start = if p == 0 { 0 } else { self.ends[p - 1] };
        &self.text[start..self.ends[p]]
    }

    /// Field `k` (among the columns not kept, in column order) of record `p`; None for NULL.
    fn field(&self, p: usize, k: usize) -> Option<&str> {
        self.field_in(self.get(p), k).map(|(v, _)| v)
    }

    /// Offset in `text` of field `k` of record `p` (for [`Self::field_at`]); None for NULL.
    fn field_offset(&self, p: usize, k: usize) -> Option<usize> {
        let start = if p == 0 { 0 } else { self.ends[p - 1] };
        self.field_in(self.get(p), k).map(|(_, off)| start + off)
    }

    /// The (not NULL) field starting at `offset` in `text`.
    #[inline]
    fn field_at(&self, offset: usize) -> Option<&str> {
        self.field_in(self.text.get(offset..)?, 0).map(|(v, _)| v)
    }

    /// Field `k` of a packed key and its offset in the key; None for NULL.
    fn field_in<'t>(&self, key: &'t [u8], k: usize) -> Option<(&'t str, usize)> {
        let whole = key.len();
        let mut key = key;
        let mut i = 0;
        loop {
            let off = whole - key.len();
            let (&tag, rest) = key.split_first()?;
            let (val, rest) = if tag == 0 {
                (None, rest)
            } else {
                let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
                let (v, rest) = rest.get(4..)?.split_at_checked(len)?;
                (Some(v), rest)
            };
            if i == k {
                return val
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .map(|v| (v, off));
            }
            key = rest;
            i += 1;
        }
    }
}

/// Reads the records: columns with `keep[c]` are interned; the others are only used to drop
/// exact duplicates (and returned packed per record) and are left NULL in the result.
fn load_records(
    (mut rdr, size): (BatchReader, u64),
    map: &[usize],
    schema: &Schema,
    keep: &[bool],
) -> Result<(RecordSet, u64, u64, RestKeys)> {
    let mut builder = RecordSetBuilder::new(schema.clone());
    let rest_srcs: Vec<usize> = (0..map.len())
        .filter(|&c| !keep[c])
        .map(|c| map[c])
        .collect();
    // Row deduplication: (record position, upper hash bits), hashed by kept codes and rest key.
    let mut seen: HashTable<(u32, u32)> = HashTable::new();
    // Rest keys of the records kept so far.
    let mut kept_rest = RestKeys::default();
    let (mut rows, mut dropped) = (0u64, 0u64);
    // Only kept columns have codes (the others are NULL in every record).
    let kept: Vec<usize> = (0..map.len()).filter(|&c| keep[c]).collect();
    // Ids and kept columns' codes of the records kept so far.
    let mut ids: Vec<i64> = Vec::new();
    let mut out_codes: Vec<Vec<u32>> = vec![Vec::new(); kept.len()];
    fn row_hash(codes: impl Iterator<Item = u32>, rest: u64) -> u64 {
        let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
        for c in codes {
            h.write_u32(c);
        }
        h.write_u64(rest);
        h.finish()
    }
    let table_hash = |h32: u32| -> u64 {
        u64::from(h32)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(32)
            ^ u64::from(h32)
    };
    std::thread::scope(|scope| -> Result<()> {
        // A reader thread reads batches of records (recycled through `back`), parsing each
        // batch's pieces in parallel; the calling thread interns them column-parallel and
        // deduplicates.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch>>(2);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Batch>();
        scope.spawn(move || {
            loop {
                let mut batch = back_rx.try_recv().unwrap_or_default();
                match rdr.next_batch(&mut batch) {
                    Ok(true) => {
                        if tx.send(Ok(batch)).is_err() {
                            return;
                        }
                    }
                    Ok(false) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        // Batch k is deduplicated while batch k + 1 is interned (double-buffered codes and
        // packed rest columns), so deduplication, which is serial, overlaps with other work.
        let mut codes: Vec<Vec<u32>> = vec![Vec::new(); map.len()];
        let mut prev_codes: Vec<Vec<u32>> = vec![Vec::new(); map.len()];
        let (mut rest, mut prev_rest) = (RestBatch::default(), RestBatch::default());
        let mut have_prev = false;
        let dedup = |codes: &[Vec<u32>],
                     rest: &RestBatch,
                     seen: &mut HashTable<(u32, u32)>,
                     kept_rest: &mut RestKeys,
                     ids: &mut Vec<i64>,
                     out: &mut [Vec<u32>],
                     rows: &mut u64,
                     dropped: &mut u64| {
            for (r, &rest_hash) in rest.hashes.iter().enumerate() {
                *rows += 1;
                let h = row_hash(kept.iter().map(|&c| codes[c][r]), rest_hash);
                let h32 = (h >> 32) as u32;
                let (rest_r, kr, o) = (rest.get(r), &*kept_rest, &*out);
                if seen
                    .find(table_hash(h32), |&(pos, hc)| {
                        let pos = pos as usize;
                        hc == h32
                            && kept.iter().zip(o).all(|(&c, col)| col[pos] == codes[c][r])
                            && kr.get(pos) == rest_r
                    })
                    .is_some()
                {
                    *dropped += 1;
                    continue;
                }
                let pos = ids.len() as u32;
                ids.push(*rows as i64 - *dropped as i64);
                for (&c, col) in kept.iter().zip(out.iter_mut()) {
                    col.push(codes[c][r]);
                }
                kept_rest.text.extend_from_slice(rest_r);
                kept_rest.ends.push(kept_rest.text.len());
                seen.insert_unique(table_hash(h32), (pos, h32), |&(_, hc)| table_hash(hc));
            }
        };
        let mut first = true;
        for batch in rx {
            let batch = batch?;
            let records = batch.iter().map(Vec::len).sum::<usize>();
            if first && records > 0 {
                first = false;
                // Reserve the deduplication table for the rows the file likely has (growing
                // it rehashes every entry, with a cache miss each).
                let bytes: usize = batch
                    .iter()
                    .flatten()
                    .map(|r| r.as_slice().len() + r.len())
                    .sum();
                let est = size as f64 * records as f64 / bytes.max(1) as f64;
                seen.reserve((est * 1.05).min(1e9) as usize, |&(_, hc)| table_hash(hc));
            }
            let mut work: Vec<_> = builder
                .columns_mut()
                .zip(codes.iter_mut())
                .zip(map.iter().zip(keep))
                .collect();
            rayon::join(
                || {
                    rayon::join(
                        || {
                            work.par_iter_mut().with_max_len(1).for_each(
                                |(((col, interner), out), (src, keep))| {
                                    out.clear();
                                    if !**keep {
                                        return;
                                    }
                                    for rec in batch.iter().flatten() {
                                        out.push(
                                            match rec.get(**src).filter(|v| !is_null_text(v)) {
                                                Some(v) => interner.intern(&mut col.dict, v),
                                                None => NULL,
                                            },
                                        );
                                    }
                                },
                            )
                        },
                        || rest.fill(&batch, &rest_srcs),
                    )
                },
                || {
                    if have_prev {
                        dedup(
                            &prev_codes,
                            &prev_rest,
                            &mut seen,
                            &mut kept_rest,
                            &mut ids,
                            &mut out_codes,
                            &mut rows,
                            &mut dropped,
                        );
                    }
                },
            );
            drop(work);
            let _ = back_tx.send(batch);
            std::mem::swap(&mut codes, &mut prev_codes);
            std::mem::swap(&mut rest, &mut prev_rest);
            have_prev = true;
        }
        if have_prev {
            dedup(
                &prev_codes,
                &prev_rest,
                &mut seen,
                &mut kept_rest,
                &mut ids,
                &mut out_codes,
                &mut rows,
                &mut dropped,
            );
        }
        Ok(())
    })?;
    builder.set_codes(ids, &kept, out_codes);
    Ok((builder.build(), rows, dropped, kept_rest))
}

/// How a record's source_person_id is kept in the spare bytes of its row (first byte).
#[derive(Clone, Copy)]
enum SpidTag {
    /// NULL.
    Null = 0,
    /// Length in the second byte, then the text as a CSV field (quoted if it needs to be):
    /// written as is, without looking for characters to quote once per pair.
    Inline = 1,
    /// Too long: a `u32` (little-endian) offset of the field in the packed keys.
    Offset = 2,
    /// Only in the packed keys, read by field number.
    Packed = 3,
}

/// A batch of parsed records, per piece of the file (see [`BatchReader`]).
type Batch = Vec<Vec<csv::StringRecord>>;

/// Scores a person-records CSV with a Splink settings JSON and writes the pairs CSV
/// (`source_person_id_l,source_person_id_r,match_weight,match_probability,id_l,id_r,match_key`
/// then, with `explain`, the per-comparison columns). Floats are written like `"%.17g"`.
pub fn score_csv(opts: &ScoreCsvOptions) -> Result<ScoreSummary> {
    let start = Instant::now();
    let schema = Schema::person_record();
    let mut summary = ScoreSummary::default();

    let t = Instant::now();
    let json = std::fs::read_to_string(&opts.settings).map_err(io_err(&opts.settings))?;
    let model = Model::from_json(&json, &schema, &opts.functions)?;
    summary.compile_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let cpu0 = process_cpu_seconds();
    // Only the columns the model reads are interned; the others only take part in dropping
    // exact duplicates (and source_person_id is read back from its packed key for the output).
    let spid = schema
        .index_of("source_person_id")
        .expect("person-record schema has source_person_id");
    let keep = model.used_columns();
    let (rdr, map) = open_records_csv(&opts.csv, &schema)?;
    let (mut records, rows, dropped, rest) = load_records(rdr, &map, &schema, &keep)?;
    // Where source_person_id is: interned, or field `k` of the packed keys.
    let spid_field = (!keep[spid]).then(|| keep[..spid].iter().filter(|k| !**k).count());
    // If possible, each record's row also holds its source_person_id (see `SpidTag`), so
    // writing a pair reads no other memory than the pair's rows.
    let spid_in_rows = spid_field.is_some() && records.spare_len() >= 5;
    if let (true, Some(k)) = (spid_in_rows, spid_field) {
        records.set_spare(|i, spare| {
            let v = rest.field(i, k);
            let offset = || rest.field_offset(i, k).and_then(|o| u32::try_from(o).ok());
            let mut field = [0u8; 2 * 4 * ROW_WIDTH + 2];
            match v {
                None => spare[0] = SpidTag::Null as u8,
                Some(v)
                    if v.len() + 2 <= spare.len()
                        && let n = put_csv_field(&mut field, v.as_bytes())
                        && n + 2 <= spare.len() =>
                {
                    spare[0] = SpidTag::Inline as u8;
                    spare[1] = n as u8;
                    spare[2..2 + n].copy_from_slice(&field[..n]);
                }
                Some(_) => match offset() {
                    Some(o) => {
                        spare[0] = SpidTag::Offset as u8;
                        spare[1..5].copy_from_slice(&o.to_le_bytes());
                    }
                    None => spare[0] = SpidTag::Packed as u8,
                },
            }
        });
    }
    summary.load_seconds = t.elapsed().as_secs_f64();
    let cpu1 = process_cpu_seconds();
    summary.load_cpu_seconds = cpu0.zip(cpu1).map(|(a, b)| b - a);
    summary.rows_read = rows;
    summary.exact_duplicates_dropped = dropped;
    summary.records = records.len() as u64;

    // Lines are written a chunk (hundreds of KB) at a time: no buffering besides the chunks.
    let mut out = File::create(&opts.out).map_err(io_err(&opts.out))?;
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
    // Pairs are formatted on the worker threads that scored them; this thread only writes.
    let name = |id: i64| -> Name<'_> {
        let pos = records.position_fast(id);
        match spid_field {
            None => Name::text(pos.and_then(|i| records.value(i, spid))),
            Some(k) if spid_in_rows => pos.map_or(Name::Text(b""), |i| {
                let spare = records.spare(i);
                match spare[0] {
                    t if t == SpidTag::Inline as u8 => {
                        Name::Field(spare.get(2..2 + usize::from(spare[1])).unwrap_or(b""))
                    }
                    t if t == SpidTag::Offset as u8 => {
                        let o = u32::from_le_bytes([spare[1], spare[2], spare[3], spare[4]]);
                        Name::text(rest.field_at(o as usize))
                    }
                    t if t == SpidTag::Packed as u8 => Name::text(rest.field(i, k)),
                    _ => Name::Text(b""),
                }
            }),
            Some(k) => Name::text(pos.and_then(|i| rest.field(i, k))),
        }
    };
    // Chunks' buffers, returned by the sink once written: a few dozen are in flight at a time.
    let pool: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let stats = model.predict_mapped(
        &records,
        &popts,
        |text: &mut Lines, p| {
            if text.bytes.is_empty() {
                let reused = pool.lock().expect("no panic holds the pool").pop();
                text.bytes = reused.unwrap_or_else(|| vec![0; popts.chunk_pairs * 128]);
            }
            write_line(text, &p, &name, &has_tf);
        },
        |text| {
            out.write_all(&text.bytes[..text.len])
                .map_err(io_err(&opts.out))?;
            pool.lock()
                .expect("no panic holds the pool")
                .push(text.bytes);
            Ok(())
        },
    )?;
    summary.predict_cpu_seconds = cpu1.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    summary.candidate_pairs = stats.candidate_pairs;
    summary.pairs_written = stats.pairs_emitted;
    summary.tf_seconds = stats.tf_seconds;
    summary.index_seconds = stats.index_seconds;
    summary.scoring_seconds = stats.scoring_seconds;
    summary.predict_seconds = stats.tf_seconds + stats.index_seconds + stats.scoring_seconds;
    summary.total_seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// A chunk's output lines: `bytes[..len]`. The bytes past `len` are initialised too (zeros or
/// earlier lines of a recycled buffer), so each field is written in place at its offset
/// instead of appended (no capacity check and copy per field); the buffer grows, zero-filled,
/// only when a line might not fit.
#[derive(Default)]
struct Lines {
    bytes: Vec<u8>,
    len: usize,
}

impl Lines {
    /// The next `room` bytes after the text, growing the buffer if needed.
    fn room(&mut self, room: usize) -> &mut [u8] {
        let end = self.len + room;
        if self.bytes.len() < end {
            self.bytes.resize(end.max(2 * self.bytes.len()), 0);
        }
        &mut self.bytes[self.len..end]
    }
}

/// A record's source_person_id, for [`write_line`].
#[derive(Clone, Copy)]
enum Name<'a> {
    /// The text, to be written as a CSV field.
    Text(&'a [u8]),
    /// Already a CSV field (see [`SpidTag::Inline`]).
    Field(&'a [u8]),
}

impl<'a> Name<'a> {
    /// A text (empty for NULL).
    fn text(v: Option<&'a str>) -> Self {
        Name::Text(v.map_or(b"", str::as_bytes))
    }

    /// The most bytes [`Self::put`] writes.
    fn room(self) -> usize {
        match self {
            Name::Text(s) => 2 * s.len() + 2,
            Name::Field(s) => s.len(),
        }
    }

    /// Writes the CSV field at the start of `dst` (at least [`Self::room`] bytes) and returns
    /// its length.
    fn put(self, dst: &mut [u8]) -> usize {
        match self {
            Name::Text(s) => put_csv_field(dst, s),
            Name::Field(s) => {
                dst[..s.len()].copy_from_slice(s);
                s.len()
            }
        }
    }
}

/// Writes `s` as a CSV field at the start of `dst` (at least `2 * s.len() + 2` bytes) and
/// returns its length.
fn put_csv_field(dst: &mut [u8], s: &[u8]) -> usize {
    if !s.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        dst[..s.len()].copy_from_slice(s);
        return s.len();
    }
    let mut n = 0;
    let mut put = |b: u8| {
        dst[n] = b;
        n += 1;
    };
    put(b'"');
    for &b in s {
        if b == b'"' {
            put(b'"');
        }
        put(b);
    }
    put(b'"');
    n
}

/// Appends one output line for `p` to `lines`.
fn write_line<'a>(
    lines: &mut Lines,
    p: &ScoredPair,
    name: &impl Fn(i64) -> Name<'a>,
    has_tf: &[bool],
) {
    let (name_l, name_r) = (name(p.id_l), name(p.id_r));
    // The longest the line can be: names, numbers at their longest, separators.
    let room = name_l.room()
        + name_r.room()
        + 2 * G17_MAX
        + 3 * (U64_MAX_LEN + 1)
        + 7
        + p.explain.len() * 4 * (G17_MAX + 1);
    let line = lines.room(room);
    let mut n = name_l.put(line);
    line[n] = b',';
    n += 1;
    n += name_r.put(&mut line[n..]);
    line[n] = b',';
    n += 1;
    n += put_g17(&mut line[n..], p.match_weight);
    line[n] = b',';
    n += 1;
    n += put_g17(&mut line[n..], p.match_probability);
    line[n] = b',';
    n += 1;
    n += put_i64(&mut line[n..], p.id_l);
    line[n] = b',';
    n += 1;
    n += put_i64(&mut line[n..], p.id_r);
    line[n] = b',';
    n += 1;
    n += put_u64(&mut line[n..], u64::from(p.match_key));
    for (e, tf) in p.explain.iter().zip(has_tf) {
        if *tf {
            for v in [e.tf_l, e.tf_r] {
                line[n] = b',';
                n += 1;
                if let Some(v) = v {
                    n += put_g17(&mut line[n..], v);
                }
            }
        }
        line[n] = b',';
        n += 1;
        n += put_g17(&mut line[n..], e.bayes_factor);
        if *tf {
            line[n] = b',';
            n += 1;
            n += put_g17(&mut line[n..], e.tf_adjustment_bayes_factor);
        }
    }
    line[n] = b'\n';
    lines.len += n + 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_exact_duplicates_with_and_without_kept_columns() {
        let dir = std::env::temp_dir().join(format!("idem-csv-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dups.csv");
        let schema = Schema::person_record();
        let header = schema.columns().join(",");
        let row = |name: &str, phone: &str| {
            schema
                .columns()
                .iter()
                .map(|c| match c.as_str() {
                    "first_name" => name.to_string(),
                    "phone" => phone.to_string(),
                    "source_person_id" => "p".to_string(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let lines = [
            header,
            row("ann", "1"),
            row("ann", "1"),
            row("ann", "2"),
            row("ann", " "),
            row("ann", ""),
            row("bob", "1"),
            row("ann", "2"),
        ];
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let (all, rows, dropped) = read_records_csv(&path, &schema).unwrap();
        assert_eq!((rows, dropped, all.len()), (7, 3, 4));
        let mut keep = vec![false; schema.len()];
        keep[schema.index_of("first_name").unwrap()] = true;
        let (rdr, map) = open_records_csv(&path, &schema).unwrap();
        let (some, rows2, dropped2, rest) = load_records(rdr, &map, &schema, &keep).unwrap();
        assert_eq!((rows2, dropped2), (rows, dropped));
        assert_eq!(some.ids(), all.ids());
        let fname = schema.index_of("first_name").unwrap();
        let phone = schema.index_of("phone").unwrap();
        for i in 0..all.len() {
            assert_eq!(some.value(i, fname), all.value(i, fname));
            assert_eq!(some.value(i, phone), None, "columns not kept are NULL");
            let k = phone - 1; // first_name (kept) comes before phone
            assert_eq!(rest.field(i, k), all.value(i, phone));
            assert_eq!(rest.field(i, 1), all.value(i, 1));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
