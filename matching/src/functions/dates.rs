//! Built-in date functions: `try_strptime`, `strptime`, `epoch`, `date_diff`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

use super::{ArgType, Arity, FunctionDef, text_arg};
use crate::error::FunctionError;
use crate::value::{CastType, Value, cast};

/// Parses with a DuckDB/strftime format. Surrounding whitespace is ignored, as in DuckDB. Formats
/// without a time part yield midnight.
pub(crate) fn strptime(s: &str, fmt: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // DuckDB's %f is a fraction of a second; chrono's equivalent is %.f after the dot.
    let fmt = fmt.replace(".%f", "%.f");
    if let Ok(t) = NaiveDateTime::parse_from_str(s, &fmt) {
        return Some(t);
    }
    NaiveDate::parse_from_str(s, &fmt)
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN))
}

fn ts_arg(v: &Value<'_>, fname: &str) -> Result<NaiveDateTime, FunctionError> {
    match cast(v.clone(), CastType::Timestamp) {
        Ok(Value::Timestamp(t)) => Ok(t),
        _ => Err(FunctionError::new(format!(
            "{fname}: expected a TIMESTAMP or DATE, got {}",
            v.type_name()
        ))),
    }
}

fn epoch_seconds(t: NaiveDateTime) -> f64 {
    let utc = t.and_utc();
    utc.timestamp() as f64 + f64::from(utc.timestamp_subsec_micros()) / 1e6
}

/// DuckDB `date_diff(part, start, end)`: the number of `part` boundaries between the two.
fn date_diff(part: &str, a: NaiveDateTime, b: NaiveDateTime) -> Result<i64, FunctionError> {
    let days = |t: NaiveDateTime| i64::from(t.date().num_days_from_ce());
    let months = |t: NaiveDateTime| i64::from(t.year()) * 12 + i64::from(t.month0());
    let secs = |t: NaiveDateTime| t.and_utc().timestamp();
    Ok(match part.to_ascii_lowercase().trim_end_matches('s') {
        "year" | "yr" | "y" => i64::from(b.year()) - i64::from(a.year()),
        "quarter" => (months(b) / 3) - (months(a) / 3),
        "month" | "mon" => months(b) - months(a),
        "week" | "w" => (days(b) - days(a)) / 7,
        "day" | "d" | "dayofmonth" => days(b) - days(a),
        "hour" | "h" | "hr" => secs(b).div_euclid(3600) - secs(a).div_euclid(3600),
        "minute" | "m" | "min" => secs(b).div_euclid(60) - secs(a).div_euclid(60),
        "second" | "sec" => secs(b) - secs(a),
        other => {
            return Err(FunctionError::new(format!(
                "date_diff: unsupported date part '{other}'"
            )));
        }
    })
}

pub(super) fn builtins() -> Vec<FunctionDef> {
    use ArgType::{Number, Text, Timestamp};
    vec![
        FunctionDef::new(
            "try_strptime",
            Arity::Exact(2),
            &[Text, Text],
            Timestamp,
            |a| {
                let s = text_arg(a, 0, "try_strptime")?;
                let f = text_arg(a, 1, "try_strptime")?;
                Ok(strptime(s, f).map_or(Value::Null, Value::Timestamp))
            },
        ),
        FunctionDef::new("strptime", Arity::Exact(2), &[Text, Text], Timestamp, |a| {
            let s = text_arg(a, 0, "strptime")?;
            let f = text_arg(a, 1, "strptime")?;
            strptime(s, f).map(Value::Timestamp).ok_or_else(|| {
                FunctionError::new(format!(
                    "Could not parse string \"{s}\" according to format specifier \"{f}\""
                ))
            })
        }),
        FunctionDef::new("epoch", Arity::Exact(1), &[Timestamp], Number, |a| {
            Ok(Value::Float(epoch_seconds(ts_arg(&a[0], "epoch")?)))
        }),
        FunctionDef::new(
            "date_diff",
            Arity::Exact(3),
            &[Text, Timestamp, Timestamp],
            Number,
            |a| {
                let part = text_arg(a, 0, "date_diff")?;
                Ok(Value::Int(date_diff(
                    part,
                    ts_arg(&a[1], "date_diff")?,
                    ts_arg(&a[2], "date_diff")?,
                )?))
            },
        )
        .aliases(&["datediff"]),
    ]
}

