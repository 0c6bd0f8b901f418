//! Typed SQL values and the DuckDB-compatible comparison, cast and arithmetic rules over them.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime};

use crate::error::EvalError;

/// A SQL value as seen by conditions and functions. Text borrows from the record store when it
/// can, so evaluating column references does not allocate.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// Integer (DuckDB BIGINT/INTEGER).
    Int(i64),
    /// DOUBLE (also used for DECIMAL literals such as `0.9`).
    Float(f64),
    /// VARCHAR.
    Text(Cow<'a, str>),
    /// TIMESTAMP (a DATE is a timestamp at midnight).
    Timestamp(NaiveDateTime),
}

impl<'a> Value<'a> {
    /// A borrowed text value.
    pub fn str(s: &'a str) -> Self {
        Value::Text(Cow::Borrowed(s))
    }

    /// An owned text value.
    pub fn string(s: String) -> Value<'static> {
        Value::Text(Cow::Owned(s))
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text, if this is a text value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The value as f64, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Detaches the value from any borrowed storage.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Text(s) => Value::Text(Cow::Owned(s.into_owned())),
            Value::Timestamp(t) => Value::Timestamp(t),
        }
    }

    /// SQL type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOLEAN",
            Value::Int(_) => "INTEGER",
            Value::Float(_) => "DOUBLE",
            Value::Text(_) => "VARCHAR",
            Value::Timestamp(_) => "TIMESTAMP",
        }
    }
}

/// Target type of `CAST(x AS type)` / `x::type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastType {
    Text,
    Int,
    Float,
    Bool,
    Date,
    Timestamp,
}

impl CastType {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "text" | "varchar" | "string" | "char" | "bpchar" => CastType::Text,
            "int" | "integer" | "bigint" | "smallint" | "tinyint" | "hugeint" | "int2" | "int4"
            | "int8" | "long" | "short" | "ubigint" | "uinteger" => CastType::Int,
            "double" | "float" | "real" | "float4" | "float8" | "decimal" | "numeric" => {
                CastType::Float
            }
            "boolean" | "bool" | "logical" => CastType::Bool,
            "date" => CastType::Date,
            "timestamp" | "datetime" | "timestamp_us" => CastType::Timestamp,
            _ => return None,
        })
    }
}

fn conv(v: &Value<'_>, to: &str) -> EvalError {
    EvalError::Conversion(format!(
        "could not convert {} '{}' to {to}",
        v.type_name(),
        render(v)
    ))
}

/// Text rendering of a value as DuckDB casts it to VARCHAR.
pub(crate) fn render(v: &Value<'_>) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => render_float(*f),
        Value::Text(s) => s.to_string(),
        Value::Timestamp(t) => {
            if t.time() == chrono::NaiveTime::MIN {
                t.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M:%S%.f").to_string()
            }
        }
    }
}

fn render_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else if f == f.trunc() && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(chrono::NaiveTime::MIN))
}

