//! Test plugin for the host's failure paths (not for production).
//!
//! `fail_on(x)` returns `x`, except: `'error'` returns an error, `'panic'` panics.
//! `odd_one(x)` sees NULLs, is non-deterministic and breaks its declared type for `'number'`. With the
//! `other-abi` feature the library declares ABI version 999, with `builtin-clash` it also
//! declares `levenshtein`: the host must refuse both.

use idem_plugin_abi::{Function, Type, Value, declare_plugin};

fn fail_on<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
    match args[0].as_str() {
        Some("error") => Err("asked to fail".to_owned()),
        Some("panic") => panic!("asked to panic"),
        _ => Ok(args[0].clone()),
    }
}

/// Declared to return text, returns a number for `'number'`; sees NULLs (true for NULL).
fn odd_one<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
    Ok(match &args[0] {
        Value::Null => Value::Text("was null".into()),
        Value::Text(s) if s == "number" => Value::Number(1.0),
        other => other.clone(),
    })
}

fn functions() -> Vec<Function> {
    let mut functions = vec![
        Function::new("fail_on", &[Type::Text], Type::Text, fail_on),
        Function::new("odd_one", &[Type::Text], Type::Text, odd_one)
            .handles_nulls()
            .non_deterministic(),
    ];
    if cfg!(feature = "builtin-clash") {
        functions.push(Function::new(
            "levenshtein",
            &[Type::Text],
            Type::Text,
            fail_on,
        ));
    }
    functions
}

#[cfg(not(feature = "other-abi"))]
declare_plugin!(
    name: "faulty",
    version: env!("CARGO_PKG_VERSION"),
    functions: functions,
);

#[cfg(feature = "other-abi")]
declare_plugin!(
    @abi 999,
    name: "faulty",
    version: env!("CARGO_PKG_VERSION"),
    functions: functions,
);
