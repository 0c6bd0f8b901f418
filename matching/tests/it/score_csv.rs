//! `score_csv` writes the harness's pairs format, equal to the reference within 1e-9.

use idem_matching::{ScoreCsvOptions, score_csv};

use crate::common::{PairsCsv, assert_close, data};

#[test]
fn score_csv_writes_reference_pairs_for_febrl() {
    let dir = std::env::temp_dir().join(format!("idem-matching-score-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("febrl.pairs.csv");
    let mut opts = ScoreCsvOptions::new(
        data("febrl/febrl_clean.csv"),
        data("febrl/febrl_model.json"),
        &out,
    );
    opts.explain = true;
    let summary = score_csv(&opts).unwrap();
    assert_eq!(summary.rows_read, 40_000);
    assert_eq!(summary.exact_duplicates_dropped, 0);
    assert_eq!(summary.candidate_pairs, 17_314);
    assert_eq!(summary.pairs_written, 17_314);
    // The prediction phase (what is compared with Splink's predict()) is tf + index + scoring,
    // and its CPU time is measured where /proc is there.
    assert_eq!(
        summary.predict_seconds,
        summary.tf_seconds + summary.index_seconds + summary.scoring_seconds
    );
    assert!(summary.predict_seconds <= summary.total_seconds);
    if cfg!(target_os = "linux") {
        assert!(summary.load_cpu_seconds.is_some_and(|s| s >= 0.0));
        assert!(summary.predict_cpu_seconds.is_some_and(|s| s >= 0.0));
    }

    let ours = PairsCsv::read(&out);
    let reference = PairsCsv::read(&data("splink-reference/febrl_clean.explain.csv"));
    let expected_header = "source_person_id_l,source_person_id_r,match_weight,match_probability,id_l,id_r,match_key,\
        tf_first_name_l,tf_first_name_r,bf_first_name,bf_tf_adj_first_name,tf_last_name_l,tf_last_name_r,bf_last_name,\
        bf_tf_adj_last_name,bf_birth_date,tf_city_l,tf_city_r,bf_city,bf_tf_adj_city,bf_zip_code";
    assert_eq!(ours.header.join(","), expected_header);
    assert_eq!(ours.rows.len(), reference.rows.len());
    for (key, row) in &ours.rows {
        let exp = reference
            .rows
            .get(key)
            .unwrap_or_else(|| panic!("extra pair {key:?}"));
        for (i, name) in ours.header.iter().enumerate() {
            let e = &exp[reference.col(name)];
            match name.as_str() {
                "source_person_id_l" | "source_person_id_r" | "id_l" | "id_r" | "match_key" => {
                    assert_eq!(e, &row[i], "{key:?} {name}")
                }
                "match_weight" | "match_probability" => {
                    let (a, b): (f64, f64) = (e.parse().unwrap(), row[i].parse().unwrap());
                    assert!((a - b).abs() <= 1e-9, "{key:?} {name}: {e} vs {}", row[i]);
                }
                _ => assert_close(&format!("{key:?} {name}"), e, &row[i], 1e-9),
            }
        }
    }
    // Without explain: the 7 base columns only, and a threshold keeps p > threshold strictly.
    opts.explain = false;
    opts.threshold = 0.95;
    let summary = score_csv(&opts).unwrap();
    assert_eq!(
        summary.pairs_written, 16_599,
        "reference summary: pairs_gt_auto at 0.95"
    );
    let ours = PairsCsv::read(&out);
    assert_eq!(ours.header.len(), 7);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn score_csv_drops_exact_duplicates_and_renumbers() {
    let dir = std::env::temp_dir().join(format!("idem-matching-dups-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("in.csv");
    let header = "data_source,source_person_id,first_name,last_name,sex,race,birth_date,death_date,\
        social_security_number,address,city,state,zip_code,county,phone";
    let body = [
        "s,a,ann,lee,,,19900101,,,,x,,1000,,",
        "s,a,ann,lee,,,19900101,,,,x,,1000,,",
        "s,a,ann,lee, ,,19900101,,,,x,,1000,,",
        "s,b,ann,lee,,,19900101,,,,x,,1000,,",
    ];
    std::fs::write(&csv, format!("\u{feff}{header}\n{}\n", body.join("\n"))).unwrap();
    let out = dir.join("out.csv");
    let summary = score_csv(&ScoreCsvOptions::new(
        &csv,
        data("febrl/febrl_model.json"),
        &out,
    ))
    .unwrap();
    assert_eq!(
        (
            summary.rows_read,
            summary.exact_duplicates_dropped,
            summary.records
        ),
        (4, 2, 2)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].starts_with("a,b,") && lines[1].ends_with(",1,2,0"),
        "{}",
        lines[1]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn score_csv_writes_short_long_and_missing_source_person_ids() {
    let dir = std::env::temp_dir().join(format!("idem-matching-spid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("in.csv");
    let header = "data_source,source_person_id,first_name,last_name,sex,race,birth_date,death_date,\
        social_security_number,address,city,state,zip_code,county,phone";
    // Ids that fit in a record's row, one that does not (read from elsewhere), a quoted one
    // and a missing one: every pair of the four records is a candidate.
    let long = "x".repeat(70);
    let body = [
        "s,a,ann,lee,,,19900101,,,,x,,1000,,".to_string(),
        format!("s,{long},ann,lee,,,19900101,,,,y,,1000,,"),
        "s,\"q,1\",ann,lee,,,19900101,,,,z,,1000,,".to_string(),
        "s,,ann,lee,,,19900101,,,,w,,1000,,".to_string(),
    ];
    std::fs::write(&csv, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let out = dir.join("out.csv");
    let summary = score_csv(&ScoreCsvOptions::new(
        &csv,
        data("febrl/febrl_model.json"),
        &out,
    ))
    .unwrap();
    assert_eq!(summary.pairs_written, 6);
    let text = std::fs::read_to_string(&out).unwrap();
    let starts: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| {
            let ids: Vec<&str> = l.rsplitn(4, ',').collect();
            format!("{} {}", ids[2], ids[1])
        })
        .collect();
    assert_eq!(starts, ["1 2", "1 3", "1 4", "2 3", "2 4", "3 4"], "{text}");
    let expected_prefix = [
        format!("a,{long},"),
        "a,\"q,1\",".to_string(),
        "a,,".to_string(),
        format!("{long},\"q,1\","),
        format!("{long},,"),
        "\"q,1\",,".to_string(),
    ];
    for (line, prefix) in text.lines().skip(1).zip(&expected_prefix) {
        assert!(line.starts_with(prefix.as_str()), "{line} / {prefix}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