/// Casts a value (NULL stays NULL). `CAST` errors on failure; `TRY_CAST` maps failure to NULL.
pub(crate) fn cast(v: Value<'_>, ty: CastType) -> Result<Value<'_>, EvalError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match ty {
        CastType::Text => match v {
            Value::Text(s) => Value::Text(s),
            other => Value::string(render(&other)),
        },
        CastType::Int => match &v {
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => {
                let r = f.round();
                if !r.is_finite() || r.abs() > 9.2e18 {
                    return Err(conv(&v, "INTEGER"));
                }
                Value::Int(r as i64)
            }
            Value::Bool(b) => Value::Int(i64::from(*b)),
            Value::Text(s) => Value::Int(s.trim().parse::<i64>().map_err(|_| conv(&v, "INTEGER"))?),
            _ => return Err(conv(&v, "INTEGER")),
        },
        CastType::Float => match &v {
            Value::Int(i) => Value::Float(*i as f64),
            Value::Float(f) => Value::Float(*f),
            Value::Bool(b) => Value::Float(f64::from(u8::from(*b))),
            Value::Text(s) => Value::Float(parse_f64(s).ok_or_else(|| conv(&v, "DOUBLE"))?),
            _ => return Err(conv(&v, "DOUBLE")),
        },
        CastType::Bool => match &v {
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Float(f) => Value::Bool(*f != 0.0),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" | "y" => Value::Bool(true),
                "false" | "f" | "0" | "no" | "n" => Value::Bool(false),
                _ => return Err(conv(&v, "BOOLEAN")),
            },
            _ => return Err(conv(&v, "BOOLEAN")),
        },
        CastType::Date => match &v {
            Value::Timestamp(t) => Value::Timestamp(t.date().and_time(chrono::NaiveTime::MIN)),
            Value::Text(s) => Value::Timestamp(
                parse_timestamp(s)
                    .map(|t| t.date().and_time(chrono::NaiveTime::MIN))
                    .ok_or_else(|| conv(&v, "DATE"))?,
            ),
            _ => return Err(conv(&v, "DATE")),
        },
        CastType::Timestamp => match &v {
            Value::Timestamp(t) => Value::Timestamp(*t),
            Value::Text(s) => {
                Value::Timestamp(parse_timestamp(s).ok_or_else(|| conv(&v, "TIMESTAMP"))?)
            }
            _ => return Err(conv(&v, "TIMESTAMP")),
        },
    })
}

fn parse_f64(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" | "+inf" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok(),
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    // DuckDB orders NaN above every other value and equal to itself.
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// SQL comparison: `Ok(None)` when either side is NULL; implicit casts follow DuckDB (a string
/// compared with a number or timestamp is cast to that type, failing if it cannot be).
pub(crate) fn sql_cmp(a: &Value<'_>, b: &Value<'_>) -> Result<Option<Ordering>, EvalError> {
    use Value::*;
    Ok(Some(match (a, b) {
        (Null, _) | (_, Null) => return Ok(None),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Int(x), Int(y)) => x.cmp(y),
        (Int(_) | Float(_), Int(_) | Float(_)) => {
            if let (Int(x), Float(y)) = (a, b) {
                cmp_f64(*x as f64, *y)
            } else if let (Float(x), Int(y)) = (a, b) {
                cmp_f64(*x, *y as f64)
            } else {
                cmp_f64(a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0))
            }
        }
        (Bool(x), Bool(y)) => x.cmp(y),
        (Timestamp(x), Timestamp(y)) => x.cmp(y),
        (Text(_), Int(_) | Float(_) | Bool(_) | Timestamp(_)) => {
            let ty = cast_type_of(b);
            let ca = cast(a.clone(), ty)?;
            return sql_cmp(&ca, b);
        }
        (Int(_) | Float(_) | Bool(_) | Timestamp(_), Text(_)) => {
            return Ok(sql_cmp(b, a)?.map(Ordering::reverse));
        }
        (Bool(x), Int(_) | Float(_)) => cmp_f64(f64::from(u8::from(*x)), b.as_f64().unwrap_or(0.0)),
        (Int(_) | Float(_), Bool(y)) => cmp_f64(a.as_f64().unwrap_or(0.0), f64::from(u8::from(*y))),
        _ => {
            return Err(EvalError::Type(format!(
                "cannot compare {} with {}",
                a.type_name(),
                b.type_name()
            )));
        }
    }))
}

fn cast_type_of(v: &Value<'_>) -> CastType {
    match v {
        Value::Int(_) => CastType::Float,
        Value::Float(_) => CastType::Float,
        Value::Bool(_) => CastType::Bool,
        Value::Timestamp(_) => CastType::Timestamp,
        _ => CastType::Text,
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

fn numeric<'a>(v: Value<'a>) -> Result<Value<'a>, EvalError> {
    match v {
        Value::Text(_) => cast(v, CastType::Float),
        Value::Bool(b) => Ok(Value::Int(i64::from(b))),
        other => Ok(other),
    }
}

