//! Built-in NULL-handling and numeric functions: `coalesce`, `nullif`, `greatest`, `least`, `abs`.

use std::cmp::Ordering;

use super::{ArgType, Arity, FunctionDef};
use crate::error::FunctionError;
use crate::value::{Value, sql_cmp};

fn extreme<'a>(args: &[Value<'a>], want: Ordering, name: &str) -> Result<Value<'a>, FunctionError> {
    let mut best: Option<&Value<'a>> = None;
    for v in args.iter().filter(|v| !v.is_null()) {
        best = match best {
            None => Some(v),
            Some(b) => {
                let ord = sql_cmp(v, b).map_err(|e| FunctionError::new(format!("{name}: {e}")))?;
                if ord == Some(want) { Some(v) } else { Some(b) }
            }
        };
    }
    Ok(match best {
        // Mixed INTEGER/DOUBLE arguments yield a DOUBLE, as in DuckDB.
        Some(Value::Int(i)) if args.iter().any(|a| matches!(a, Value::Float(_))) => {
            Value::Float(*i as f64)
        }
        Some(v) => v.clone(),
        None => Value::Null,
    })
}

pub(super) fn builtins() -> Vec<FunctionDef> {
    use ArgType::{Any, Number};
    vec![
        FunctionDef::new("coalesce", Arity::AtLeast(1), &[Any], Any, |a| {
            Ok(a.iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null))
        })
        .handles_nulls(),
        FunctionDef::new("nullif", Arity::Exact(2), &[Any, Any], Any, |a| {
            let eq =
                sql_cmp(&a[0], &a[1]).map_err(|e| FunctionError::new(format!("nullif: {e}")))?;
            Ok(if eq == Some(Ordering::Equal) {
                Value::Null
            } else {
                a[0].clone()
            })
        })
        .handles_nulls(),
        FunctionDef::new("greatest", Arity::AtLeast(1), &[Any], Any, |a| {
            extreme(a, Ordering::Greater, "greatest")
        })
        .handles_nulls(),
        FunctionDef::new("least", Arity::AtLeast(1), &[Any], Any, |a| {
            extreme(a, Ordering::Less, "least")
        })
        .handles_nulls(),
        FunctionDef::new("abs", Arity::Exact(1), &[Number], Number, |a| match &a[0] {
            Value::Int(i) => i
                .checked_abs()
                .map(Value::Int)
                .ok_or_else(|| FunctionError::new("abs: integer overflow")),
            Value::Float(f) => Ok(Value::Float(f.abs())),
            other => Err(FunctionError::new(format!(
                "abs: expected a number, got {}",
                other.type_name()
            ))),
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::FunctionRegistry;

    fn call(name: &str, args: &[Value<'_>]) -> Value<'static> {
        let reg = FunctionRegistry::with_builtins();
        let def = reg.get(name).unwrap();
        if def.null_propagating && args.iter().any(Value::is_null) {
            return Value::Null;
        }
        (def.implementation)(args).unwrap().into_owned()
    }

    // Expected values computed with DuckDB 1.4.0.
    #[test]
    fn null_handling_functions_match_duckdb() {
        assert_eq!(
            call("coalesce", &[Value::Null, Value::str("a"), Value::str("b")]),
            Value::str("a")
        );
        assert_eq!(call("coalesce", &[Value::Null, Value::Null]), Value::Null);
        assert_eq!(
            call("nullif", &[Value::str(""), Value::str("")]),
            Value::Null
        );
        assert_eq!(
            call("nullif", &[Value::str("a"), Value::Null]),
            Value::str("a")
        );
        assert_eq!(
            call("greatest", &[Value::Int(1), Value::Null, Value::Int(3)]),
            Value::Int(3)
        );
        assert_eq!(
            call("least", &[Value::str("b"), Value::str("a"), Value::Null]),
            Value::str("a")
        );
        assert_eq!(call("greatest", &[Value::Null, Value::Null]), Value::Null);
        assert_eq!(
            call("greatest", &[Value::Int(1), Value::Float(2.5)]),
            Value::Float(2.5)
        );
        assert_eq!(call("abs", &[Value::Int(-3)]), Value::Int(3));
        assert_eq!(call("abs", &[Value::Float(-2.5)]), Value::Float(2.5));
        assert_eq!(call("abs", &[Value::Null]), Value::Null);
    }
}
