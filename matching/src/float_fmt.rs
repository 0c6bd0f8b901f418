//! Float formatting identical to Python's / C's `"%.17g"` (what the reference harness writes).
//!
//! The writers put their digits straight into the caller's buffer. Building a field in a stack
//! buffer and appending that (as before) cost a `memcpy` call per field whose wide loads read
//! back the narrow stores just made: a store-forwarding stall each time, about a tenth of the
//! scoring phase's CPU in formatting the output lines. Most digits are written 8 at a time
//! (see [`digits8`]), whose zero bytes also give the trailing zeros to drop and the leading
//! zeros to skip: the scores and integers of the pair lines take a third fewer instructions
//! than two digits at a time (callgrind, 200k records: 83 M to 55 M, 7% of the prediction's).

/// Longest [`put_g17`] text (`-1.2345678901234567e-308`).
pub(crate) const G17_MAX: usize = 24;

/// Longest [`put_u64`] text.
pub(crate) const U64_MAX_LEN: usize = 20;

/// Formats like `"%.17g"`: 17 significant digits, trailing zeros removed, scientific notation
/// when the exponent is < -4 or >= 17 (`1`, `0.99999999999742928`, `2.5825112339238675e-05`).
/// NaN and infinities are written as pandas writes them (`nan` is written as an empty field by
/// the caller; here `inf`, `-inf`, `nan`).
pub fn format_g17(x: f64) -> String {
    let mut buf = [0u8; G17_MAX];
    let n = put_g17(&mut buf, x);
    String::from_utf8(buf[..n].to_vec()).expect("ASCII")
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

/// Writes [`format_g17`]`(x)` (ASCII) at the start of `dst` (at least [`G17_MAX`] bytes, some
/// of which may be overwritten past the text) and returns its length.
pub(crate) fn put_g17(dst: &mut [u8], x: f64) -> usize {
    let dst = &mut dst[..G17_MAX];
    if !x.is_finite() || x == 0.0 {
        let text: &[u8] = match x {
            _ if x.is_nan() => b"nan",
            f64::INFINITY => b"inf",
            f64::NEG_INFINITY => b"-inf",
            _ if x.is_sign_negative() => b"-0",
            _ => b"0",
        };
        dst[..text.len()].copy_from_slice(text);
        return text.len();
    }
    let (q, exp) = exact_digits(x.abs()).unwrap_or_else(|| fmt_digits(x.abs()));
    let neg = usize::from(x.is_sign_negative());
    dst[0] = b'-'; // overwritten below if `x` is positive
    let out = &mut dst[neg..];
    if (0..17).contains(&exp) {
        // Integer part (exp + 1 digits), then the fraction without its trailing zeros. The
        // fraction is written as 16 digits, zero-padded on the left, from offset 2: its padding
        // ends exactly where the integer part and the dot (written after it) end.
        let int_len = exp as usize + 1;
        let p = POW10_U64[17 - int_len];
        let frac = q % p;
        let (hi, lo) = (digits8((frac / E8) as u32), digits8((frac % E8) as u32));
        put_word(&mut out[2..], hi);
        put_word(&mut out[10..], lo);
        put_digits(out, q / p, int_len);
        if frac == 0 {
            return neg + int_len;
        }
        out[int_len] = b'.';
        return neg + int_len + 1 + (17 - int_len) - trailing_zeros(hi, lo);
    }
    // The 17 significant digits: the first, then two words of 8 (`q >= 10^16`: `d0` is not 0).
    let (d0, rest) = ((q / E16) as u8, q % E16);
    let (hi, lo) = (digits8((rest / E8) as u32), digits8((rest % E8) as u32));
    let len = 17
        - if rest == 0 {
            16
        } else {
            trailing_zeros(hi, lo)
        };
    if (-4..0).contains(&exp) {
        let zeros = (-exp - 1) as usize;
        out[..5].copy_from_slice(b"0.000");
        let sig = &mut out[2 + zeros..];
        sig[0] = b'0' + d0;
        put_word(&mut sig[1..], hi);
        put_word(&mut sig[9..], lo);
        return neg + 2 + zeros + len;
    }
    // Scientific: the first digit, then the others after a dot.
    out[0] = b'0' + d0;
    out[1] = b'.';
    put_word(&mut out[2..], hi);
    put_word(&mut out[10..], lo);
    let mut n = if len > 1 { len + 1 } else { 1 };
    out[n] = b'e';
    out[n + 1] = if exp < 0 { b'-' } else { b'+' };
    n += 2;
    let a = exp.unsigned_abs() as usize;
    if a >= 100 {
        out[n] = b'0' + (a / 100) as u8;
        n += 1;
    }
    let pair = a % 100 * 2;
    out[n..n + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    neg + n + 2
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

/// `10^k` for `k` in `0..=16`.
const POW10_U64: [u64; 17] = {
    let mut t = [1u64; 17];
    let mut k = 1;
    while k < t.len() {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// `10^8`: [`digits8`] writes numbers below it.
const E8: u64 = 100_000_000;
/// `10^16`: the 17 significant digits of [`exact_digits`] are a first digit and 16 more.
const E16: u64 = 10_000_000_000_000_000;

/// The 8 decimal digits of `v < 10^8`, zero-padded, as the bytes of a little-endian word (the
/// first digit in the lowest byte; values 0 to 9, not ASCII), computed in parallel in the
/// word's lanes: two halves of 4 digits, then 4 pairs, then 8 digits. Each step divides its
/// lanes by a multiplication and a shift, exact below the lanes' bounds (`x * 10486 >> 20` is
/// `x / 100` for `x < 10^4`, `x * 103 >> 10` is `x / 10` for `x < 100`).
#[inline]
fn digits8(v: u32) -> u64 {
    let x = u64::from(v / 10_000) | (u64::from(v % 10_000) << 32);
    let hundreds = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let pairs = hundreds | ((x - hundreds * 100) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    tens | ((pairs - tens * 10) << 8)
}

/// Writes the 8 digits of a [`digits8`] word (as ASCII) at the start of `dst`, in one store.
#[inline]
fn put_word(dst: &mut [u8], digits: u64) {
    dst[..8].copy_from_slice(&(digits + 0x3030_3030_3030_3030).to_le_bytes());
}

/// The number of trailing zero digits of the 16 digits of two [`digits8`] words (not both 0):
/// zero digits are zero bytes, the last digits the highest bytes.
#[inline]
fn trailing_zeros(hi: u64, lo: u64) -> usize {
    if lo == 0 {
        8 + hi.leading_zeros() as usize / 8
    } else {
        lo.leading_zeros() as usize / 8
    }
}

/// Writes the `width` lowest decimal digits of `v` (`v < 10^width`, zero-padded) into
/// `dst[..width]`, two at a time from the right; eight-digit groups use 32-bit arithmetic, and
/// each group's chain of divisions is independent of the next one's.
#[inline]
fn put_digits(dst: &mut [u8], mut v: u64, width: usize) {
    let dst = &mut dst[..width];
    let mut i = width;
    while i > 8 {
        let mut lo = (v % 100_000_000) as u32;
        v /= 100_000_000;
        for _ in 0..4 {
            i -= 2;
            let pair = (lo % 100) as usize * 2;
            dst[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
            lo /= 100;
        }
    }
    // At most 8 digits left: `v < 10^8`.
    let mut hi = v as u32;
    while i >= 2 {
        i -= 2;
        let pair = (hi % 100) as usize * 2;
        dst[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        hi /= 100;
    }
    if i == 1 {
        dst[0] = b'0' + hi as u8;
    }
}

/// Writes the decimal digits of `v` (like `write!(dst, "{v}")`) at the start of `dst` (at
/// least [`U64_MAX_LEN`] bytes, some of which may be overwritten past the text) and returns
/// their number. Below `10^16` (any id or key), the digits are one or two [`digits8`] words,
/// the first shifted past its leading zeros (whose number gives the length: no logarithm).
#[inline]
pub(crate) fn put_u64(dst: &mut [u8], v: u64) -> usize {
    let dst = &mut dst[..U64_MAX_LEN];
    // The digits of `v < 10^8` without their leading zeros (the low zero bytes; `v == 0` keeps
    // its last digit) and their number.
    let put_short = |dst: &mut [u8], v: u64| {
        let digits = digits8(v as u32);
        let zeros = (digits.trailing_zeros() as usize / 8).min(7);
        put_word(dst, digits >> (8 * zeros));
        8 - zeros
    };
    if v < E8 {
        put_short(dst, v)
    } else if v < E16 {
        let width = put_short(dst, v / E8);
        put_word(&mut dst[width..], digits8((v % E8) as u32));
        width + 8
    } else {
        let width = v.ilog10() as usize + 1;
        put_digits(dst, v, width);
        width
    }
}

/// Writes the decimal digits of `v` (with `-` if negative) at the start of `dst` (at least
/// [`U64_MAX_LEN`] + 1 bytes) and returns their number.
#[inline]
pub(crate) fn put_i64(dst: &mut [u8], v: i64) -> usize {
    let neg = usize::from(v < 0);
    dst[0] = b'-'; // overwritten if `v` is not negative
    neg + put_u64(&mut dst[neg..], v.unsigned_abs())
}

/// The 17 significant digits of positive finite `x`, as an integer in `[10^16, 10^17)`, and
/// its decimal exponent, rounded half to even on its exact binary value, computed with integer
/// arithmetic: `x = m * 2^e`, so `x * 10^k = m * 10^k / 2^-e` is exact in a `u128` for the
/// values scores take (about 1e-6 to 1e16). None outside that range (see [`fmt_digits`]).
fn exact_digits(x: f64) -> Option<(u64, i32)> {
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
        return Some((q, d));
    }
    None
}

/// [`exact_digits`] through `{:.16e}` (Rust's exact formatting, correctly rounded like glibc's
/// printf), for any positive finite `x`.
fn fmt_digits(x: f64) -> (u64, i32) {
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
    let mut q = 0u64;
    let mut nd = 0;
    for &b in &text[..e_at] {
        if b.is_ascii_digit() {
            q = q * 10 + u64::from(b - b'0');
            nd += 1;
        }
    }
    debug_assert_eq!(nd, 17);
    (q, if eneg { -exp } else { exp })
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
        assert_eq!(
            format_g17(1_234_567_890_123_456.0 + 0.75),
            "1234567890123456.8"
        );
        assert_eq!(format_g17(-123456789012345.67), "-123456789012345.67");
        assert_eq!(format_g17(9999999999999998.0), "9999999999999998");
        assert_eq!(format_g17(12.0), "12");
        assert_eq!(format_g17(0.5), "0.5");
    }

    /// The integer fast path equals Rust's exact formatting wherever it answers, including
    /// halfway cases and values next to powers of ten.
    #[test]
    fn exact_digits_equal_formatted_digits() {
        let check = |x: f64| {
            if let Some(exact) = exact_digits(x) {
                assert_eq!(exact, fmt_digits(x), "{x:e}");
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
            (1_234_567_890_123_456.2_f64, 12_345_678_901_234_562),
            (1_234_567_890_123_457.8_f64, 12_345_678_901_234_578),
        ] {
            assert!(check(x));
            assert_eq!(exact_digits(x).map(|(q, _)| q), Some(digits));
        }
    }

    #[test]
    fn integers_are_written_like_display() {
        let mut buf = [0u8; U64_MAX_LEN + 1];
        for v in [
            0,
            7,
            10,
            99,
            100,
            12_345_678,
            123_456_789,
            1 << 40,
            u64::MAX,
        ] {
            let n = put_u64(&mut buf, v);
            assert_eq!(&buf[..n], v.to_string().as_bytes());
        }
        for v in [0, 1, -1, -100, 123_456_789_012, i64::MIN, i64::MAX] {
            let n = put_i64(&mut buf, v);
            assert_eq!(&buf[..n], v.to_string().as_bytes());
        }
        // Every width, on both sides of each power of ten, and random values of every size.
        let mut check = |v: u64| {
            let n = put_u64(&mut buf, v);
            assert_eq!(&buf[..n], v.to_string().as_bytes());
        };
        for k in 0..20 {
            let p = 10u64.pow(k);
            for v in [
                p - 1,
                p,
                p + 1,
                p.saturating_mul(2) - 1,
                p.saturating_mul(9),
            ] {
                check(v);
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            check(state >> (i % 64));
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
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let x = match i % 5 {
                0 => f64::from_bits(state),
                1 => unit,
                2 => (unit - 0.5) * 1e6,
                3 => ((state % 4000) as f64 - 2000.0) * 0.125,
                // Every decimal exponent from -6 to 17, both signs.
                _ => (unit - 0.5) * 10f64.powi((state % 24) as i32 - 5),
            };
            if x.is_finite() && x != 0.0 {
                assert_eq!(format_g17(x), reference(x), "{x:e}");
            }
        }
    }
}
