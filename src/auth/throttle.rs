//! Slowing and locking repeated failed sign-ins: a pure decision over the failures recorded for
//! a key (an email, a client address); `store::users` keeps the counts.

use std::time::Duration;

/// How sign-in failures are answered. The defaults allow a forgetful person a few tries and
/// hold a password-guessing script to a handful of guesses per quarter of an hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures answered without delay.
    pub free_failures: u32,
    /// Each failure past the free ones waits this much longer (capped at `max_delay`).
    pub delay_step: Duration,
    pub max_delay: Duration,
    /// Failures of one email that lock it.
    pub lock_after: u32,
    /// Failures from one client address that lock the address (many emails tried from it).
    pub ip_lock_after: u32,
    /// How long a lock lasts, and how long failures are remembered.
    pub lock_for: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            free_failures: 3,
            delay_step: Duration::from_millis(500),
            max_delay: Duration::from_secs(3),
            lock_after: 8,
            ip_lock_after: 50,
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

/// What is recorded for one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    /// When the first failure of the current window happened (ms).
    pub first_failed: i64,
    pub locked_until: Option<i64>,
}

impl Failures {
    /// The failures still counting at `now`: a window older than `lock_for` is forgotten.
    pub fn current(self, now: i64, policy: &LoginPolicy) -> Failures {
        let window = millis(policy.lock_for);
        let locked = self.locked_until.filter(|&until| until > now);
        if locked.is_none() && now - self.first_failed >= window {
            Failures::default()
        } else {
            Failures {
                locked_until: locked,
                ..self
            }
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
                Some(now + millis(policy.lock_for))
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
        assert_eq!(f.locked_for(now), Some(15 * MIN));
        // Still locked a minute later, free after the lock.
        assert!(f.current(now + MIN, &p).locked_for(now + MIN).is_some());
        let later = now + 15 * MIN + 1;
        assert_eq!(f.current(later, &p), Failures::default());
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