/// `a op b` with DuckDB rules: NULL propagates, `/` is IEEE floating-point division, `%` by zero
/// is NULL, integer overflow is an error.
pub(crate) fn arith(op: ArithOp, a: Value<'_>, b: Value<'_>) -> Result<Value<'static>, EvalError> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    if let (Value::Timestamp(x), Value::Timestamp(y), ArithOp::Sub) = (&a, &b, op) {
        // Interval as seconds: enough for ABS(a - b) <= n comparisons.
        return Ok(Value::Float(
            (*x - *y).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6,
        ));
    }
    let (a, b) = (numeric(a)?, numeric(b)?);
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) if op != ArithOp::Div => {
            let r = match op {
                ArithOp::Add => x.checked_add(*y).ok_or(EvalError::Overflow("+"))?,
                ArithOp::Sub => x.checked_sub(*y).ok_or(EvalError::Overflow("-"))?,
                ArithOp::Mul => x.checked_mul(*y).ok_or(EvalError::Overflow("*"))?,
                ArithOp::Mod => {
                    if *y == 0 {
                        return Ok(Value::Null);
                    }
                    x.wrapping_rem(*y)
                }
                ArithOp::Div => unreachable!("handled as float"),
            };
            Ok(Value::Int(r))
        }
        _ => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Err(EvalError::Type(format!(
                    "cannot apply arithmetic to {} and {}",
                    a.type_name(),
                    b.type_name()
                )));
            };
            Ok(match op {
                ArithOp::Add => Value::Float(x + y),
                ArithOp::Sub => Value::Float(x - y),
                ArithOp::Mul => Value::Float(x * y),
                // DuckDB 1.4: 1/0 = inf, 0/0 = nan (IEEE); only % by zero is NULL.
                ArithOp::Div => Value::Float(x / y),
                ArithOp::Mod if y == 0.0 => Value::Null,
                ArithOp::Mod => Value::Float(x % y),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_mixed_numbers_and_text() {
        assert_eq!(
            sql_cmp(&Value::Int(2), &Value::Float(2.0)).unwrap(),
            Some(Ordering::Equal)
        );
        assert_eq!(
            sql_cmp(&Value::str("b"), &Value::str("ab")).unwrap(),
            Some(Ordering::Greater)
        );
        assert_eq!(
            sql_cmp(&Value::str("5"), &Value::Int(5)).unwrap(),
            Some(Ordering::Equal)
        );
        assert_eq!(sql_cmp(&Value::Null, &Value::Int(5)).unwrap(), None);
        assert!(sql_cmp(&Value::str("x"), &Value::Int(5)).is_err());
    }

    #[test]
    fn arithmetic_follows_duckdb() {
        assert_eq!(
            arith(ArithOp::Div, Value::Int(1), Value::Int(2)).unwrap(),
            Value::Float(0.5)
        );
        assert_eq!(
            arith(ArithOp::Div, Value::Int(1), Value::Int(0)).unwrap(),
            Value::Float(f64::INFINITY)
        );
        assert_eq!(
            arith(ArithOp::Mod, Value::Int(5), Value::Int(0)).unwrap(),
            Value::Null
        );
        assert_eq!(
            arith(ArithOp::Add, Value::Int(1), Value::Int(2)).unwrap(),
            Value::Int(3)
        );
        assert!(arith(ArithOp::Mul, Value::Int(i64::MAX), Value::Int(2)).is_err());
    }

    #[test]
    fn casts_between_types() {
        assert_eq!(
            cast(Value::str(" 42 "), CastType::Int).unwrap(),
            Value::Int(42)
        );
        assert_eq!(
            cast(Value::Float(2.5), CastType::Int).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            cast(Value::Int(7), CastType::Text).unwrap(),
            Value::str("7")
        );
        assert!(cast(Value::str("x"), CastType::Int).is_err());
    }
}
