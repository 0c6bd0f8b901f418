//! Parallel CSV reading: the byte stream is cut at record boundaries into pieces that rayon
//! parses concurrently with the `csv` crate, so parsing is no longer one thread's work.
//!
//! Finding a boundary does not need a parse: [`Splitter`] follows the `csv` crate's quoting
//! state machine (default dialect: `,` delimiter, `"` quotes doubled to escape, CR, LF or CRLF
//! terminators) byte by byte, and only an LF outside a quoted field ends a record. Cutting
//! right after such an LF leaves the next piece in the same state the whole-file parser would
//! be in (start of a record), so the pieces parse to exactly the records of the whole file.
//! Pieces without any quote, the common case, are cut with `memchr` alone.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Where the `csv` crate's reader would be, as far as record boundaries are concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// At the start of a field (or of a record): a `"` here opens a quoted field.
    #[default]
    FieldStart,
    /// Inside an unquoted field (a `"` here is a literal character).
    InField,
    /// Inside a quoted field (delimiters and terminators are literal).
    Quoted,
    /// Just after a `"` inside a quoted field: a second `"` is an escaped quote, anything
    /// else closes the field.
    QuoteInQuoted,
}

/// Finds record boundaries in a CSV byte stream fed to it in order.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    state: State,
}

impl Splitter {
    /// Scans `bytes` (the bytes right after those of the previous calls) and returns the offset
    /// just after the last LF in `bytes` that ends a record, if any.
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let &last = bytes.last()?;
        if matches!(self.state, State::FieldStart | State::InField)
            && memchr::memchr(b'"', bytes).is_none()
        {
            // No quote: every LF ends a record, and the state only depends on the last byte.
            self.state = if matches!(last, b',' | b'\r' | b'\n') {
                State::FieldStart
            } else {
                State::InField
            };
            return memchr::memrchr(b'\n', bytes).map(|i| i + 1);
        }
        let mut end = None;
        for (i, &b) in bytes.iter().enumerate() {
            self.state = match (self.state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::FieldStart, b'"') | (State::QuoteInQuoted, b'"') => State::Quoted,
                (_, b',' | b'\r') => State::FieldStart,
                (_, b'\n') => {
                    end = Some(i + 1);
                    State::FieldStart
                }
                _ => State::InField,
            };
        }
        end
    }
}

/// Target size of one piece parsed by one task.
const PIECE_BYTES: usize = 256 << 10;
/// Pieces per batch handed to the interner (about 20k records of person data).
const PIECES_PER_BATCH: usize = 8;

/// Reads the data records of a CSV file (from byte `offset`, just after the header) in
/// batches, each parsed in parallel: `batch` receives every batch's records (per piece, in
/// file order; the vectors are reused between calls). Every record must have `width` fields.
pub(crate) struct BatchReader {
    path: std::path::PathBuf,
    file: File,
    splitter: Splitter,
    width: usize,
    /// Bytes read but not yet handed out (the start of an unfinished record).
    carry: Vec<u8>,
    /// How many bytes of `carry` were already scanned.
    scanned: usize,
    /// File offset of `carry[0]`.
    carry_offset: u64,
    /// Pieces of the batch being built (reused).
    pieces: Vec<(u64, Vec<u8>)>,
    eof: bool,
}

