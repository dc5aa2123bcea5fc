//! An in-process rate limiter: a token bucket per key (a token's hash, or a client address).
//! Each node limits on its own; behind a load balancer of N nodes the effective limit is up
//! to N times higher, which is acceptable for a limit meant to stop runaway clients (the
//! arithmetic for operators: docs/operations.md, "Several nodes on PostgreSQL").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// Keys kept before idle (full) buckets are dropped.
const PRUNE_AT: usize = 10_000;

pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.limit.per_minute.max(1)) / 60.0
    }

    /// Takes one request for `key` at `now`: Ok, or how long until the next one is allowed.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.per_second();
        let capacity = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| refill(*b, now, rate, capacity) < capacity);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let tokens = refill(*bucket, now, rate, capacity);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / rate))
        }
    }
}

fn refill(b: Bucket, now: Instant, rate: f64, capacity: f64) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + elapsed * rate).min(capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let l = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("a", t0).is_ok());
        }
        let wait = l.check("a", t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another key has its own bucket.
        assert!(l.check("b", t0).is_ok());
        // One second later, one more request.
        let t1 = t0 + Duration::from_secs(1);
        assert!(l.check("a", t1).is_ok());
        assert!(l.check("a", t1).is_err());
    }

    #[test]
    fn idle_buckets_are_pruned() {
        let l = RateLimiter::new(RateLimit {
            per_minute: 6000,
            burst: 10,
        });
        let t0 = Instant::now();
        for i in 0..PRUNE_AT {
            l.check(&i.to_string(), t0).unwrap();
        }
        l.check("late", t0 + Duration::from_secs(60)).unwrap();
        assert!(l.buckets.lock().unwrap().len() < 10);
    }
}
