//! The four business modules.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{invalid, ProtocolError};

/// One of the four business modules.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Module {
    /// Reports.
    Reports,
    /// Finance.
    Finance,
    /// Human resources.
    Hr,
    /// Security.
    Security,
}

impl Module {
    /// All modules, in display order.
    pub const ALL: [Module; 4] = [
        Module::Reports,
        Module::Finance,
        Module::Hr,
        Module::Security,
    ];

    /// The wire key.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Reports => "reports",
            Module::Finance => "finance",
            Module::Hr => "hr",
            Module::Security => "security",
        }
    }

    /// `kpi:update:{module}`.
    pub fn kpi_event(self) -> &'static str {
        match self {
            Module::Reports => "kpi:update:reports",
            Module::Finance => "kpi:update:finance",
            Module::Hr => "kpi:update:hr",
            Module::Security => "kpi:update:security",
        }
    }

    /// Socket.IO room of this module's subscribers.
    pub fn room(self) -> &'static str {
        match self {
            Module::Reports => "module:reports",
            Module::Finance => "module:finance",
            Module::Hr => "module:hr",
            Module::Security => "module:security",
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Module {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Module::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown module `{s}`, expected one of reports, finance, hr, security"
                ))
            })
    }
}
