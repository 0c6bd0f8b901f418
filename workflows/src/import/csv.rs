//! A streaming RFC 4180 CSV reader that keeps what the import needs and general CSV libraries drop:
//! whether a field was quoted (an unquoted empty field is NULL, a quoted `""` the empty string, as
//! PostgreSQL's `COPY ... CSV` reads them), the line each record starts on (for error messages), a
//! UTF-8 BOM, CRLF or LF line ends, and quoted fields spanning lines. Memory is one record.

use std::io::BufRead;

/// One field of a record: its byte range in [`Record::bytes`] and whether it was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    start: usize,
    end: usize,
    quoted: bool,
}

/// A parsed record, reused between calls to [`CsvReader::read`].
#[derive(Debug, Default)]
pub(crate) struct Record {
    bytes: Vec<u8>,
    fields: Vec<Field>,
    line: u64,
}

impl Record {
    /// The line (1-based) the record starts on.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// Field `i`: `None` for an unquoted empty field (NULL), else its bytes.
    pub(crate) fn get(&self, i: usize) -> Option<&[u8]> {
        let f = self.fields[i];
        if f.start == f.end && !f.quoted {
            None
        } else {
            Some(&self.bytes[f.start..f.end])
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
    }
}

/// A malformed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CsvError {
    /// A quoted field runs to the end of the file.
    #[error("line {line}: a quoted field is not closed before the end of the file")]
    Unterminated {
        /// The line the field starts on.
        line: u64,
    },
    /// A closing quote is followed by something other than a comma or a line end.
    #[error("line {line}: unexpected character after a closing quote")]
    AfterQuote {
        /// The line.
        line: u64,
    },
    /// Reading the source failed.
    #[error("reading the source failed at line {line}: {message}")]
    Io {
        /// The line being read.
        line: u64,
        /// The I/O error.
        message: String,
        /// Its kind: invalid data (bad gzip) is the file's fault, the rest may pass.
        kind: std::io::ErrorKind,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: a second quote is a literal quote.
    QuoteInQuoted,
    /// Just after a `\r` ending a record: a following `\n` belongs to it.
    AfterCr,
}

/// Reads records from a byte stream.
pub(crate) struct CsvReader<R> {
    inner: R,
    /// The line the reader is on (1-based).
    line: u64,
    started: bool,
    /// A `\r` ended the previous record; skip a `\n` right after it.
    pending_lf: bool,
}

impl<R: BufRead> CsvReader<R> {
    /// A reader over `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            line: 1,
            started: false,
            pending_lf: false,
        }
    }

    /// Reads the next record into `record`; `false` at the end of the file. Empty lines are
    /// skipped.
    pub(crate) fn read(&mut self, record: &mut Record) -> Result<bool, CsvError> {
        loop {
            let got = self.read_one(record)?;
            if !got {
                return Ok(false);
            }
            // An empty line is one unquoted empty field: not a record.
            if !(record.fields.len() == 1 && record.bytes.is_empty() && !record.fields[0].quoted) {
                return Ok(true);
            }
        }
    }

    fn fill(&mut self) -> Result<&[u8], CsvError> {
        let line = self.line;
        self.inner.fill_buf().map_err(|e| CsvError::Io {
            line,
            message: e.to_string(),
            kind: e.kind(),
        })
    }

    fn read_one(&mut self, record: &mut Record) -> Result<bool, CsvError> {
        record.clear();
        if !self.started {
            self.started = true;
            let buf = self.fill()?;
            if buf.starts_with(b"\xEF\xBB\xBF") {
                self.inner.consume(3);
            }
        }
        if self.pending_lf {
            self.pending_lf = false;
            let buf = self.fill()?;
            if buf.first() == Some(&b'\n') {
                self.inner.consume(1);
            }
        }
        record.line = self.line;
        let mut state = State::FieldStart;
        let mut field_start = 0usize;
        let mut quoted = false;
        let mut quote_line = self.line;
        loop {
            let base = self.line;
            let buf = self.fill()?;
            if buf.is_empty() {
                // End of file.
                return match state {
                    State::Quoted => Err(CsvError::Unterminated { line: quote_line }),
                    State::FieldStart if record.fields.is_empty() && record.bytes.is_empty() => {
                        Ok(false)
                    }
                    _ => {
                        record.fields.push(Field {
                            start: field_start,
                            end: record.bytes.len(),
                            quoted,
                        });
                        Ok(true)
                    }
                };
            }
            let mut used = 0;
            let mut done = false;
            let mut newlines = 0u64;
            for &b in buf {
                used += 1;
                match (state, b) {
                    (State::Quoted, b'"') => state = State::QuoteInQuoted,
                    (State::Quoted, _) => {
                        if b == b'\n' {
                            newlines += 1;
                        }
                        record.bytes.push(b);
                    }
                    (State::QuoteInQuoted, b'"') => {
                        record.bytes.push(b'"');
                        state = State::Quoted;
                    }
                    (State::FieldStart, b'"') => {
                        state = State::Quoted;
                        quoted = true;
                        quote_line = base + newlines;
                    }
                    // A field ends (unquoted, or right after its closing quote).
                    (_, b',' | b'\n' | b'\r') => {
                        record.fields.push(Field {
                            start: field_start,
                            end: record.bytes.len(),
                            quoted,
                        });
                        if b == b',' {
                            field_start = record.bytes.len();
                            quoted = false;
                            state = State::FieldStart;
                        } else {
                            newlines += 1;
                            if b == b'\r' {
                                state = State::AfterCr;
                            }
                            done = true;
                            break;
                        }
                    }
                    (State::QuoteInQuoted, _) => {
                        return Err(CsvError::AfterQuote {
                            line: base + newlines,
                        });
                    }
                    (State::AfterCr, _) => unreachable!("AfterCr ends the record"),
                    (State::FieldStart | State::Unquoted, _) => {
                        record.bytes.push(b);
                        state = State::Unquoted;
                    }
                }
            }
            self.inner.consume(used);
            self.line += newlines;
            if done {
                if state == State::AfterCr {
                    self.pending_lf = true;
                }
                return Ok(true);
            }
        }
    }
}

