//! Float formatting identical to Python's / C's `"%.17g"` (what the reference harness writes).

/// Formats like `"%.17g"`: 17 significant digits, trailing zeros removed, scientific notation
/// when the exponent is < -4 or >= 17 (`1`, `0.99999999999742928`, `2.5825112339238675e-05`).
/// NaN and infinities are written as pandas writes them (`nan` is written as an empty field by
/// the caller; here `inf`, `-inf`, `nan`).
pub fn format_g17(x: f64) -> String {
    let mut s = Vec::with_capacity(24);
    write_g17(&mut s, x);
    String::from_utf8(s).expect("ASCII")
}

/// A fixed stack buffer for `{:.16e}` output (at most 24 bytes: `-d.dddddddddddddddde-308`).
struct SciBuf {
    buf: [u8; 32],
    len: usize,
}

impl std::fmt::Write for SciBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends [`format_g17`]`(x)` (ASCII) to `out` without allocating: the text is built in a
/// stack buffer and appended at once.
pub(crate) fn write_g17(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let mut digits = [0u8; 17];
    let exp = match exact_digits(x.abs(), &mut digits) {
        Some(exp) => exp,
        None => fmt_digits(x.abs(), &mut digits),
    };
    // At most `-` + 17 digits + `.` + `e-308`, or `-0.000` + 17 digits.
    let mut buf = [0u8; 32];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        buf[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    let trim = |d: &[u8]| -> usize { d.iter().rposition(|&b| b != b'0').map_or(0, |p| p + 1) };
    if x.is_sign_negative() {
        put(b"-");
    }
    if !(-4..17).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let rest = &rest[..trim(rest)];
        put(first);
        if !rest.is_empty() {
            put(b".");
            put(rest);
        }
        put(if exp < 0 { b"e-" } else { b"e+" });
        let a = exp.unsigned_abs();
        if a >= 100 {
            put(&[b'0' + (a / 100) as u8]);
        }
        put(&[b'0' + (a / 10 % 10) as u8, b'0' + (a % 10) as u8]);
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        let (int_part, frac) = digits.split_at(int_len);
        put(int_part);
        let frac = &frac[..trim(frac)];
        if !frac.is_empty() {
            put(b".");
            put(frac);
        }
    } else {
        put(b"0.");
        put(&b"000"[..(-exp - 1) as usize]);
        put(&digits[..trim(&digits)]);
    }
    out.extend_from_slice(&buf[..n]);
}

