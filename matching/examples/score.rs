//! Scores a person-records CSV with a Splink settings JSON, like `idem score`.
//!
//! `cargo run --release -p idem-matching --example score -- CSV SETTINGS OUT [--threshold P] [--explain]`
//! Prints the run summary as JSON on stderr.

use idem_matching::{ScoreCsvOptions, score_csv};

fn main() -> anyhow_free::Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, settings, out, rest @ ..] = args.as_slice() else {
        return Err("usage: score CSV SETTINGS OUT [--threshold P] [--explain]".into());
    };
    let mut opts = ScoreCsvOptions::new(csv, settings, out);
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--explain" => opts.explain = true,
            "--threshold" => {
                opts.threshold = it.next().ok_or("--threshold needs a value")?.parse()?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let summary = score_csv(&opts)?;
    eprintln!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// A boxed error result, so the example needs no extra dependency.
mod anyhow_free {
    /// `main`'s result type.
    pub(crate) type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
