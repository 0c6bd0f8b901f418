//! Example idem comparator plugin: Double Metaphone phonetic codes (via `rphonetic`).
//!
//! * `dmetaphone(name)`: the primary code (at most 4 characters), e.g. `SM0` for Smith.
//! * `dmetaphone_alt(name)`: the alternate code (`XMT` for Smith).
//!
//! Typical use, as a blocking rule or a comparison level:
//! `dmetaphone(l.last_name) = dmetaphone(r.last_name)`.

mod codes;

use idem_plugin_abi::{Function, Type, Value, declare_plugin};

fn text<'v>(args: &'v [Value<'_>], i: usize) -> Result<&'v str, String> {
    args[i].as_str().ok_or_else(|| {
        format!(
            "argument {} must be VARCHAR, got {}",
            i + 1,
            args[i].type_name()
        )
    })
}

fn dmetaphone<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
    Ok(Value::from(codes::primary(text(args, 0)?)))
}

fn dmetaphone_alt<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
    Ok(Value::from(codes::alternate(text(args, 0)?)))
}

fn functions() -> Vec<Function> {
    vec![
        Function::new("dmetaphone", &[Type::Text], Type::Text, dmetaphone),
        Function::new("dmetaphone_alt", &[Type::Text], Type::Text, dmetaphone_alt),
    ]
}

declare_plugin!(
    name: "dmetaphone",
    version: env!("CARGO_PKG_VERSION"),
    functions: functions,
);
