//! `idem score` on the FEBRL set: the pairs it writes score exactly like Splink's own pairs under the
//! benchmark harness's `score.py` (ground truth in `source_person_id`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(path)
}

/// The Python with numpy, pandas and scipy that `.ci/run` sets up (`IDEM_TEST_PYTHON`), else `python3`.
fn python() -> String {
    std::env::var("IDEM_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn score_py(csv: &Path, pairs: &Path, json: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg(shared("bench/score.py"))
        .arg(csv)
        .arg(pairs)
        .arg("--truth")
        .arg("febrl")
        .arg("--json")
        .arg(json)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "score.py failed (set IDEM_TEST_PYTHON to a Python with numpy, pandas and scipy; .ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn idem_score_pairs_score_like_splinks() {
    let dir = std::env::temp_dir().join(format!("idem-score-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = shared("data/febrl/febrl_clean.csv");
    let pairs = dir.join("pairs.csv");
    let status = Command::new(env!("CARGO_BIN_EXE_idem"))
        .arg("score")
        .arg(&csv)
        .arg(shared("data/febrl/febrl_model.json"))
        .arg("--out")
        .arg(&pairs)
        .env("RUST_LOG", "warn")
        .status()
        .expect("idem runs");
    assert!(status.success());
    let header = std::fs::read_to_string(&pairs)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(header.starts_with(
        "source_person_id_l,source_person_id_r,match_weight,match_probability,id_l,id_r"
    ));

    let ours = score_py(&csv, &pairs, &dir.join("ours.json"));
    let splink = score_py(
        &csv,
        &shared("data/splink-reference/febrl_clean.pairs.csv"),
        &dir.join("splink.json"),
    );
    let strip = |mut v: serde_json::Value| {
        // The file names differ; every metric must not.
        if let Some(o) = v.as_object_mut() {
            o.remove("pairs");
            o.remove("csv");
        }
        v
    };
    let (ours, splink) = (strip(ours), strip(splink));
    assert!(
        ours.as_object().is_some_and(|o| !o.is_empty()),
        "score.py reported nothing: {ours}"
    );
    assert_eq!(ours, splink);
    std::fs::remove_dir_all(&dir).unwrap();
}
