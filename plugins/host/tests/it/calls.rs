//! Calls through the ABI: errors and panics become evaluation errors naming the plugin and the
//! function, the process (and the plugin) keep working, and calls are safe from many threads.

use idem_matching::{Error, EvalError, Value};
use idem_plugin_host::Plugins;

use crate::common::{FAULTY, NICKNAME, example, records, score, settings};

#[test]
fn a_panic_or_error_in_a_plugin_fails_the_scoring_naming_plugin_and_function() {
    let plugins = Plugins::load(None, &[example(FAULTY)]).unwrap();
    let registry = plugins.registry();
    let doc = settings(
        &["l.birth_date = r.birth_date"],
        &["fail_on(\"first_name_l\") = fail_on(\"first_name_r\")"],
    );
    let ok = records(&[("ann", "a", "2000-01-01"), ("anne", "b", "2000-01-01")]);
    assert_eq!(score(&doc, &registry, &ok).unwrap().len(), 1);

    for (trigger, expected) in [
        ("panic", "panicked: asked to panic"),
        ("error", "failed: asked to fail"),
    ] {
        let bad = records(&[("ann", "a", "2000-01-01"), (trigger, "b", "2000-01-01")]);
        let err = score(&doc, &registry, &bad).unwrap_err();
        let Error::Eval(EvalError::Function { function, source }) = &err else {
            panic!("expected a function error, got {err:?}");
        };
        assert_eq!(function, "fail_on");
        assert!(
            source
                .message
                .starts_with(&format!("plugin 'faulty' {} (", env!("CARGO_PKG_VERSION")))
                && source.message.contains("libidem_plugin_faulty")
                && source
                    .message
                    .contains(&format!("function fail_on {expected}")),
            "{}",
            source.message
        );
        // The process survived and the plugin still answers.
        assert_eq!(score(&doc, &registry, &ok).unwrap().len(), 1);
    }
}

#[test]
fn calls_from_many_threads_keep_their_own_results() {
    let plugins = Plugins::load(None, &[example(NICKNAME)]).unwrap();
    let registry = plugins.registry();
    let canonical = registry.get("nickname_canonical").unwrap().clone();
    let matches = registry.get("nickname_match").unwrap().clone();
    let names = [
        ("Bobby", "robert"),
        ("Bill", "william"),
        ("kate", "catherine"),
        ("Zebedee", "zebedee"),
        ("Liz", "elizabeth"),
        ("Ted", "edward"),
        ("Chuck", "charles"),
        ("Peggy", "margaret"),
    ];
    std::thread::scope(|s| {
        for t in 0..names.len() {
            let (canonical, matches) = (&canonical, &matches);
            s.spawn(move || {
                for i in 0..5_000 {
                    let (name, formal) = names[(t + i) % names.len()];
                    let got = (canonical.implementation)(&[Value::str(name)]).unwrap();
                    assert_eq!(got, Value::str(formal), "thread {t} call {i}");
                    let same = (matches.implementation)(&[Value::str(name), Value::str(formal)]);
                    assert_eq!(same.unwrap(), Value::Float(1.0));
                }
            });
        }
    });
    // Argument types the plugin rejects come back as its error message.
    let err = (matches.implementation)(&[Value::Int(1), Value::str("bob")]).unwrap_err();
    assert!(
        err.message
            .contains("argument 1 must be VARCHAR, got DOUBLE"),
        "{}",
        err.message
    );
}

#[test]
fn flags_and_result_types_are_honoured() {
    let plugins = Plugins::load(None, &[example(FAULTY)]).unwrap();
    let manifest = plugins.manifest();
    assert_eq!(manifest[0]["functions"][1]["name"], "odd_one");
    assert_eq!(manifest[0]["functions"][1]["deterministic"], false);
    let registry = plugins.registry();
    let odd = registry.get("odd_one").unwrap();
    assert!(!odd.deterministic && !odd.null_propagating);
    let fail_on = registry.get("fail_on").unwrap();
    assert!(fail_on.deterministic && fail_on.null_propagating);

    // NULL reaches a function that handles NULLs; numbers and booleans cross as numbers and
    // booleans; a result of another type than declared is an error naming both.
    let call = |v: Value<'static>| (odd.implementation)(&[v]);
    assert_eq!(call(Value::Null).unwrap(), Value::str("was null"));
    assert_eq!(call(Value::str("x")).unwrap(), Value::str("x"));
    let err = call(Value::str("number")).unwrap_err();
    assert!(
        err.message
            .ends_with("function odd_one returned a number but declares text"),
        "{}",
        err.message
    );
    let err = call(Value::Int(7)).unwrap_err();
    assert!(err.message.contains("returned a number"), "{}", err.message);
    let err = call(Value::Bool(true)).unwrap_err();
    assert!(
        err.message.contains("returned a boolean"),
        "{}",
        err.message
    );
}
