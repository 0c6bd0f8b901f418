//! A conformance check for plugin libraries: what every plugin must satisfy beyond loading.
//!
//! [`check`] loads one library the way idem does and calls every function with a spread of
//! arguments of its declared types (empty, blank-padded, non-ASCII and long text; zero,
//! negative, fractional and huge numbers; both booleans; NULL for functions that handle NULLs),
//! then again from several threads at once. It reports a function that panics, returns another
//! type than it declares, or, if declared deterministic, answers differently to the same
//! arguments (across calls or threads). Plugin authors run it from a test; the example plugins do.

use std::path::Path;

use idem_matching::{ArgType, FunctionDef, Value};

use crate::Plugins;

/// Threads calling at once in the concurrency pass.
const THREADS: usize = 4;
/// Argument combinations tried per function.
const COMBINATIONS: usize = 48;

fn samples(t: ArgType) -> Vec<Value<'static>> {
    match t {
        ArgType::Number => [0.0, 1.0, -1.0, 0.5, 1e12, -273.15]
            .into_iter()
            .map(Value::Float)
            .chain([Value::Int(42)])
            .collect(),
        ArgType::Boolean => vec![Value::Bool(true), Value::Bool(false)],
        _ => [
            "",
            "a",
            "Robert",
            "SMITH",
            "  padded  ",
            "O'Brien-Smith",
            "Zoë Ñúñez",
            "日本語",
            "ab\u{0}cd",
        ]
        .into_iter()
        .map(Value::str)
        .chain([Value::string("x".repeat(5000))])
        .collect(),
    }
}

/// Argument lists for `def`: position `i` of combination `k` takes sample `(k * (i + 1)) % n`,
/// so positions vary independently; plus all-NULL and one-NULL lists if NULLs reach it.
fn combinations(def: &FunctionDef, arity: usize) -> Vec<Vec<Value<'static>>> {
    let per_arg: Vec<Vec<Value<'static>>> = (0..arity).map(|i| samples(def.arg_type(i))).collect();
    let mut out: Vec<Vec<Value<'static>>> = (0..COMBINATIONS)
        .map(|k| {
            per_arg
                .iter()
                .enumerate()
                .map(|(i, s)| s[(k * (i + 1) + k / s.len()) % s.len()].clone())
                .collect()
        })
        .collect();
    if !def.null_propagating && arity > 0 {
        out.push(vec![Value::Null; arity]);
        let mut one = out[0].clone();
        one[0] = Value::Null;
        out.push(one);
    }
    out
}

fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

type Outcome = Result<Value<'static>, String>;

fn call(def: &FunctionDef, args: &[Value<'static>]) -> Outcome {
    (def.implementation)(args)
        .map(Value::into_owned)
        .map_err(|e| e.message)
}

/// Checks the plugin library at `path`; returns the problems found (empty: it conforms).
pub fn check(path: &Path) -> Vec<String> {
    let plugins = match Plugins::load(None, &[path.to_owned()]) {
        Ok(p) => p,
        Err(e) => return vec![format!("does not load: {e}")],
    };
    let registry = plugins.registry();
    let mut problems = Vec::new();
    let Some(plugin) = plugins.plugins().first() else {
        return vec!["loaded nothing".into()];
    };
    if plugin.functions.is_empty() {
        problems.push(format!("plugin '{}' declares no functions", plugin.name));
    }
    for f in &plugin.functions {
        let def = registry.get(&f.name).expect("registered by load");
        let inputs = combinations(def, f.arity);
        let first: Vec<Outcome> = inputs.iter().map(|a| call(def, a)).collect();
        for (args, outcome) in inputs.iter().zip(&first) {
            if let Err(message) = outcome
                && (message.contains(" panicked: ") || message.contains(" returned "))
            {
                problems.push(format!("{}({args:?}): {message}", f.name));
            }
        }
        if !def.deterministic {
            continue;
        }
        let again: Vec<Outcome> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (inputs, def) = (&inputs, &def);
                    s.spawn(move || {
                        // Each thread walks the inputs from another start, many times.
                        let mut out = vec![Ok(Value::Null); inputs.len()];
                        for round in 0..8 {
                            for k in 0..inputs.len() {
                                let k = (k + t * 7 + round) % inputs.len();
                                out[k] = call(def, &inputs[k]);
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a checking thread"))
                .collect()
        });
        for (k, outcome) in again.iter().enumerate() {
            let k = k % inputs.len();
            let agree = match (&first[k], outcome) {
                (Ok(a), Ok(b)) => same(a, b),
                (Err(a), Err(b)) => a == b,
                _ => false,
            };
            if !agree {
                problems.push(format!(
                    "{}({:?}) is declared deterministic but gave {:?} then {:?} (from another thread)",
                    f.name, inputs[k], first[k], outcome
                ));
                break;
            }
        }
    }
    problems
}
