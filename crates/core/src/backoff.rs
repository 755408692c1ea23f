//! Reconnect delays: exponential with jitter, a few fast tries, then a capped
//! interval for as long as it takes. Pure: the random fraction is passed in.

use std::time::Duration;

/// How retries are spaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Tries made quickly (as the original platform's five); after these the
    /// state turns Offline and the delay sits at `cap`.
    pub fast_attempts: u32,
    /// Longest delay.
    pub cap: Duration,
    /// Jitter as a fraction of the delay (0.25 = +-25%), so many desktops
    /// do not hammer a recovering server in step.
    pub jitter: f64,
    /// Shortest delay ever: the loop never spins.
    pub floor: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            fast_attempts: 5,
            cap: Duration::from_secs(30),
            jitter: 0.25,
            floor: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    /// Delay before try number `attempt` (1-based), with `rand01` in [0, 1).
    pub fn delay(&self, attempt: u32, rand01: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let base = if attempt > self.fast_attempts {
            self.cap
        } else {
            self.initial.saturating_mul(1u32 << exp).min(self.cap)
        };
        let factor = 1.0 + self.jitter * (2.0 * rand01.clamp(0.0, 1.0) - 1.0);
        base.mul_f64(factor.max(0.0)).max(self.floor)
    }

    /// True once the fast tries are used up.
    pub fn is_offline(&self, attempt: u32) -> bool {
        attempt > self.fast_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_fast_then_caps() {
        let b = Backoff::default();
        let d: Vec<u128> = (1..=8).map(|a| b.delay(a, 0.5).as_millis()).collect();
        assert_eq!(d, vec![500, 1000, 2000, 4000, 8000, 30000, 30000, 30000]);
        assert!(!b.is_offline(5));
        assert!(b.is_offline(6));
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_spins() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0.0).as_millis(), 375);
        assert_eq!(b.delay(1, 1.0).as_millis(), 625);
        let tiny = Backoff {
            initial: Duration::ZERO,
            ..Backoff::default()
        };
        assert_eq!(tiny.delay(1, 0.0), Duration::from_millis(100));
        assert!(b.delay(u32::MAX, 0.99) <= Duration::from_millis(37_500));
    }
}
