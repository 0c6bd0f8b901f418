//! The record schema: which columns conditions and blocking rules may reference.

/// The 15 person-record columns (the default schema).
pub const PERSON_RECORD_COLUMNS: [&str; 15] = [
    "data_source",
    "source_person_id",
    "first_name",
    "last_name",
    "sex",
    "race",
    "birth_date",
    "death_date",
    "social_security_number",
    "address",
    "city",
    "state",
    "zip_code",
    "county",
    "phone",
];

/// An ordered list of column names. Lookups are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    columns: Vec<String>,
}

impl Default for Schema {
    /// The person-record schema.
    fn default() -> Self {
        Self::person_record()
    }
}

impl Schema {
    /// A schema with the given column names (stored lower-case).
    pub fn new<S: AsRef<str>>(columns: &[S]) -> Self {
        Self {
            columns: columns
                .iter()
                .map(|c| c.as_ref().to_ascii_lowercase())
                .collect(),
        }
    }

    /// The 15 person-record columns.
    pub fn person_record() -> Self {
        Self::new(&PERSON_RECORD_COLUMNS)
    }

    /// Column names in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Index of a column, case-insensitively.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }
}
