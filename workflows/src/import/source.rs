//! Reading an import source as CSV records: decompression by extension, the header check (columns by
//! name, in any order) and the mapping of each row to the 15 record fields.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::MultiGzDecoder;
use idem_empi::RECORD_FIELDS;

use super::csv::{CsvError, CsvReader, Record};
use crate::error::{Error, Result};
use crate::storage::{Location, Reader};

/// Counts the bytes read from the source (before decompression), for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A row: its line and its 15 fields (`None` = NULL), in record-field order.
pub(crate) type Row<'a> = (u64, [Option<&'a str>; 15]);

/// A CSV reader over a source, on a blocking thread, with the header checked.
pub(crate) struct SourceRows {
    csv: CsvReader<Box<dyn BufRead + Send>>,
    location: Location,
    /// For each of the 15 record fields, its column in the file.
    map: [usize; 15],
    record: Record,
}

impl SourceRows {
    /// Wraps an async source for blocking reads (call from `spawn_blocking`), decompressing `.gz`
    /// names, and checks the header.
    pub(crate) fn open(
        reader: Reader,
        location: &Location,
        handle: tokio::runtime::Handle,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<Self> {
        let sync = tokio_util::io::SyncIoBridge::new_with_handle(reader, handle);
        let counted = BufReader::with_capacity(
            1 << 20,
            Counting {
                inner: sync,
                read: bytes_read,
            },
        );
        let inner: Box<dyn BufRead + Send> = if location.is_gzip() {
            Box::new(BufReader::with_capacity(
                1 << 20,
                MultiGzDecoder::new(counted),
            ))
        } else {
            Box::new(counted)
        };
        let mut csv = CsvReader::new(inner);
        let mut record = Record::default();
        let has_header = csv
            .read(&mut record)
            .map_err(|e| input_error(e, location))?;
        if !has_header {
            return Err(Error::Input(format!(
                "Incorrectly formatted person records file: {location} is empty (it needs a header line)"
            )));
        }
        let map = header_map(&record)?;
        Ok(Self {
            csv,
            location: location.clone(),
            map,
            record,
        })
    }

    /// Reads the next row as its 15 fields (`None` = NULL) and its line; `None` at the end.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row<'_>>> {
        let location = &self.location;
        if !self
            .csv
            .read(&mut self.record)
            .map_err(|e| input_error(e, location))?
        {
            return Ok(None);
        }
        let line = self.record.line();
        if self.record.len() != 15 {
            return Err(Error::Input(format!(
                "Incorrectly formatted person records file: line {line} has {} fields, the header has 15",
                self.record.len()
            )));
        }
        let mut fields: [Option<&str>; 15] = [None; 15];
        for (i, &column) in self.map.iter().enumerate() {
            let Some(bytes) = self.record.get(column) else {
                if i < 2 {
                    return Err(Error::Input(format!(
                        "Incorrectly formatted person records file: line {line}: {} is empty (it is required)",
                        RECORD_FIELDS[i]
                    )));
                }
                continue;
            };
            let text = std::str::from_utf8(bytes).map_err(|_| {
                Error::Input(format!(
                    "Incorrectly formatted person records file: line {line}: {} is not valid UTF-8",
                    RECORD_FIELDS[i]
                ))
            })?;
            if text.contains('\0') {
                return Err(Error::Input(format!(
                    "Incorrectly formatted person records file: line {line}: {} contains a NUL character",
                    RECORD_FIELDS[i]
                )));
            }
            fields[i] = Some(text);
        }
        Ok(Some((line, fields)))
    }
}

/// A CSV error as a step error: a malformed file is permanent, a failing read may pass.
fn input_error(e: CsvError, location: &Location) -> Error {
    match e {
        CsvError::Io {
            kind: std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput,
            ..
        } => {
            if location.is_gzip() {
                Error::Input(format!(
                    "Incorrectly formatted person records file: {location} is not valid gzip: {e}"
                ))
            } else {
                Error::Input(format!("Incorrectly formatted person records file: {e}"))
            }
        }
        CsvError::Io { .. } => Error::Io {
            context: format!("reading {location}"),
            source: std::io::Error::other(e.to_string()),
        },
        _ => Error::Input(format!("Incorrectly formatted person records file: {e}")),
    }
}

/// Maps the header to the 15 record fields by name (case-insensitive, surrounding spaces ignored).
/// Missing, unknown and repeated columns are all named in one error.
pub(crate) fn header_map(header: &Record) -> Result<[usize; 15]> {
    let names: Vec<String> = (0..header.len())
        .map(|i| {
            header
                .get(i)
                .map(|b| String::from_utf8_lossy(b).trim().to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect();
    let mut map = [usize::MAX; 15];
    let mut unknown = Vec::new();
    let mut repeated = Vec::new();
    for (col, name) in names.iter().enumerate() {
        match RECORD_FIELDS.iter().position(|f| f == name) {
            Some(i) if map[i] == usize::MAX => map[i] = col,
            Some(_) => repeated.push(name.clone()),
            None => unknown.push(if name.is_empty() {
                format!("(empty name, column {})", col + 1)
            } else {
                name.clone()
            }),
        }
    }
    let missing: Vec<&str> = RECORD_FIELDS
        .iter()
        .zip(&map)
        .filter(|(_, c)| **c == usize::MAX)
        .map(|(f, _)| *f)
        .collect();
    if missing.is_empty() && unknown.is_empty() && repeated.is_empty() {
        return Ok(map);
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing columns: {}", missing.join(", ")));
    }
    if !unknown.is_empty() {
        problems.push(format!("unknown columns: {}", unknown.join(", ")));
    }
    if !repeated.is_empty() {
        problems.push(format!("repeated columns: {}", repeated.join(", ")));
    }
    Err(Error::Input(format!(
        "Incorrectly formatted person records file due to invalid header ({}). Expected the columns {} \
         (in any order)",
        problems.join("; "),
        RECORD_FIELDS.join(",")
    )))
}
