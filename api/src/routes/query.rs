//! Query-string parsing with the reference's rules: unknown keys and blank values are 400s, `page` >= 1,
//! `page_size` 1..=1000 (default 50), and the pagination object of list responses.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{ApiError, Detail};

/// The query string of a request, checked against the keys a route accepts.
pub(crate) struct Query {
    values: HashMap<String, String>,
}

impl Query {
    /// Rejects keys not in `allowed` and blank values.
    pub(crate) fn parse(raw: HashMap<String, String>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut details = Vec::new();
        let mut keys: Vec<&String> = raw.keys().collect();
        keys.sort();
        for key in keys {
            if !allowed.contains(&key.as_str()) {
                details.push(Detail::field(key.as_str(), "Unexpected field"));
            } else if raw[key].trim().is_empty() {
                details.push(Detail::field(key.as_str(), "This field may not be blank."));
            }
        }
        if details.is_empty() {
            Ok(Self { values: raw })
        } else {
            Err(ApiError::Validation(details))
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// `page` and `page_size`.
    pub(crate) fn page(&self) -> Result<(u32, u32), ApiError> {
        let page = parse_int(self.get("page"), "page", 1, 1, u32::MAX)?;
        let page_size = parse_int(self.get("page_size"), "page_size", 50, 1, 1000)?;
        Ok((page, page_size))
    }
}

fn parse_int(
    value: Option<&str>,
    field: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let n: i64 = value.trim().parse().map_err(|_| {
        ApiError::Validation(vec![Detail::field(field, "A valid integer is required.")])
    })?;
    if n < i64::from(min) {
        return Err(ApiError::Validation(vec![Detail::field(
            field,
            format!("Ensure this value is greater than or equal to {min}."),
        )]));
    }
    if n > i64::from(max) {
        return Err(ApiError::Validation(vec![Detail::field(
            field,
            format!("Ensure this value is less than or equal to {max}."),
        )]));
    }
    Ok(n as u32)
}

/// The reference's pagination object.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub(crate) struct Pagination {
    page: u32,
    page_size: u32,
    total_count: i64,
    total_pages: i64,
    has_next: bool,
    has_previous: bool,
    next_page: Option<u32>,
    previous_page: Option<u32>,
}

impl Pagination {
    pub(crate) fn new(page: u32, page_size: u32, total_count: i64) -> Self {
        let total_pages = (total_count + i64::from(page_size) - 1) / i64::from(page_size);
        let has_next = i64::from(page) < total_pages;
        let has_previous = page > 1;
        Self {
            page,
            page_size,
            total_count,
            total_pages,
            has_next,
            has_previous,
            next_page: has_next.then_some(page + 1),
            previous_page: has_previous.then(|| page - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_matches_the_reference() {
        let p = Pagination::new(2, 10, 25);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"page": 2, "page_size": 10, "total_count": 25, "total_pages": 3,
                "has_next": true, "has_previous": true, "next_page": 3, "previous_page": 1})
        );
        let empty = Pagination::new(1, 50, 0);
        assert_eq!(
            (empty.total_pages, empty.has_next, empty.has_previous),
            (0, false, false)
        );
        let past_end = Pagination::new(5, 10, 25);
        assert_eq!(
            (past_end.has_next, past_end.previous_page),
            (false, Some(4))
        );
    }

    #[test]
    fn rejects_unknown_and_blank_keys_and_bad_pages() {
        let raw = HashMap::from([
            ("x".to_owned(), "1".to_owned()),
            ("page".to_owned(), " ".to_owned()),
        ]);
        let Err(ApiError::Validation(details)) = Query::parse(raw, &["page"]) else {
            panic!("accepted")
        };
        assert_eq!(
            details,
            vec![
                Detail::field("page", "This field may not be blank."),
                Detail::field("x", "Unexpected field")
            ]
        );
        let q = Query::parse(
            HashMap::from([("page_size".to_owned(), "1001".to_owned())]),
            &["page_size"],
        )
        .unwrap();
        assert!(q.page().is_err());
    }
}