/// Appends `value` to `out` in PostgreSQL's COPY text format (`\N` for NULL; backslash, tab, LF and CR
/// escaped).
pub(crate) fn push_copy_text(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Vec<(u64, Vec<Option<String>>)>;

    fn parse(input: &[u8]) -> Result<Rows, CsvError> {
        let mut reader = CsvReader::new(std::io::BufReader::with_capacity(3, input));
        let mut record = Record::default();
        let mut out = Vec::new();
        while reader.read(&mut record)? {
            let fields = (0..record.len())
                .map(|i| {
                    record
                        .get(i)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                })
                .collect();
            out.push((record.line(), fields));
        }
        Ok(out)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn reads_quoted_unquoted_and_empty_fields() {
        let rows = parse(b"a,b,c\n\"x\",,\"\"\n1,\"q\"\"uote\",\"multi\nline\"\n").unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec![s("a"), s("b"), s("c")]),
                (2, vec![s("x"), None, s("")]),
                (3, vec![s("1"), s("q\"uote"), s("multi\nline")]),
            ]
        );
    }

    #[test]
    fn handles_bom_crlf_blank_lines_and_no_final_newline() {
        let rows = parse(b"\xEF\xBB\xBFa,b\r\n1,2\r\n\r\n\n3,\"4\"").unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec![s("a"), s("b")]),
                (2, vec![s("1"), s("2")]),
                (5, vec![s("3"), s("4")]),
            ]
        );
    }

    #[test]
    fn counts_lines_inside_quoted_fields() {
        let rows = parse(b"h\n\"a\nb\nc\"\nnext\n").unwrap();
        assert_eq!(rows[1].0, 2);
        assert_eq!(rows[2], (5, vec![s("next")]));
    }

    #[test]
    fn reports_malformed_quotes_with_their_line() {
        assert_eq!(
            parse(b"a\nb\n\"open\n").unwrap_err(),
            CsvError::Unterminated { line: 3 }
        );
        assert_eq!(
            parse(b"a\n\"x\"y\n").unwrap_err(),
            CsvError::AfterQuote { line: 2 }
        );
    }

    #[test]
    fn escapes_copy_text() {
        let mut out = Vec::new();
        push_copy_text(&mut out, Some("a\\b\tc\nd\re"));
        out.push(b'|');
        push_copy_text(&mut out, None);
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re|\\N");
    }
}