impl BatchReader {
    /// A reader of `path`'s records from byte `offset` on.
    pub(crate) fn open(path: &Path, offset: u64, width: usize) -> Result<Self> {
        use std::io::Seek;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        file.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            splitter: Splitter::default(),
            width,
            carry: Vec::new(),
            scanned: 0,
            carry_offset: offset,
            pieces: Vec::new(),
            eof: false,
        })
    }

    /// The next piece: whole records, about [`PIECE_BYTES`] long; None at the end.
    fn next_piece(&mut self, mut buf: Vec<u8>) -> Result<Option<(u64, Vec<u8>)>> {
        let mut boundary = None;
        loop {
            if !self.eof && (self.carry.len() < PIECE_BYTES || boundary.is_none()) {
                let old = self.carry.len();
                self.carry.resize(old + PIECE_BYTES, 0);
                let n = read_full(&mut self.file, &mut self.carry[old..]).map_err(|source| {
                    Error::Io {
                        path: self.path.clone(),
                        source,
                    }
                })?;
                self.carry.truncate(old + n);
                self.eof = n == 0;
                if let Some(b) = self.splitter.scan(&self.carry[self.scanned..]) {
                    boundary = Some(self.scanned + b);
                }
                self.scanned = self.carry.len();
                if !self.eof {
                    continue;
                }
            }
            // Cut at the last boundary (or take everything at the end of the file).
            let cut = if self.eof {
                self.carry.len()
            } else {
                boundary.expect("looped until a boundary was found")
            };
            if cut == 0 {
                return Ok(None);
            }
            buf.clear();
            buf.extend_from_slice(&self.carry[..cut]);
            self.carry.drain(..cut);
            self.scanned -= cut;
            let at = self.carry_offset;
            self.carry_offset += cut as u64;
            return Ok(Some((at, buf)));
        }
    }

    /// Reads the next batch into `batch` (one vector of records per piece); false at the end.
    pub(crate) fn next_batch(&mut self, batch: &mut Vec<Vec<csv::StringRecord>>) -> Result<bool> {
        let mut old = std::mem::take(&mut self.pieces);
        let mut pieces = Vec::with_capacity(PIECES_PER_BATCH);
        while pieces.len() < PIECES_PER_BATCH {
            match self.next_piece(old.pop().map(|p| p.1).unwrap_or_default())? {
                Some(p) => pieces.push(p),
                None => break,
            }
        }
        if pieces.is_empty() {
            return Ok(false);
        }
        batch.resize_with(pieces.len(), Vec::new);
        batch.truncate(pieces.len());
        let (path, width) = (&self.path, self.width);
        pieces
            .par_iter()
            .zip(batch.par_iter_mut())
            .with_max_len(1)
            .try_for_each(|((at, bytes), recs)| parse_piece(path, *at, bytes, width, recs))?;
        self.pieces = pieces;
        Ok(true)
    }
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Parses one piece (starting at file offset `at`) into `recs`, reusing its records.
fn parse_piece(
    path: &Path,
    at: u64,
    bytes: &[u8],
    width: usize,
    recs: &mut Vec<csv::StringRecord>,
) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut n = 0;
    loop {
        if recs.len() == n {
            recs.push(csv::StringRecord::new());
        }
        let start = rdr.position().byte();
        let rec = &mut recs[n];
        let more = rdr.read_record(rec).map_err(|e| {
            Error::Input(format!(
                "{}: bad CSV record at byte {}: {e}",
                path.display(),
                at + start
            ))
        })?;
        if !more {
            break;
        }
        if rec.len() != width {
            return Err(Error::Input(format!(
                "{}: the record at byte {} has {} fields, the header has {width}",
                path.display(),
                at + start,
                rec.len()
            )));
        }
        n += 1;
    }
    recs.truncate(n);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cuts `data` at every boundary the splitter reports, feeding it in `step`-byte slices.
    fn cuts(data: &[u8], step: usize) -> Vec<usize> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        let mut at = 0;
        for chunk in data.chunks(step) {
            // Report every boundary: scan byte by byte inside the chunk.
            for (i, b) in chunk.chunks(1).enumerate() {
                if let Some(e) = s.scan(b) {
                    out.push(at + i + e);
                }
            }
            at += chunk.len();
        }
        out
    }

    #[test]
    fn finds_only_record_ending_line_feeds() {
        let data = b"a,\"x\ny\",c\n\"q\"\"\n\",2\r\nab\"c,\"d\n1\",\"\"\n";
        // Boundaries after `c\n` (10) and `2\r\n` (20); in `ab"c,"d\n1",""\n` the first quote
        // is literal (inside a field), the second opens a quoted field holding the LF, and
        // `""` is an empty quoted field whose LF ends the record.
        let got = cuts(data, 3);
        assert_eq!(got, vec![10, 20, data.len()]);
        // The fast path (no quote in the slice) agrees with the byte loop.
        let plain = b"a,b\nc,d\r\ne,f";
        let mut s = Splitter::default();
        assert_eq!(s.scan(plain), Some(9));
        assert_eq!(s.state, State::InField);
        assert_eq!(s.scan(b","), None);
        assert_eq!(s.state, State::FieldStart);
        assert_eq!(
            s.scan(b"\"x\ny"),
            None,
            "an opening quote after a delimiter"
        );
        assert_eq!(s.scan(b"\"\n"), Some(2));
    }

    #[test]
    fn reads_the_same_records_as_one_csv_reader() {
        // Many records with quoted fields, embedded newlines, escaped quotes, CRLF, blank lines
        // and literal quotes inside unquoted fields, spread over several pieces.
        let mut text = String::new();
        for i in 0..150_000 {
            match i % 7 {
                0 => text.push_str(&format!("\"multi\nline {i}\",\"say \"\"hi\"\"\",x\n")),
                1 => text.push_str(&format!("5'6\" {i},b,c\r\n")),
                2 => text.push_str(&format!("{i},,\n\n")),
                3 => text.push_str(&format!("\"a,b\",{i},\"\"\n")),
                _ => text.push_str(&format!("plain {i},value,{}\n", i * 3)),
            }
        }
        text.push_str("last,no,newline");
        let dir = std::env::temp_dir().join(format!("idem-csv-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pieces.csv");
        std::fs::write(&path, &text).unwrap();
        let expected: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap())
            .collect();
        let mut reader = BatchReader::open(&path, 0, 3).unwrap();
        let mut batch = Vec::new();
        let mut got = Vec::new();
        let mut batches = 0;
        while reader.next_batch(&mut batch).unwrap() {
            batches += 1;
            got.extend(batch.iter().flatten().cloned());
        }
        assert!(batches > 1, "the file spans several batches");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "same records, in the same order");

        std::fs::write(&path, "a,b,c\nd,e\n").unwrap();
        let err = BatchReader::open(&path, 0, 3)
            .unwrap()
            .next_batch(&mut batch)
            .unwrap_err();
        assert!(
            err.to_string().contains("record at byte 6 has 2 fields"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
