//! Request bodies: JSON only (415 otherwise, as the reference), parse errors as 400 with the parser's
//! message, and typed field readers that collect the reference's per-field messages.

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use crate::error::{ApiError, Detail};

/// The request's content type without parameters, lower-cased (`""` if absent).
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Parses a JSON object body; 415 for another content type, 400 for invalid JSON or a non-object.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let ct = content_type(headers);
    if ct != "application/json" {
        return Err(ApiError::UnsupportedMediaType(ct));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Validation(vec![Detail::general(
            "Invalid data. Expected a dictionary.",
        )])),
        Err(e) => Err(ApiError::Validation(vec![Detail::general(format!(
            "JSON parse error - {e}"
        ))])),
    }
}

/// Collects field problems of one body, then fails with all of them.
#[derive(Default)]
pub(crate) struct Fields {
    pub(crate) details: Vec<Detail>,
}

impl Fields {
    /// Rejects keys not in `allowed`.
    pub(crate) fn only(&mut self, body: &Map<String, Value>, allowed: &[&str]) {
        let mut keys: Vec<&String> = body.keys().collect();
        keys.sort();
        for key in keys {
            if !allowed.contains(&key.as_str()) {
                self.details
                    .push(Detail::field(key.as_str(), "Unexpected field"));
            }
        }
    }

    /// A required number in `[0, 1]`.
    pub(crate) fn probability(&mut self, body: &Map<String, Value>, key: &str) -> Option<f64> {
        match body.get(key) {
            None | Some(Value::Null) => {
                self.details
                    .push(Detail::field(key, "This field is required."));
                None
            }
            Some(Value::Number(n)) => {
                let v = n.as_f64().unwrap_or(f64::NAN);
                if v < 0.0 {
                    self.details.push(Detail::field(
                        key,
                        "Ensure this value is greater than or equal to 0.",
                    ));
                    None
                } else if v > 1.0 {
                    self.details.push(Detail::field(
                        key,
                        "Ensure this value is less than or equal to 1.",
                    ));
                    None
                } else {
                    Some(v)
                }
            }
            Some(_) => {
                self.details
                    .push(Detail::field(key, "A valid number is required."));
                None
            }
        }
    }

    /// Fails with the collected details, if any.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.details))
        }
    }
}
