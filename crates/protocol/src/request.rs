//! Client -> server payloads.

use serde::{Deserialize, Serialize};

use crate::{check_text, invalid, limits, Module, ProtocolError, Validate};

/// `module:subscribe` / `module:unsubscribe` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRequest {
    /// Which module.
    pub module: Module,
}

impl Validate for ModuleRequest {
    fn validate(&self) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// `dashboard:subscribe` payload (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardSubscribe {}

impl Validate for DashboardSubscribe {
    fn validate(&self) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// `notification:subscribe` payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSubscribe {
    /// Only notifications with a larger `seq`; 0 or absent: from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// Ids the client still shows as unread (version 2, at most 1000): the
    /// ack's `read` says which of them are read now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<Vec<String>>,
}

impl Validate for NotificationSubscribe {
    fn validate(&self) -> Result<(), ProtocolError> {
        match &self.unread {
            Some(ids) => check_ids("unread", ids, limits::MAX_UNREAD_IDS),
            None => Ok(()),
        }
    }
}

/// `notification:mark-read` payload: some ids, or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    /// `{"ids": [...]}`
    Ids(Vec<String>),
    /// `{"all": true}`
    All,
}

// Unknown fields are ignored, as everywhere: the contract may grow.
#[derive(Serialize, Deserialize)]
struct MarkReadWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<bool>,
}

impl Serialize for MarkRead {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MarkRead::Ids(ids) => MarkReadWire {
                ids: Some(ids.clone()),
                all: None,
            },
            MarkRead::All => MarkReadWire {
                ids: None,
                all: Some(true),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MarkRead {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = MarkReadWire::deserialize(d)?;
        match (w.ids, w.all) {
            (Some(_), Some(true)) => Err(D::Error::custom(
                "give either `ids` or `all: true`, not both",
            )),
            (_, Some(true)) => Ok(MarkRead::All),
            (Some(ids), _) => Ok(MarkRead::Ids(ids)),
            _ => Err(D::Error::custom("expected `ids` (an array) or `all: true`")),
        }
    }
}

impl Validate for MarkRead {
    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            MarkRead::Ids(ids) => check_ids("ids", ids, limits::MAX_MARK_READ_IDS),
            MarkRead::All => Ok(()),
        }
    }
}

/// A list of notification ids in field `field`: at most `max` of them, each a
/// non-blank id of at most [`limits::MAX_ID`] characters.
fn check_ids(field: &str, ids: &[String], max: usize) -> Result<(), ProtocolError> {
    if ids.len() > max {
        return Err(invalid(format!(
            "`{field}` has {} entries, the limit is {max}",
            ids.len()
        )));
    }
    for id in ids {
        check_text(&format!("{field}[]"), id, limits::MAX_ID, true)?;
    }
    Ok(())
}
