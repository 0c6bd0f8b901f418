//! Overhead of calling a comparator through the plugin ABI versus the same Rust code
//! registered as a built-in (the example plugins' logic files are compiled into this bench).
//!
//! `cargo bench -p idem-plugin-host --bench call_overhead` (optionally `-- ROUNDS`). Builds
//! the example plugins in the release profile first. Prints, per function, ns per call for the
//! built-in and the plugin and their difference; then ns per candidate pair when scoring the
//! FEBRL set with settings that use the functions, built-in versus plugin.
#![allow(
    missing_docs,
    unreachable_pub,
    clippy::print_stdout,
    reason = "a benchmark binary that reports on stdout"
)]

#[allow(
    dead_code,
    unused_imports,
    reason = "compiled from the plugin's source (and its unit tests' imports); not every item is used"
)]
#[path = "../../examples/nickname/src/names.rs"]
mod names;

#[allow(
    dead_code,
    unused_imports,
    reason = "compiled from the plugin's source (and its unit tests' imports); not every item is used"
)]
#[path = "../../examples/dmetaphone/src/codes.rs"]
mod codes;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use idem_matching::{
    ArgType, Arity, FunctionDef, FunctionImpl, FunctionRegistry, Model, PredictOptions, Schema,
    Value, read_records_csv,
};
use idem_plugin_host::Plugins;
use idem_plugin_host::testing::example;

/// The example functions registered as built-ins, with the plugins' names.
fn builtins() -> FunctionRegistry {
    let mut r = FunctionRegistry::with_builtins();
    fn text<'v>(args: &'v [Value<'_>], i: usize) -> &'v str {
        args[i].as_str().unwrap_or_default()
    }
    r.register(FunctionDef::new(
        "nickname_match",
        Arity::Exact(2),
        &[ArgType::Text, ArgType::Text],
        ArgType::Number,
        move |a| {
            let same = names::same_name(text(a, 0), text(a, 1));
            Ok(Value::Float(if same { 1.0 } else { 0.0 }))
        },
    ))
    .unwrap();
    r.register(FunctionDef::new(
        "nickname_canonical",
        Arity::Exact(1),
        &[ArgType::Text],
        ArgType::Text,
        move |a| Ok(Value::string(names::canonical(text(a, 0)))),
    ))
    .unwrap();
    r.register(FunctionDef::new(
        "dmetaphone",
        Arity::Exact(1),
        &[ArgType::Text],
        ArgType::Text,
        move |a| Ok(Value::string(codes::primary(text(a, 0)))),
    ))
    .unwrap();
    r
}

/// Nanoseconds per call of `f` and of `g` over `inputs`: best of `rounds`, the two measured
/// alternately so that load from other processes hits both alike.
fn ns_per_call(
    f: &FunctionImpl,
    g: &FunctionImpl,
    inputs: &[Vec<Value<'_>>],
    rounds: usize,
) -> (f64, f64) {
    let once = |h: &FunctionImpl| {
        let t = Instant::now();
        for args in inputs {
            black_box(h(black_box(args)).unwrap());
        }
        t.elapsed().as_nanos() as f64 / inputs.len() as f64
    };
    let (mut best_f, mut best_g) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds {
        best_f = best_f.min(once(f));
        best_g = best_g.min(once(g));
    }
    (best_f, best_g)
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let plugins = Plugins::load(
        None,
        &[
            example("idem-plugin-nickname"),
            example("idem-plugin-dmetaphone"),
        ],
    )
    .expect("example plugins load");
    let (plugin, builtin) = (plugins.registry(), builtins());

    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/febrl/febrl_clean.csv");
    let (records, _, _) = read_records_csv(&data, &Schema::person_record()).expect("FEBRL set");
    let schema = Schema::person_record();
    let column = |name: &str| -> Vec<String> {
        let c = schema.index_of(name).unwrap();
        (0..records.len())
            .filter_map(|i| records.value(i, c).map(str::to_owned))
            .take(20_000)
            .collect()
    };
    let (first, last) = (column("first_name"), column("last_name"));
    let pairs: Vec<Vec<Value<'_>>> = first
        .windows(2)
        .map(|w| vec![Value::str(&w[0]), Value::str(&w[1])])
        .collect();
    let (first1, last1) = (singles(&first), singles(&last));

    println!(
        "per call (best of {rounds} rounds, {} calls each):",
        pairs.len()
    );
    println!(
        "{:<22} {:>12} {:>12} {:>12}",
        "function", "built-in ns", "plugin ns", "overhead ns"
    );
    for (name, inputs) in [
        ("nickname_match", &pairs),
        ("nickname_canonical", &first1),
        ("dmetaphone", &last1),
    ] {
        let (b, p) = ns_per_call(
            &builtin.get(name).unwrap().implementation,
            &plugin.get(name).unwrap().implementation,
            inputs,
            rounds,
        );
        println!("{name:<22} {b:>12.1} {p:>12.1} {:>12.1}", p - b);
    }

    // Scoring: every candidate pair evaluates the plugin levels until one matches.
    let settings = serde_json::json!({
        "link_type": "dedupe_only",
        "probability_two_random_records_match": 0.0001,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": "l.birth_date = r.birth_date"}
        ],
        "comparisons": [
            {"output_column_name": "first_name", "comparison_levels": [
                {"sql_condition": "first_name_l IS NULL OR first_name_r IS NULL", "is_null_level": true},
                {"sql_condition": "first_name_l = first_name_r", "m_probability": 0.7, "u_probability": 0.01},
                {"sql_condition": "nickname_match(first_name_l, first_name_r) >= 1",
                 "m_probability": 0.1, "u_probability": 0.01},
                {"sql_condition": "ELSE", "m_probability": 0.2, "u_probability": 0.98}]},
            {"output_column_name": "last_name", "comparison_levels": [
                {"sql_condition": "last_name_l IS NULL OR last_name_r IS NULL", "is_null_level": true},
                {"sql_condition": "last_name_l = last_name_r", "m_probability": 0.7, "u_probability": 0.01},
                {"sql_condition": "dmetaphone(last_name_l) = dmetaphone(last_name_r)",
                 "m_probability": 0.1, "u_probability": 0.02},
                {"sql_condition": "ELSE", "m_probability": 0.2, "u_probability": 0.97}]}
        ]
    })
    .to_string();
    let models = [&builtin, &plugin]
        .map(|registry| Model::from_json(&settings, &schema, registry).expect("settings compile"));
    let mut best = [f64::INFINITY; 2];
    let mut n = 0;
    for _ in 0..rounds {
        for (model, best) in models.iter().zip(&mut best) {
            let t = Instant::now();
            let stats = model
                .predict(&records, &PredictOptions::default(), |chunk| {
                    black_box(chunk);
                    Ok(())
                })
                .expect("scoring");
            *best = best.min(t.elapsed().as_secs_f64());
            n = stats.candidate_pairs;
        }
    }
    let [b, p] = best;
    let per_pair = |s: f64| s * 1e9 / n as f64;
    println!(
        "scoring {} FEBRL records, {n} candidate pairs (rayon, {} threads), best of {}:",
        records.len(),
        rayon_threads(),
        rounds
    );
    println!(
        "  built-in {:.1} ns/pair ({b:.3} s), plugin {:.1} ns/pair ({p:.3} s), overhead {:.1} ns/pair ({:+.1}%)",
        per_pair(b),
        per_pair(p),
        per_pair(p) - per_pair(b),
        (p / b - 1.0) * 100.0
    );
}

fn singles(v: &[String]) -> Vec<Vec<Value<'_>>> {
    v.iter().map(|s| vec![Value::str(s)]).collect()
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
