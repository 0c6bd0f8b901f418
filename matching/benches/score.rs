//! Scoring benchmark (plain `harness = false` binary).
//!
//! `cargo bench -p idem-matching --bench score` scores `IDEM_BENCH_CSV` (default: the FEBRL
//! 40k file) with `IDEM_BENCH_SETTINGS` (default: the FEBRL model) `IDEM_BENCH_ITERS` times
//! (default 5) and prints load / predict / total timings. Output pairs are counted, not written.

use std::path::PathBuf;
use std::time::Instant;

use idem_matching::{FunctionRegistry, Model, PredictOptions, Schema, read_records_csv};

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/")).join(default)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let csv = env_path("IDEM_BENCH_CSV", "febrl/febrl_clean.csv");
    let settings = env_path("IDEM_BENCH_SETTINGS", "febrl/febrl_model.json");
    let iters: usize = std::env::var("IDEM_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let schema = Schema::person_record();
    let model = Model::from_json(
        &std::fs::read_to_string(&settings)?,
        &schema,
        &FunctionRegistry::with_builtins(),
    )?;
    let t = Instant::now();
    let (records, _, _) = read_records_csv(&csv, &schema)?;
    let load = t.elapsed();
    eprintln!(
        "{}: {} records loaded in {:.3} s",
        csv.display(),
        records.len(),
        load.as_secs_f64()
    );
    for explain in [false, true] {
        let mut best = f64::INFINITY;
        let mut pairs = 0u64;
        for _ in 0..iters {
            let t = Instant::now();
            let opts = PredictOptions {
                explain,
                ..PredictOptions::default()
            };
            let mut n = 0u64;
            let stats = model.predict(&records, &opts, |chunk| {
                n += chunk.len() as u64;
                Ok(())
            })?;
            best = best.min(t.elapsed().as_secs_f64());
            pairs = n;
            eprintln!(
                "  explain={explain}: {n} pairs, tf {:.3} s, index {:.3} s, scoring {:.3} s, total {:.3} s",
                stats.tf_seconds,
                stats.index_seconds,
                stats.scoring_seconds,
                t.elapsed().as_secs_f64()
            );
        }
        eprintln!(
            "predict explain={explain}: best of {iters}: {best:.3} s for {pairs} pairs ({:.0} pairs/s)",
            pairs as f64 / best
        );
    }
    Ok(())
}
