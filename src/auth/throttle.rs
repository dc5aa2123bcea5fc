//! Slowing and locking repeated failed sign-ins: a pure decision over the failures recorded for
//! a key; `store::users` keeps the counts.
//!
//! Following OWASP's advice on credential stuffing and lockout, only the pair of an account and
//! a client address is ever locked, for a time that doubles with each further failure: a
//! stranger elsewhere cannot lock a teacher out, and the many people behind a school's one
//! address are not locked because of one of them. Failures of one account from every address,
//! and of one address for every account, slow the answers to failures (a few seconds at most),
//! never a right password.

use std::time::Duration;

/// How sign-in failures are answered. The defaults allow a forgetful person a few tries and
/// hold a password-guessing script from one address to about four guesses an hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures answered without delay.
    pub free_failures: u32,
    /// Each failure past the free ones waits this much longer (capped at `max_delay`).
    pub delay_step: Duration,
    pub max_delay: Duration,
    /// Failures of one account from one address that lock that pair...
    pub lock_after: u32,
    /// ...for this long at first, twice as long after each further failure...
    pub first_lock: Duration,
    /// ...up to this long. Failures are remembered this long after the last lock ends.
    pub lock_for: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            free_failures: 3,
            delay_step: Duration::from_millis(500),
            max_delay: Duration::from_secs(3),
            lock_after: 8,
            first_lock: Duration::from_secs(60),
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

/// Keys that are never locked (an account from every address, an address for every account).
pub const NEVER_LOCKED: u32 = u32::MAX;

/// What is recorded for one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    /// When the first failure of the current window happened (ms).
    pub first_failed: i64,
    pub locked_until: Option<i64>,
}

impl Failures {
    /// The failures still counting at `now`: forgotten `lock_for` after the window's first
    /// failure or the end of its last lock, whichever is later.
    pub fn current(self, now: i64, policy: &LoginPolicy) -> Failures {
        let window = millis(policy.lock_for);
        // An ended lock is kept: its end starts the time after which failures are forgotten.
        let since = self
            .locked_until
            .map_or(self.first_failed, |u| u.max(self.first_failed));
        if now - since >= window {
            Failures::default()
        } else {
            self
        }
    }

    /// Milliseconds left of a lock at `now`.
    pub fn locked_for(self, now: i64) -> Option<i64> {
        self.locked_until
            .filter(|&until| until > now)
            .map(|until| until - now)
    }

    /// The record after one more failure at `now`, locking after `lock_after` failures.
    pub fn after_failure(self, now: i64, lock_after: u32, policy: &LoginPolicy) -> Failures {
        let current = self.current(now, policy);
        let count = current.count.saturating_add(1);
        Failures {
            count,
            first_failed: if current.count == 0 {
                now
            } else {
                current.first_failed
            },
            locked_until: if count >= lock_after {
                Some(now + millis(lock_time(count - lock_after, policy)))
            } else {
                current.locked_until
            },
        }
    }
}

impl Failures {
    /// Takes back one presumed failure (the attempt succeeded): the count goes down, and a lock
    /// that this attempt's presumed failure set is lifted.
    pub fn undo_one(self, lock_after: u32) -> Failures {
        let count = self.count.saturating_sub(1);
        Failures {
            count,
            locked_until: self.locked_until.filter(|_| count >= lock_after),
            ..self
        }
    }
}

/// How long the `extra`-th failure past `lock_after` locks its pair: `first_lock`, doubled each
/// time, at most `lock_for`.
pub fn lock_time(extra: u32, policy: &LoginPolicy) -> Duration {
    policy
        .first_lock
        .saturating_mul(1u32.checked_shl(extra.min(31)).unwrap_or(u32::MAX))
        .min(policy.lock_for)
}

/// How long to wait before answering a failure, given the failures so far (this one included).
pub fn delay(failures: u32, policy: &LoginPolicy) -> Duration {
    let over = failures.saturating_sub(policy.free_failures);
    policy.delay_step.saturating_mul(over).min(policy.max_delay)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn failures_slow_then_lock() {
        let p = LoginPolicy::default();
        let mut f = Failures::default();
        for i in 1..p.lock_after {
            f = f.after_failure(i64::from(i) * 1000, p.lock_after, &p);
            assert_eq!(f.count, i);
            assert_eq!(f.locked_for(i64::from(i) * 1000), None);
        }
        assert_eq!(delay(1, &p), Duration::ZERO);
        assert_eq!(delay(p.free_failures, &p), Duration::ZERO);
        assert!(delay(p.free_failures + 1, &p) > Duration::ZERO);
        assert_eq!(delay(100, &p), p.max_delay);

        let now = 10_000;
        f = f.after_failure(now, p.lock_after, &p);
        assert_eq!(f.locked_for(now), Some(MIN));
        // Still locked half a minute later, free after the lock...
        assert!(f
            .current(now + MIN / 2, &p)
            .locked_for(now + MIN / 2)
            .is_some());
        assert_eq!(f.current(now + MIN, &p).locked_for(now + MIN), None);
        // ...and each further failure locks twice as long, up to lock_for.
        let mut t = now + MIN;
        let mut locks = Vec::new();
        for _ in 0..6 {
            f = f.current(t, &p).after_failure(t, p.lock_after, &p);
            let lock = f.locked_for(t).unwrap();
            locks.push(lock / MIN);
            t += lock;
        }
        assert_eq!(locks, [2, 4, 8, 15, 15, 15]);
        // Forgotten a whole lock_for after the last lock ends.
        assert_eq!(f.current(t + 15 * MIN, &p), Failures::default());
    }

    #[test]
    fn keys_that_never_lock_only_count() {
        let p = LoginPolicy::default();
        let mut f = Failures::default();
        for i in 0..1000 {
            f = f.after_failure(i, NEVER_LOCKED, &p);
        }
        assert_eq!(f.count, 1000);
        assert_eq!(f.locked_for(1000), None);
    }

    #[test]
    fn a_success_takes_back_its_presumed_failure() {
        let p = LoginPolicy::default();
        let mut f = Failures::default();
        for i in 0..p.lock_after {
            f = f.after_failure(i64::from(i), p.lock_after, &p);
        }
        assert!(f.locked_for(10).is_some());
        let undone = f.undo_one(p.lock_after);
        assert_eq!(undone.count, p.lock_after - 1);
        assert_eq!(undone.locked_for(10), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let p = LoginPolicy::default();
        let f = Failures::default().after_failure(0, p.lock_after, &p);
        let f = f.after_failure(16 * MIN, p.lock_after, &p);
        assert_eq!(f.count, 1, "a new window starts");
        assert_eq!(f.first_failed, 16 * MIN);
    }
}
