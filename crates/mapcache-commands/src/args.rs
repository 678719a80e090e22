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
