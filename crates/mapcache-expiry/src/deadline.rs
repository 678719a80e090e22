//! Deadline arithmetic for `SET EX/PX/EXAT/PXAT`, `EXPIRE`/`PEXPIRE`/`EXPIREAT`/`PEXPIREAT`,
//! `GETEX`, and the `TTL`/`PTTL` replies.
//!
//! It mirrors Redis 7.0: `getExpireMillisecondsOrReply` in `t_string.c` and
//! `expireGenericCommand` in `expire.c`. Overflow is reported exactly where Redis reports
//! "invalid expire time in '<cmd>' command":
//!
//! - a seconds amount whose conversion to milliseconds overflows `i64`
//!   (`when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000`), for relative and absolute bases;
//! - a relative amount whose sum with `now` overflows (`when > LLONG_MAX - basetime`).
//!
//! Non-positive amounts are not an error here: `SET`/`GETEX` reject them (use
//! [`is_positive`] before calling), `EXPIRE` accepts them and deletes the key.

use crate::clock::UnixMillis;

/// The unit of a command's time argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `EX`, `EXAT`, `EXPIRE`, `EXPIREAT`.
    Seconds,
    /// `PX`, `PXAT`, `PEXPIRE`, `PEXPIREAT`.
    Millis,
}

/// Whether a command's time argument counts from now or from the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Base {
    /// `EX`, `PX`, `EXPIRE`, `PEXPIRE`: `now + amount`.
    Relative,
    /// `EXAT`, `PXAT`, `EXPIREAT`, `PEXPIREAT`: `amount` since the Unix epoch.
    Absolute,
}

/// Why a deadline could not be computed.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineError {
    /// The deadline would overflow `i64` milliseconds. Redis replies
    /// `invalid expire time in '<cmd>' command`.
    #[error("invalid expire time")]
    Overflow,
}

/// The absolute deadline, in Unix milliseconds, for `amount` in `unit` counted from `base`.
///
/// `now` is only used for [`Base::Relative`]. Overflow is checked exactly where Redis
/// checks it (see the module docs); negative and zero amounts pass through.
///
/// ```
/// use mapcache_expiry::{deadline, Base, DeadlineError, TimeUnit};
/// assert_eq!(deadline(1_000, 5, TimeUnit::Seconds, Base::Relative), Ok(6_000));
/// assert_eq!(deadline(1_000, 7_000, TimeUnit::Millis, Base::Absolute), Ok(7_000));
/// assert_eq!(
///     deadline(1_000, i64::MAX, TimeUnit::Seconds, Base::Relative),
///     Err(DeadlineError::Overflow)
/// );
/// ```
pub fn deadline(
    now: UnixMillis,
    amount: i64,
    unit: TimeUnit,
    base: Base,
) -> Result<UnixMillis, DeadlineError> {
    let ms = match unit {
        TimeUnit::Seconds => amount.checked_mul(1000).ok_or(DeadlineError::Overflow)?,
        TimeUnit::Millis => amount,
    };
    match base {
        Base::Relative => ms.checked_add(now).ok_or(DeadlineError::Overflow),
        Base::Absolute => Ok(ms),
    }
}

/// Whether a `SET`/`GETEX` time argument is acceptable: Redis rejects `amount <= 0` with
/// "invalid expire time" before any arithmetic.
pub fn is_positive(amount: i64) -> bool {
    amount > 0
}

/// Whether a deadline is due at `now`: `deadline <= now`. This is the one rule the index,
/// the sweeper and (by contract) the store use.
///
/// Redis differs by one millisecond in one place: `keyIsExpired` hides a key only once
/// `now > deadline` (at `now == deadline` it still exists with `PTTL` 0), while `EXPIRE`
/// with a deadline `<= now` deletes at once. mapcache treats `deadline == now` as expired
/// everywhere, which no client can tell apart at millisecond resolution.
pub fn is_due(now: UnixMillis, deadline: UnixMillis) -> bool {
    deadline <= now
}

/// Remaining time in milliseconds (`PTTL`): never negative, 0 when due.
pub fn remaining_ms(now: UnixMillis, deadline: UnixMillis) -> i64 {
    deadline.saturating_sub(now).max(0)
}

