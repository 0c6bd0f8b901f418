//! Parity with Splink 4.0.9 (`shared/data/splink-reference/`): same candidate pairs, match keys,
//! weights, probabilities and per-comparison explain columns.

use idem_matching::{
    FunctionRegistry, MatchKeyMode, Model, PredictOptions, Schema, ScoredPair, format_g17,
    read_records_csv,
};

use crate::common::{PairsCsv, assert_close, data};

struct Run {
    pairs: Vec<ScoredPair>,
    model: Model,
}

fn run(csv: &str, model: &str) -> Run {
    let schema = Schema::person_record();
    let json = std::fs::read_to_string(data(model)).unwrap();
    let model = Model::from_json(&json, &schema, &FunctionRegistry::with_builtins()).unwrap();
    let (records, _, _) = read_records_csv(&data(csv), &schema).unwrap();
    let opts = PredictOptions {
        explain: true,
        match_key_mode: MatchKeyMode::Reference,
        ..PredictOptions::default()
    };
    let mut pairs = Vec::new();
    model
        .predict(&records, &opts, |chunk| {
            pairs.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
    Run { pairs, model }
}

fn check(name: &str, csv: &str, model: &str) {
    let Run { pairs, model } = run(csv, model);
    let reference = PairsCsv::read(&data(&format!("splink-reference/{name}.explain.csv")));
    assert_eq!(
        pairs.len(),
        reference.rows.len(),
        "{name}: number of candidate pairs"
    );
    let (mw, mp, mk) = (
        reference.col("match_weight"),
        reference.col("match_probability"),
        reference.col("match_key"),
    );
    let schema = model.schema().clone();
    let mut max_diff = 0.0f64;
    for p in &pairs {
        assert!(p.id_l < p.id_r);
        let row = reference
            .rows
            .get(&(p.id_l, p.id_r))
            .unwrap_or_else(|| panic!("{name}: extra pair {} {}", p.id_l, p.id_r));
        let what = format!("{name} pair ({}, {})", p.id_l, p.id_r);
        assert_eq!(row[mk], p.match_key.to_string(), "{what}: match_key");
        let (ew, ep): (f64, f64) = (row[mw].parse().unwrap(), row[mp].parse().unwrap());
        assert!(
            (ew - p.match_weight).abs() <= 1e-9,
            "{what}: match_weight {ew} vs {}",
            p.match_weight
        );
        assert!(
            (ep - p.match_probability).abs() <= 1e-9,
            "{what}: match_probability {ep} vs {}",
            p.match_probability
        );
        // Stronger than the 1e-9 tolerance: the 17-significant-digit text is identical.
        assert_eq!(
            format_g17(p.match_weight),
            row[mw],
            "{what}: match_weight text"
        );
        assert_eq!(
            format_g17(p.match_probability),
            row[mp],
            "{what}: match_probability text"
        );
        max_diff = max_diff
            .max((ew - p.match_weight).abs())
            .max((ep - p.match_probability).abs());
        for (c, e) in model.comparisons.iter().zip(&p.explain) {
            let out = &c.output_column_name;
            assert_close(
                &format!("{what}: bf_{out}"),
                &row[reference.col(&format!("bf_{out}"))],
                &format_g17(e.bayes_factor),
                1e-9,
            );
            if let Some(tf) = c.tf_column_name(&schema) {
                let f = |v: Option<f64>| v.map(format_g17).unwrap_or_default();
                assert_close(
                    &format!("{what}: tf_{tf}_l"),
                    &row[reference.col(&format!("tf_{tf}_l"))],
                    &f(e.tf_l),
                    1e-9,
                );
                assert_close(
                    &format!("{what}: tf_{tf}_r"),
                    &row[reference.col(&format!("tf_{tf}_r"))],
                    &f(e.tf_r),
                    1e-9,
                );
                assert_close(
                    &format!("{what}: bf_tf_adj_{out}"),
                    &row[reference.col(&format!("bf_tf_adj_{out}"))],
                    &format_g17(e.tf_adjustment_bayes_factor),
                    1e-9,
                );
            }
        }
    }
    eprintln!(
        "{name}: {} pairs, max |diff| of weight/probability = {max_diff:e}",
        pairs.len()
    );
}

#[test]
fn febrl_matches_splink_reference() {
    check(
        "febrl_clean",
        "febrl/febrl_clean.csv",
        "febrl/febrl_model.json",
    );
}

#[test]
fn tuva_synth_matches_splink_reference() {
    check(
        "tuva_synth_clean",
        "tuva_synth/tuva_synth_clean.csv",
        "tuva_synth/tuva_synth_model.json",
    );
}

#[test]
fn output_order_is_deterministic() {
    let a = run(
        "tuva_synth/tuva_synth_clean.csv",
        "tuva_synth/tuva_synth_model.json",
    )
    .pairs;
    let b = run(
        "tuva_synth/tuva_synth_clean.csv",
        "tuva_synth/tuva_synth_model.json",
    )
    .pairs;
    assert_eq!(a, b);
    let keys: Vec<(u32, i64, i64)> = a.iter().map(|p| (p.match_key, p.id_l, p.id_r)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "pairs come out ordered by (match_key, id_l, id_r)"
    );
}

#[test]
fn new_record_restriction_keeps_pairs_touching_new_records() {
    let schema = Schema::person_record();
    let json = std::fs::read_to_string(data("tuva_synth/tuva_synth_model.json")).unwrap();
    let model = Model::from_json(&json, &schema, &FunctionRegistry::with_builtins()).unwrap();
    let (records, _, _) =
        read_records_csv(&data("tuva_synth/tuva_synth_clean.csv"), &schema).unwrap();
    let reference = PairsCsv::read(&data("splink-reference/tuva_synth_clean.explain.csv"));
    let mk = reference.col("match_key");
    let is_new = |id: i64| id % 3 == 0;
    let new_ids: std::collections::HashSet<i64> = records
        .ids()
        .iter()
        .copied()
        .filter(|&id| is_new(id))
        .collect();
    for mode in [MatchKeyMode::Reference, MatchKeyMode::Plain] {
        let opts = PredictOptions {
            new_records: Some(new_ids.clone()),
            match_key_mode: mode,
            ..PredictOptions::default()
        };
        let mut got = std::collections::BTreeMap::new();
        model
            .predict(&records, &opts, |chunk| {
                for p in chunk {
                    assert!(
                        got.insert((p.id_l, p.id_r), p.match_key).is_none(),
                        "pair produced twice"
                    );
                }
                Ok(())
            })
            .unwrap();
        let expected: std::collections::BTreeMap<(i64, i64), u32> = reference
            .rows
            .iter()
            .filter(|((l, r), _)| is_new(*l) || is_new(*r))
            .map(|(&(l, r), row)| {
                let all_new_key: u32 = row[mk].parse().unwrap(); // 2k: every record was new
                let key = match mode {
                    MatchKeyMode::Reference => all_new_key + u32::from(!is_new(l)),
                    MatchKeyMode::Plain => all_new_key / 2,
                };
                ((l, r), key)
            })
            .collect();
        assert!(
            expected.values().any(|k| k % 2 == 1) || mode == MatchKeyMode::Plain,
            "old-vs-new pairs exist"
        );
        assert_eq!(got, expected, "{mode:?}");
    }
}
