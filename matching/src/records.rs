//! Column-wise record storage with interned, pre-normalised strings.
//!
//! Each column keeps a dictionary of distinct values and one `u32` code per record, so equality
//! of two values of the same column is a code comparison and term frequencies are an array
//! indexed by code. Empty or whitespace-only values are stored as NULL; other values are kept
//! verbatim (not trimmed).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::fxhash::FxBuild;
use crate::schema::Schema;

/// Code of a NULL value.
pub(crate) const NULL: u32 = u32::MAX;

/// One column: a dictionary plus codes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Column {
    pub(crate) codes: Vec<u32>,
    pub(crate) dict: Vec<Box<str>>,
}

impl Column {
    /// The value of record `i` (None for NULL).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            NULL => None,
            c => Some(&self.dict[c as usize]),
        }
    }
}

/// An immutable set of records: ids (strictly increasing) and one [`Column`] per schema column.
#[derive(Debug, Clone)]
pub struct RecordSet {
    schema: Schema,
    ids: Vec<i64>,
    pub(crate) columns: Vec<Column>,
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
    pub fn value(&self, i: usize, col: usize) -> Option<&str> {
        self.columns[col].get(i)
    }

    /// Position of the record with this id.
    pub fn position(&self, id: i64) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }
}

/// Builds a [`RecordSet`] row by row.
#[derive(Debug)]
pub struct RecordSetBuilder {
    schema: Schema,
    ids: Vec<i64>,
    columns: Vec<Column>,
    interners: Vec<HashMap<Box<str>, u32, FxBuild>>,
}

/// Whether a raw value counts as NULL for matching.
pub(crate) fn is_null_text(v: &str) -> bool {
    v.chars().all(char::is_whitespace)
}

impl RecordSetBuilder {
    /// A builder for records of `schema`.
    pub fn new(schema: Schema) -> Self {
        let n = schema.len();
        Self {
            schema,
            ids: Vec::new(),
            columns: vec![Column::default(); n],
            interners: vec![HashMap::default(); n],
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
                Some(s) if !is_null_text(s) => match self.interners[c].get(*s) {
                    // Look up before inserting: no allocation for values already seen.
                    Some(&code) => code,
                    None => {
                        let col = &mut self.columns[c];
                        let code = col.dict.len() as u32;
                        col.dict.push((*s).into());
                        self.interners[c].insert((*s).into(), code);
                        code
                    }
                },
                _ => NULL,
            };
            self.columns[c].codes.push(code);
        }
        Ok(())
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no record was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether the record at `pos` has exactly these (already normalised) values.
    pub(crate) fn row_equals(&self, pos: usize, values: &[Option<&str>]) -> bool {
        values
            .iter()
            .zip(&self.columns)
            .all(|(v, col)| col.get(pos) == *v)
    }

    /// Finishes the set.
    pub fn build(self) -> RecordSet {
        RecordSet {
            schema: self.schema,
            ids: self.ids,
            columns: self.columns,
        }
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
