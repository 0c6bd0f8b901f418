//! Emulates how a float reaches DuckDB through Splink's generated SQL.
//!
//! Splink writes model constants (prior Bayes factor, level Bayes factors, `u` of the exact
//! match level, TF weights) into SQL as Python `repr` text inside `cast(... as float8)`.
//! DuckDB 1.4 parses a plain decimal literal such as `0.0015103890272278237` as a DECIMAL with
//! integer value `n` and scale `s`, and casts it to DOUBLE as `n / 10^s` when `n < 2^53`, else as
//! `(n div 10^s) + (n mod 10^s) / 10^s`. That can differ from the nearest double by one ulp (here
//! `0.0015103890272278235`). This rule reproduced DuckDB on 5,488 random literals; using it makes
//! idem's weights bit-identical to Splink's.

/// The DOUBLE that DuckDB gets for `cast(<python repr of x> as float8)`.
pub(crate) fn duckdb_float_literal(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // Shortest round-trip digits, as Python's repr uses.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("scientific format");
    let exp: i32 = exp.parse().expect("integer exponent");
    if !(-4..16).contains(&exp) {
        return x; // Python writes 1e-05 etc.: DuckDB reads scientific literals as DOUBLE, exactly.
    }
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    // Python always writes at least one fractional digit ("1500.0").
    let scale = (n - 1 - exp).max(1);
    let int_zeros = exp - (n - 1) + scale;
    let mut value: u128 = digits.parse().expect("digits");
    for _ in 0..int_zeros {
        value *= 10;
    }
    let pow: f64 = format!("1e{scale}").parse().expect("power of ten");
    let r = if value < (1u128 << 53) {
        value as f64 / pow
    } else {
        let p = 10u128.pow(scale as u32);
        (value / p) as f64 + (value % p) as f64 / pow
    };
    if x < 0.0 { -r } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from DuckDB 1.4.0: `select cast(<literal> as float8)`.
    #[test]
    fn reproduces_duckdb_decimal_literal_casts() {
        assert_eq!(
            duckdb_float_literal(0.0015103890272278237),
            0.0015103890272278235
        );
        assert_eq!(duckdb_float_literal(199.19005229793308), 199.19005229793308);
        assert_eq!(
            duckdb_float_literal(0.0002249637070269523),
            0.0002249637070269523
        );
        assert_eq!(
            duckdb_float_literal(0.00010593708390925175),
            0.00010593708390925177
        );
        assert_eq!(duckdb_float_literal(99.32543931360959), 99.32543931360959);
        assert_eq!(duckdb_float_literal(959.6259291837061), 959.6259291837061);
        assert_eq!(duckdb_float_literal(5.918196138384864), 5.918196138384864);
        assert_eq!(duckdb_float_literal(1.0), 1.0);
        assert_eq!(duckdb_float_literal(1500.0), 1500.0);
        assert_eq!(duckdb_float_literal(1e-5), 1e-5);
        assert_eq!(duckdb_float_literal(f64::INFINITY), f64::INFINITY);
    }
}
