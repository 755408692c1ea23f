//! PostgreSQL and redis-server started by the tests themselves: shared with
//! the cluster benchmark, so they live in `pulseboard-testkit`.
#![allow(unused_imports)]

pub use pulseboard_testkit::services::{Postgres, Redis};