/// Remaining time in seconds (`TTL`), rounded as Redis does: `(ms + 500) / 1000`, computed
/// without overflow for deadlines near `i64::MAX`.
pub fn remaining_secs(now: UnixMillis, deadline: UnixMillis) -> i64 {
    let ms = remaining_ms(now, deadline);
    ms / 1000 + i64::from(ms % 1000 >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Base::*;
    use TimeUnit::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn each_unit_and_base() {
        assert_eq!(deadline(NOW, 10, Seconds, Relative), Ok(NOW + 10_000));
        assert_eq!(deadline(NOW, 10, Millis, Relative), Ok(NOW + 10));
        assert_eq!(deadline(NOW, 10, Seconds, Absolute), Ok(10_000));
        assert_eq!(deadline(NOW, 10, Millis, Absolute), Ok(10));
        assert_eq!(deadline(NOW, 0, Seconds, Relative), Ok(NOW));
        assert_eq!(deadline(NOW, 0, Millis, Absolute), Ok(0));
    }

    #[test]
    fn negative_amounts_pass_through() {
        // EXPIRE key -5 is accepted by Redis (the key is deleted); arithmetic still applies.
        assert_eq!(deadline(NOW, -5, Seconds, Relative), Ok(NOW - 5_000));
        assert_eq!(deadline(NOW, -5, Millis, Relative), Ok(NOW - 5));
        assert_eq!(deadline(NOW, -5, Seconds, Absolute), Ok(-5_000));
        assert_eq!(deadline(NOW, -5, Millis, Absolute), Ok(-5));
        assert!(!is_positive(-5));
        assert!(!is_positive(0));
        assert!(is_positive(1));
    }

    #[test]
    fn seconds_conversion_overflow_edges() {
        let max_s = i64::MAX / 1000; // 9223372036854775
        let min_s = i64::MIN / 1000; // -9223372036854775
                                     // EXPIREAT / EXAT: exactly at the edge converts, one past overflows.
        assert_eq!(deadline(0, max_s, Seconds, Absolute), Ok(max_s * 1000));
        assert_eq!(
            deadline(0, max_s + 1, Seconds, Absolute),
            Err(DeadlineError::Overflow)
        );
        assert_eq!(deadline(0, min_s, Seconds, Absolute), Ok(min_s * 1000));
        assert_eq!(
            deadline(0, min_s - 1, Seconds, Absolute),
            Err(DeadlineError::Overflow)
        );
        // EXPIRE key 9223372036854775807 -> "invalid expire time in 'expire' command".
        assert_eq!(
            deadline(NOW, i64::MAX, Seconds, Relative),
            Err(DeadlineError::Overflow)
        );
        assert_eq!(
            deadline(NOW, i64::MIN, Seconds, Relative),
            Err(DeadlineError::Overflow)
        );
        // EXAT with seconds*1000 overflow.
        assert_eq!(
            deadline(NOW, i64::MAX, Seconds, Absolute),
            Err(DeadlineError::Overflow)
        );
    }

    #[test]
    fn relative_addition_overflow_edges() {
        // PEXPIRE key 9223372036854775807 with now > 0 overflows on the addition.
        assert_eq!(
            deadline(NOW, i64::MAX, Millis, Relative),
            Err(DeadlineError::Overflow)
        );
        // Exactly reaching i64::MAX is fine (Redis: when > LLONG_MAX - basetime errors).
        assert_eq!(
            deadline(NOW, i64::MAX - NOW, Millis, Relative),
            Ok(i64::MAX)
        );
        assert_eq!(
            deadline(NOW, i64::MAX - NOW + 1, Millis, Relative),
            Err(DeadlineError::Overflow)
        );
        // Seconds that convert but then overflow on the addition (EXPIRE / SET EX).
        let max_s = i64::MAX / 1000;
        assert_eq!(
            deadline(NOW, max_s, Seconds, Relative),
            Err(DeadlineError::Overflow)
        );
        // Large negative relative amounts do not underflow with a positive now.
        assert_eq!(
            deadline(NOW, i64::MIN, Millis, Relative),
            Ok(i64::MIN + NOW)
        );
        // Absolute milliseconds never overflow (PEXPIREAT / PXAT i64::MAX is accepted).
        assert_eq!(deadline(NOW, i64::MAX, Millis, Absolute), Ok(i64::MAX));
        assert_eq!(deadline(NOW, i64::MIN, Millis, Absolute), Ok(i64::MIN));
    }

    #[test]
    fn remaining_time() {
        assert_eq!(remaining_ms(1_000, 3_500), 2_500);
        assert_eq!(remaining_ms(1_000, 1_000), 0);
        assert_eq!(remaining_ms(1_000, 999), 0);
        assert_eq!(remaining_ms(1_000, i64::MIN), 0);
        assert_eq!(remaining_ms(-5, i64::MAX), i64::MAX);
        assert!(is_due(1_000, 1_000));
        assert!(!is_due(1_000, 1_001));
    }

    #[test]
    fn remaining_secs_rounds_like_redis() {
        for (ms, secs) in [
            (0, 0),
            (1, 0),
            (499, 0),
            (500, 1),
            (1_000, 1),
            (1_499, 1),
            (1_500, 2),
            (9_999, 10),
        ] {
            assert_eq!(remaining_secs(0, ms), secs, "{ms} ms");
            assert_eq!(remaining_secs(0, ms), (ms + 500) / 1000, "{ms} ms");
        }
        assert_eq!(remaining_secs(10, 5), 0);
        // No overflow near i64::MAX.
        assert_eq!(remaining_secs(0, i64::MAX), i64::MAX / 1000 + 1);
    }
}
