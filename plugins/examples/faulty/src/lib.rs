//! Test plugin for the host's failure paths (not for production).
//!
//! `fail_on(x)` returns `x`, except: `'error'` returns an error, `'panic'` panics. With the
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

fn functions() -> Vec<Function> {
    let mut functions = vec![Function::new("fail_on", &[Type::Text], Type::Text, fail_on)];
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
