//! KPI history (a Pulseboard extension of version 2):
//! `GET /api/kpis/{module}/{key}/history?range=1h|24h|7d`.
//!
//! The server keeps every accepted KPI value at [`SLOT_SECS`] resolution
//! (per slot: the last value and its time, the lowest and the highest) for
//! at most [`MAX_AGE_SECS`], and answers a range with one point per bucket of
//! [`HistoryRange::bucket_secs`]: the bucket's last value at the time it was
//! received, with the bucket's lowest and highest value. So a range has at
//! most [`HistoryRange::max_points`] points (a few hundred) whatever the
//! publishing rate.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{check_text, invalid, limits, Module, ProtocolError, Validate};

/// Resolution of stored history: values received within one slot of this
/// many seconds are kept as one (last, lowest, highest).
pub const SLOT_SECS: i64 = 10;

/// History is kept at most this long (the longest range served, 7 days; a
/// shorter `--retain-days` keeps less).
pub const MAX_AGE_SECS: i64 = 7 * 24 * 3600;

/// Most points in one history answer.
pub const MAX_POINTS: usize = 1000;

/// A span of history a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HistoryRange {
    /// The last hour, one point per 20 s.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours, one point per 5 min.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days, one point per 30 min.
    #[serde(rename = "7d")]
    Week,
}

impl HistoryRange {
    /// Every range, shortest first.
    pub const ALL: [HistoryRange; 3] = [HistoryRange::Hour, HistoryRange::Day, HistoryRange::Week];

    /// The name in URLs and answers: `1h`, `24h`, `7d`.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryRange::Hour => "1h",
            HistoryRange::Day => "24h",
            HistoryRange::Week => "7d",
        }
    }

    /// The span in seconds.
    pub fn span_secs(self) -> i64 {
        match self {
            HistoryRange::Hour => 3600,
            HistoryRange::Day => 24 * 3600,
            HistoryRange::Week => 7 * 24 * 3600,
        }
    }

    /// Seconds per point (a multiple of [`SLOT_SECS`]).
    pub fn bucket_secs(self) -> i64 {
        match self {
            HistoryRange::Hour => 20,
            HistoryRange::Day => 300,
            HistoryRange::Week => 1800,
        }
    }

    /// Most points an answer for this range has: one per bucket, the first
    /// bucket starting at or before `to - span`.
    pub fn max_points(self) -> usize {
        (self.span_secs() / self.bucket_secs()) as usize + 1
    }

    /// The first instant of the range ending at `to`: `to - span`, rounded
    /// down to the start of its bucket (so every bucket is whole).
    pub fn start(self, to: DateTime<Utc>) -> DateTime<Utc> {
        let from = to.timestamp() - self.span_secs();
        let b = self.bucket_secs();
        DateTime::from_timestamp(from.div_euclid(b) * b, 0).unwrap_or(to)
    }
}

impl std::fmt::Display for HistoryRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HistoryRange {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HistoryRange::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let short: String = s.chars().take(20).collect();
                invalid(format!(
                    "unknown range `{short}`, expected one of 1h, 24h, 7d"
                ))
            })
    }
}

/// One point of history: a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// When the bucket's last value was received.
    pub at: DateTime<Utc>,
    /// The bucket's last value.
    pub value: f64,
    /// The bucket's lowest value (absent: same as `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The bucket's highest value (absent: same as `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// The answer of `GET /api/kpis/{module}/{key}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KpiHistory {
    /// The module asked about.
    pub module: Module,
    /// The KPI key asked about.
    pub key: String,
    /// The range asked about.
    pub range: HistoryRange,
    /// Start of the range (the first bucket's start).
    pub from: DateTime<Utc>,
    /// End of the range (the server's now).
    pub to: DateTime<Utc>,
    /// Seconds per point.
    pub bucket_seconds: i64,
    /// Oldest first; empty when the server holds no value of that key in
    /// the range.
    pub points: Vec<HistoryPoint>,
    /// Part of the range was deleted by retention (only present when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Validate for KpiHistory {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text("key", &self.key, limits::MAX_KEY, true)?;
        if self.points.len() > MAX_POINTS {
            return Err(invalid(format!(
                "{} history points, at most {MAX_POINTS}",
                self.points.len()
            )));
        }
        let mut prev: Option<DateTime<Utc>> = None;
        for p in &self.points {
            let finite = p.value.is_finite()
                && p.min.is_none_or(f64::is_finite)
                && p.max.is_none_or(f64::is_finite);
            if !finite {
                return Err(invalid("a history point has a non-finite value"));
            }
            if prev.is_some_and(|t| p.at < t) {
                return Err(invalid("history points are not in time order"));
            }
            prev = Some(p.at);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_have_a_few_hundred_whole_buckets() {
        for r in HistoryRange::ALL {
            assert_eq!(r.as_str().parse::<HistoryRange>().ok(), Some(r));
            assert_eq!(r.bucket_secs() % SLOT_SECS, 0);
            assert!((100..=400).contains(&r.max_points()), "{r}");
            assert!(r.span_secs() <= MAX_AGE_SECS);
            let to = DateTime::from_timestamp(1_700_000_123, 0).unwrap();
            let from = r.start(to);
            assert_eq!(from.timestamp() % r.bucket_secs(), 0);
            assert!(to - from >= chrono::Duration::seconds(r.span_secs()));
        }
        assert!("2h".parse::<HistoryRange>().is_err());
    }

    #[test]
    fn answers_are_checked() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let p = |s: i64, v: f64| HistoryPoint {
            at: at + chrono::Duration::seconds(s),
            value: v,
            min: None,
            max: None,
        };
        let mut h = KpiHistory {
            module: Module::Finance,
            key: "revenue".into(),
            range: HistoryRange::Hour,
            from: at,
            to: at,
            bucket_seconds: 20,
            points: vec![p(0, 1.0), p(20, 2.0)],
            truncated: false,
        };
        assert!(h.validate().is_ok());
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["range"], "1h");
        assert_eq!(json["bucketSeconds"], 20);
        assert!(json.get("truncated").is_none());
        h.points.reverse();
        assert!(h.validate().is_err(), "out of order");
        h.points = vec![p(0, f64::NAN)];
        assert!(h.validate().is_err(), "non-finite");
    }
}
