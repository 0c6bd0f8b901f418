//! Shared helpers: locating the shared data and reading reference CSVs.

use std::collections::HashMap;
use std::path::PathBuf;

/// Path of a file under `../shared/data/` (the repo is cloned next to `shared/`).
pub(crate) fn data(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/")).join(rel)
}

/// A CSV as header + rows of strings keyed by (id_l, id_r).
pub(crate) struct PairsCsv {
    pub(crate) header: Vec<String>,
    pub(crate) rows: HashMap<(i64, i64), Vec<String>>,
}

impl PairsCsv {
    pub(crate) fn read(path: &std::path::Path) -> PairsCsv {
        let mut rdr =
            csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
        let il = header
            .iter()
            .position(|h| h == "id_l")
            .expect("id_l column");
        let ir = header
            .iter()
            .position(|h| h == "id_r")
            .expect("id_r column");
        let mut rows = HashMap::new();
        for rec in rdr.records() {
            let rec = rec.unwrap();
            let row: Vec<String> = rec.iter().map(str::to_string).collect();
            let key = (row[il].parse().unwrap(), row[ir].parse().unwrap());
            assert!(
                rows.insert(key, row).is_none(),
                "duplicate pair {key:?} in {}",
                path.display()
            );
        }
        PairsCsv { header, rows }
    }

    pub(crate) fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }
}

/// |a - b| <= tol * max(1, |a|, |b|); empty strings (pandas NaN) must match exactly.
#[track_caller]
pub(crate) fn assert_close(what: &str, expected: &str, actual: &str, rel_tol: f64) {
    if expected.is_empty() || actual.is_empty() {
        assert_eq!(expected, actual, "{what}");
        return;
    }
    let (e, a): (f64, f64) = (expected.parse().unwrap(), actual.parse().unwrap());
    let scale = e.abs().max(a.abs()).max(1.0);
    assert!(
        (e - a).abs() <= rel_tol * scale,
        "{what}: expected {expected}, got {actual}"
    );
    // Splink's constants are reproduced bit for bit (see literal.rs), so the text matches too.
    assert_eq!(expected, actual, "{what}: 17-digit text");
}
