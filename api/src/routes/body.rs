//! Request bodies: JSON only (415 otherwise, as the reference), parse errors as 400 with the parser's
//! message, and field readers that collect the reference's (DRF's) per-field messages: [`Fields`] for
//! flat bodies, [`Checker`] for nested ones, with dotted paths (`person_updates.0.new_person_record_ids`)
//! and the last message per field: "This field is required.", "Unexpected field", "A valid integer is
//! required.", ...

use std::str::FromStr;

use axum::http::{HeaderMap, header};
use idem_empi::IdError;
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

/// A JSON body as a value for [`Checker`]: an empty body is an empty object (as DRF treats it, so a
/// bare `POST` works), otherwise as [`json_object`].
pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    json_object(headers, body).map(Value::Object)
}

/// Python's name of a JSON value's type, as DRF's messages show it.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `path.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: impl std::fmt::Display) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Collects the field errors of one body.
#[derive(Default)]
pub(crate) struct Checker {
    details: Vec<Detail>,
}

impl Checker {
    /// Records an error; a later error on the same field replaces an earlier one (as DRF's map does).
    pub(crate) fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.details.retain(|d| d.field.as_deref() != Some(field));
        self.details.push(Detail::field(field, message));
    }

    /// An object with only the `allowed` keys.
    pub(crate) fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = value else {
            let message = format!(
                "Invalid data. Expected a dictionary, but got {}.",
                type_name(value)
            );
            if path.is_empty() {
                self.details.push(Detail::general(message));
            } else {
                self.fail(path, message);
            }
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.fail(&join(path, key), "Unexpected field");
            }
        }
        Some(map)
    }

    /// A key that must be present and not null.
    pub(crate) fn required<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Value> {
        match map.get(key) {
            None => {
                self.fail(&join(path, key), "This field is required.");
                None
            }
            Some(Value::Null) => {
                self.fail(&join(path, key), "This field may not be null.");
                None
            }
            Some(value) => Some(value),
        }
    }

    /// A key that may be absent (but not null).
    pub(crate) fn optional<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Value> {
        match map.get(key) {
            Some(Value::Null) => {
                self.fail(&join(path, key), "This field may not be null.");
                None
            }
            other => other,
        }
    }

    /// An integer (a JSON integer, or a string holding one, as DRF accepts).
    pub(crate) fn int(&mut self, value: &Value, path: &str) -> Option<i64> {
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.fail(path, "A valid integer is required.");
        }
        parsed
    }

    /// A string.
    pub(crate) fn string<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            _ => {
                self.fail(path, "Not a valid string.");
                None
            }
        }
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self, value: &Value, path: &str) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.fail(path, "Must be a valid boolean.");
                None
            }
        }
    }

    /// A list.
    pub(crate) fn list<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v [Value]> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.fail(
                    path,
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    /// A public id of type `T` (`pm_N`, `p_<uuid>`, ...); a malformed one is "Invalid <Kind> ID".
    pub(crate) fn id<T: FromStr<Err = IdError>>(&mut self, value: &Value, path: &str) -> Option<T> {
        let s = self.string(value, path)?;
        match s.parse() {
            Ok(id) => Some(id),
            Err(e) => {
                self.fail(path, e.to_string());
                None
            }
        }
    }

    /// A list of ids.
    pub(crate) fn ids<T: FromStr<Err = IdError>>(
        &mut self,
        value: &Value,
        path: &str,
    ) -> Option<Vec<T>> {
        let items = self.list(value, path)?;
        let ids: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, v)| self.id(v, &join(path, i)))
            .collect();
        ids.into_iter().collect()
    }

    /// 400 "Validation failed" with the details recorded so far (for a body that cannot go on).
    pub(crate) fn into_error(self) -> ApiError {
        ApiError::Validation(self.details)
    }

    /// Ok when nothing failed, else 400 "Validation failed" with the details.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.details))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn collects_drf_messages_with_dotted_paths() {
        let body = json!({"a": "x", "b": [1, "pm_2", "pm_x"], "c": {"d": null}, "e": 5});
        let mut c = Checker::default();
        let map = c.object(&body, "", &["a", "b", "c", "z"]).unwrap();
        let a = c.required(map, "", "a").unwrap();
        assert_eq!(c.int(a, "a"), None);
        let b = c.optional(map, "", "b").unwrap();
        assert_eq!(c.ids::<idem_empi::PotentialMatchId>(b, "b"), None);
        let inner = c.object(&map["c"], "c", &["d"]).unwrap();
        assert!(c.required(inner, "c", "d").is_none());
        assert!(c.required(map, "", "z").is_none());
        let Err(ApiError::Validation(details)) = c.finish() else {
            panic!("accepted")
        };
        assert_eq!(
            details,
            vec![
                Detail::field("e", "Unexpected field"),
                Detail::field("a", "A valid integer is required."),
                Detail::field("b.0", "Not a valid string."),
                Detail::field("b.2", "Invalid PotentialMatch ID"),
                Detail::field("c.d", "This field may not be null."),
                Detail::field("z", "This field is required."),
            ]
        );
    }
}
