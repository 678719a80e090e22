//! Argument parsing with Redis's rules and error texts.

use mapcache_store::num;

use crate::error::CmdError;

/// An integer argument (`ERR value is not an integer or out of range` otherwise).
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    num::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A float argument (`ERR value is not a valid float` otherwise).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    num::parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// A non-negative count that must fit an index: Redis's `getRangeLongFromObjectOrReply`
/// with 0..=LONG_MAX answers `ERR value is out of range, must be positive` when negative.
pub fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    let n = int(arg)?;
    usize::try_from(n).map_err(|_| CmdError::NotPositive)
}

/// Does `arg` equal the ASCII keyword `word` (given in lowercase), ignoring case?
#[inline]
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

// ---------------------------------------------------------------------------------
// Added for the hash and list families (HSCAN).
// ---------------------------------------------------------------------------------

/// A SCAN-family cursor as Redis's `parseScanCursorOrReply` reads it: `strtoul` in
/// base 10 over the argument up to its first NUL byte, no leading space, an optional
/// sign (`-n` wraps as in C), an empty argument is 0; `ERR invalid cursor` otherwise.
pub fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    const INVALID: CmdError = CmdError::Static("ERR invalid cursor");
    let s = arg.split(|&b| b == 0).next().unwrap_or_default();
    if s.is_empty() {
        return Ok(0);
    }
    if matches!(s[0], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        return Err(INVALID);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(INVALID);
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(INVALID)?;
    }
    Ok(if neg { n.wrapping_neg() } else { n })
}

// ---------------------------------------------------------------------------------
// End of the hash and list families' additions.
// ---------------------------------------------------------------------------------