#[cfg(test)]
fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::FunctionRegistry;

    fn call(name: &str, args: &[Value<'_>]) -> Result<Value<'static>, FunctionError> {
        let reg = FunctionRegistry::with_builtins();
        let def = reg.get(name).unwrap();
        if def.null_propagating && args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        (def.implementation)(args).map(Value::into_owned)
    }

    fn parse(s: &str, f: &str) -> Value<'static> {
        call("try_strptime", &[Value::str(s), Value::str(f)]).unwrap()
    }

    // Expected values computed with DuckDB 1.4.0.
    #[test]
    fn strptime_matches_duckdb() {
        let d = |y, m, dd| Value::Timestamp(ts(y, m, dd, 0, 0));
        assert_eq!(parse("2020-01-05", "%Y-%m-%d"), d(2020, 1, 5));
        assert_eq!(parse("2020-1-5", "%Y-%m-%d"), d(2020, 1, 5));
        assert_eq!(parse("19930413", "%Y%m%d"), d(1993, 4, 13));
        assert_eq!(parse("02/03/2020", "%d/%m/%Y"), d(2020, 3, 2));
        assert_eq!(parse(" 2020-01-05", "%Y-%m-%d"), d(2020, 1, 5));
        assert_eq!(parse("2020-01-05 ", "%Y-%m-%d"), d(2020, 1, 5));
        assert_eq!(
            parse("2020-01-05T10:11:12Z", "%Y-%m-%dT%H:%M:%SZ"),
            Value::Timestamp(
                NaiveDate::from_ymd_opt(2020, 1, 5)
                    .unwrap()
                    .and_hms_opt(10, 11, 12)
                    .unwrap()
            )
        );
        assert_eq!(parse("2020-02-30", "%Y-%m-%d"), Value::Null);
        assert_eq!(parse("garbage", "%Y-%m-%d"), Value::Null);
        assert_eq!(parse("", "%Y-%m-%d"), Value::Null);
        assert_eq!(
            call("try_strptime", &[Value::Null, Value::str("%Y")]).unwrap(),
            Value::Null
        );
        let err = call("strptime", &[Value::str("garbage"), Value::str("%Y-%m-%d")]).unwrap_err();
        assert!(err.message.contains("Could not parse string \"garbage\""));
    }

    #[test]
    fn epoch_and_date_diff_match_duckdb() {
        let e = |s: &str, f: &str| call("epoch", &[parse(s, f)]).unwrap();
        assert_eq!(e("2020-01-05", "%Y-%m-%d"), Value::Float(1578182400.0));
        assert_eq!(
            e("2020-01-05 10:00:00.5", "%Y-%m-%d %H:%M:%S.%f"),
            Value::Float(1578218400.5)
        );
        assert_eq!(e("1900-01-01", "%Y-%m-%d"), Value::Float(-2208988800.0));
        assert_eq!(
            call("epoch", &[Value::str("2020-01-05")]).unwrap(),
            Value::Float(1578182400.0)
        );
        let dd = |p: &str, a: NaiveDateTime, b: NaiveDateTime| {
            call(
                "date_diff",
                &[Value::str(p), Value::Timestamp(a), Value::Timestamp(b)],
            )
            .unwrap()
        };
        assert_eq!(
            dd("day", ts(2020, 1, 1, 0, 0), ts(2020, 3, 1, 0, 0)),
            Value::Int(60)
        );
        assert_eq!(
            dd("day", ts(2020, 3, 1, 0, 0), ts(2020, 1, 1, 0, 0)),
            Value::Int(-60)
        );
        assert_eq!(
            dd("month", ts(2020, 1, 31, 0, 0), ts(2020, 2, 1, 0, 0)),
            Value::Int(1)
        );
        assert_eq!(
            dd("year", ts(2019, 12, 31, 0, 0), ts(2020, 1, 1, 0, 0)),
            Value::Int(1)
        );
        assert_eq!(
            dd("day", ts(2020, 1, 1, 23, 0), ts(2020, 1, 2, 1, 0)),
            Value::Int(1)
        );
        assert_eq!(
            dd("hour", ts(2020, 1, 1, 23, 30), ts(2020, 1, 2, 1, 0)),
            Value::Int(2)
        );
        assert_eq!(
            dd("week", ts(2020, 1, 1, 0, 0), ts(2020, 3, 1, 0, 0)),
            Value::Int(8)
        );
        assert_eq!(
            call(
                "datediff",
                &[
                    Value::str("day"),
                    Value::str("2020-01-01"),
                    Value::str("2020-03-01")
                ]
            )
            .unwrap(),
            Value::Int(60)
        );
    }
}
