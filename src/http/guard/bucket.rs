//! Token buckets, one per client: capacity = the client's limit per minute, refilled
//! continuously at limit/60 tokens a second; a request takes one token.
//!
//! In memory, per process: with several replicas each one limits separately, so a client may
//! make up to (replicas × limit) requests a minute in total.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Above this many buckets, full ones (idle clients) are dropped: they would start full again.
const PRUNE_ABOVE: usize = 10_000;

/// What one request got from its client's bucket, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `X-RateLimit-Limit`: the bucket's capacity (requests per minute).
    pub limit: u32,
    /// `X-RateLimit-Remaining`: whole tokens left after this request.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: seconds until the bucket is full again.
    pub reset_secs: u64,
    /// `Retry-After` of a refused request: seconds until the next token.
    pub retry_after_secs: u64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct Buckets {
    map: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// Takes a token from `key`'s bucket of `limit_per_min` (refused when there is none).
    pub fn take(&self, key: &str, limit_per_min: u32, now: Instant) -> Decision {
        self.decide(key, limit_per_min, now, true)
    }

    /// The bucket's state without taking a token.
    pub fn peek(&self, key: &str, limit_per_min: u32, now: Instant) -> Decision {
        self.decide(key, limit_per_min, now, false)
    }

    fn decide(&self, key: &str, limit_per_min: u32, now: Instant, take: bool) -> Decision {
        let capacity = f64::from(limit_per_min.max(1));
        let rate = capacity / 60.0;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE && !map.contains_key(key) {
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < capacity);
        }
        let bucket = map.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        // A lowered limit caps what is left at once.
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if take && allowed {
            bucket.tokens -= 1.0;
        }
        let tokens = bucket.tokens;
        Decision {
            allowed,
            limit: capacity as u32,
            remaining: tokens.floor() as u32,
            reset_secs: ((capacity - tokens) / rate).ceil() as u64,
            retry_after_secs: if allowed {
                0
            } else {
                ((1.0 - tokens) / rate).ceil().max(1.0) as u64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_empties_refuses_and_refills_continuously() {
        let b = Buckets::default();
        let t0 = Instant::now();
        for i in 0..3 {
            let d = b.take("c", 3, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.limit, 3);
            assert_eq!(d.remaining, 2 - i);
            // One token per 20 s: full again 20 s per token taken.
            assert_eq!(d.reset_secs, 20 * u64::from(i + 1));
        }
        let refused = b.take("c", 3, t0);
        assert_eq!(
            refused,
            Decision {
                allowed: false,
                limit: 3,
                remaining: 0,
                reset_secs: 60,
                retry_after_secs: 20
            }
        );
        // 15 s later a quarter of a token is missing: retry after 5 s.
        let d = b.take("c", 3, t0 + Duration::from_secs(15));
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 5);
        let d = b.take("c", 3, t0 + Duration::from_secs(20));
        assert!(d.allowed, "one token back after 20 s");
        assert_eq!(d.remaining, 0);
        // Other clients have their own buckets.
        assert!(b.take("other", 3, t0).allowed);
        // A minute after the last request the bucket is full again, not fuller.
        let d = b.peek("c", 3, t0 + Duration::from_secs(200));
        assert_eq!((d.remaining, d.reset_secs), (3, 0));
    }

    #[test]
    fn peeking_takes_nothing_and_a_lower_limit_caps_the_bucket() {
        let b = Buckets::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(b.peek("c", 600, t0).remaining, 600);
        }
        assert_eq!(b.take("c", 600, t0).remaining, 599);
        assert_eq!(b.take("c", 2, t0).remaining, 1, "capped at the new limit");
        assert_eq!(b.take("c", 2, t0).remaining, 0);
        assert!(!b.take("c", 2, t0).allowed);
    }
}
