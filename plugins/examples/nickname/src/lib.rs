//! Example idem comparator plugin: first-name nickname equivalence from a bundled table.
//!
//! * `nickname_match(a, b)`: 1 if the names are equal or nicknames of one formal name
//!   (Bob = Robert = Bobby), else 0; case-insensitive.
//! * `nickname_canonical(name)`: a formal name for `name` (lower-case), usable in blocking
//!   rules: `nickname_canonical(l.first_name) = nickname_canonical(r.first_name)`.

mod names;

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

fn nickname_match<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
    let same = names::same_name(text(args, 0)?, text(args, 1)?);
    Ok(Value::Number(if same { 1.0 } else { 0.0 }))
}

fn nickname_canonical<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
    Ok(Value::from(names::canonical(text(args, 0)?)))
}

fn functions() -> Vec<Function> {
    vec![
        Function::new(
            "nickname_match",
            &[Type::Text, Type::Text],
            Type::Number,
            nickname_match,
        ),
        Function::new(
            "nickname_canonical",
            &[Type::Text],
            Type::Text,
            nickname_canonical,
        ),
    ]
}

declare_plugin!(
    name: "nickname",
    version: env!("CARGO_PKG_VERSION"),
    functions: functions,
);