/// The two-digit decimal strings "00" to "99", back to back.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// `10^k` for `k` in `0..=22`.
const POW10: [u128; 23] = {
    let mut t = [1u128; 23];
    let mut k = 1;
    while k < t.len() {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// Appends the decimal digits of `v` to `out` (like `write!(out, "{v}")`, faster).
pub(crate) fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        i -= 2;
        let pair = v as usize * 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the decimal digits of `v` (with `-` if negative) to `out`.
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// The 17 significant digits (ASCII, into `digits`) and the decimal exponent of positive
/// finite `x`, rounded half to even on its exact binary value, computed with integer
/// arithmetic: `x = m * 2^e`, so `x * 10^k = m * 10^k / 2^-e` is exact in a `u128` for the
/// values scores take (about 1e-6 to 1e16). None outside that range (see [`fmt_digits`]).
fn exact_digits(x: f64, digits: &mut [u8; 17]) -> Option<i32> {
    const E16: u64 = 10_000_000_000_000_000;
    const E17: u64 = 100_000_000_000_000_000;
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        return None; // subnormal
    }
    let m = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
    // x = m * 2^-shift.
    let shift = 1075 - biased;
    if !(1..128).contains(&shift) {
        return None;
    }
    // Decimal exponent estimate, floor(log10(2^(biased - 1023))) (1233 / 4096 ~ log10(2)):
    // the mantissa's factor in [1, 2) may add one, which the loop below corrects.
    let mut d = ((biased - 1023) * 1233) >> 12;
    for _ in 0..3 {
        let k = 16 - d;
        if !(0..=22).contains(&k) {
            return None;
        }
        let n = m * POW10[k as usize];
        let q = n >> shift;
        if q >= u128::from(E17) {
            d += 1;
            continue;
        }
        if q < u128::from(E16) {
            d -= 1;
            continue;
        }
        let rem = n & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let mut q = q as u64;
        if rem > half || (rem == half && q % 2 == 1) {
            q += 1;
        }
        if q == E17 {
            q = E16;
            d += 1;
        }
        // Two independent halves of 9 and 8 digits, in 32-bit arithmetic, two digits at a time.
        let (mut hi, mut lo) = ((q / 100_000_000) as u32, (q % 100_000_000) as u32);
        for k in (0..4).rev() {
            let (l, h) = ((lo % 100) as usize * 2, (hi % 100) as usize * 2);
            digits[9 + 2 * k..11 + 2 * k].copy_from_slice(&DIGIT_PAIRS[l..l + 2]);
            digits[1 + 2 * k..3 + 2 * k].copy_from_slice(&DIGIT_PAIRS[h..h + 2]);
            lo /= 100;
            hi /= 100;
        }
        digits[0] = b'0' + hi as u8;
        return Some(d);
    }
    None
}

/// [`exact_digits`] through `{:.16e}` (Rust's exact formatting, correctly rounded like glibc's
/// printf), for any positive finite `x`.
fn fmt_digits(x: f64, digits: &mut [u8; 17]) -> i32 {
    use std::fmt::Write;
    let mut sci = SciBuf {
        buf: [0; 32],
        len: 0,
    };
    write!(sci, "{x:.16e}").expect("a finite f64 fits in 32 bytes");
    let text = &sci.buf[..sci.len];
    let e_at = text
        .iter()
        .position(|&b| b == b'e')
        .expect("scientific format has an exponent");
    let mut exp: i32 = 0;
    let (eneg, edigits) = match &text[e_at + 1..] {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    for &d in edigits {
        exp = exp * 10 + i32::from(d - b'0');
    }
    let mut nd = 0;
    for &b in &text[..e_at] {
        if b.is_ascii_digit() {
            digits[nd] = b;
            nd += 1;
        }
    }
    debug_assert_eq!(nd, 17);
    if eneg { -exp } else { exp }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings produced by Python: "%.17g" % x.
    #[test]
    fn matches_python_percent_17g() {
        assert_eq!(format_g17(0.999_999_999_997_429_3), "0.99999999999742928");
        assert_eq!(format_g17(38.500984009654566), "38.500984009654566");
        assert_eq!(format_g17(2.5825112339238675e-05), "2.5825112339238675e-05");
        assert_eq!(format_g17(1.0), "1");
        assert_eq!(format_g17(0.0), "0");
        assert_eq!(format_g17(-3.5), "-3.5");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1e17), "1e+17");
        assert_eq!(format_g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_g17(1e16), "10000000000000000");
        assert_eq!(format_g17(0.0001), "0.0001");
        assert_eq!(format_g17(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_g17(4317.5631890215855), "4317.5631890215855");
        assert_eq!(format_g17(-1.5e-300), "-1.5000000000000001e-300");
        assert_eq!(format_g17(f64::INFINITY), "inf");
        assert_eq!(format_g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_g17(-0.0), "-0");
        assert_eq!(format_g17(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(format_g17(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        assert_eq!(format_g17(5e-324), "4.9406564584124654e-324");
        assert_eq!(format_g17(-123.0), "-123");
    }

    /// The integer fast path equals Rust's exact formatting wherever it answers, including
    /// halfway cases and values next to powers of ten.
    #[test]
    fn exact_digits_equal_formatted_digits() {
        let check = |x: f64| {
            let (mut a, mut b) = ([0u8; 17], [0u8; 17]);
            if let Some(e) = exact_digits(x, &mut a) {
                assert_eq!((e, a), (fmt_digits(x, &mut b), b), "{x:e}");
                true
            } else {
                false
            }
        };
        let mut answered = 0;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..300_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let x = match i % 3 {
                0 => unit,
                1 => 10f64.powf(unit * 24.0 - 7.0),
                _ => f64::from_bits((state >> 12) | (0x3f0 << 52)),
            };
            answered += usize::from(check(x));
        }
        assert!(answered > 250_000, "the fast path covers score values");
        for p in -8..18 {
            let t = 10f64.powi(p);
            for x in [t, t.next_up(), t.next_down(), 0.5 * t, 2.5 * t] {
                check(x);
            }
        }
        // Exact binary values with 18 significant digits ending in 5: halfway between two
        // 17-digit values (round half to even: down, then up).
        for (x, digits) in [
            (1_234_567_890_123_456.2_f64, b"12345678901234562"),
            (1_234_567_890_123_457.8_f64, b"12345678901234578"),
        ] {
            assert!(check(x));
            let mut a = [0u8; 17];
            exact_digits(x, &mut a);
            assert_eq!(&a, digits);
        }
    }

    /// The allocation-free writer equals the straightforward reference implementation.
    #[test]
    fn matches_reference_implementation() {
        fn reference(x: f64) -> String {
            let sci = format!("{:.16e}", x);
            let (mantissa, exp) = sci.split_once('e').unwrap();
            let exp: i32 = exp.parse().unwrap();
            let negative = mantissa.starts_with('-');
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            let sign = if negative { "-" } else { "" };
            if !(-4..17).contains(&exp) {
                let (first, rest) = digits.split_at(1);
                let rest = rest.trim_end_matches('0');
                let dot = if rest.is_empty() { "" } else { "." };
                let esign = if exp < 0 { '-' } else { '+' };
                return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.abs());
            }
            let out = if exp >= 0 {
                let (int_part, frac) = digits.split_at(exp as usize + 1);
                let frac = frac.trim_end_matches('0');
                if frac.is_empty() {
                    int_part.to_string()
                } else {
                    format!("{int_part}.{frac}")
                }
            } else {
                let zeros = "0".repeat((-exp - 1) as usize);
                format!("0.{zeros}{}", digits.trim_end_matches('0'))
            };
            format!("{sign}{out}")
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..200_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = match i % 4 {
                0 => f64::from_bits(state),
                1 => (state >> 11) as f64 / (1u64 << 53) as f64,
                2 => ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e6,
                _ => ((state % 4000) as f64 - 2000.0) * 0.125,
            };
            if x.is_finite() && x != 0.0 {
                assert_eq!(format_g17(x), reference(x), "{x:e}");
            }
        }
    }
}
