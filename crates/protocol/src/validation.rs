//! Why a payload is refused, the [`Validate`] rules, and decoding that
//! parses *and* validates.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::limits;

/// Why a payload was refused. The message is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Not JSON, or JSON of the wrong shape (serde's reason kept).
    #[error("invalid payload: {0}")]
    Malformed(String),
    /// Well-formed but breaks a rule of the contract.
    #[error("{0}")]
    Invalid(String),
    /// An event name this version does not know.
    #[error("unknown event `{0}`")]
    UnknownEvent(String),
}

pub(crate) fn invalid(msg: impl Into<String>) -> ProtocolError {
    ProtocolError::Invalid(msg.into())
}

/// Types that carry rules beyond their serde shape.
pub trait Validate {
    /// `Ok` when every rule of the contract holds.
    fn validate(&self) -> Result<(), ProtocolError>;
}

/// Parse a JSON value into `T` and validate it.
pub fn decode<T: DeserializeOwned + Validate>(value: Value) -> Result<T, ProtocolError> {
    let t: T =
        serde_json::from_value(value).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    t.validate()?;
    Ok(t)
}

/// Parse JSON bytes into `T` and validate it, refusing oversized input.
pub fn decode_slice<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ProtocolError> {
    if bytes.len() > limits::MAX_BODY_BYTES {
        return Err(invalid(format!(
            "payload of {} bytes is larger than the limit of {} bytes",
            bytes.len(),
            limits::MAX_BODY_BYTES
        )));
    }
    let t: T =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    t.validate()?;
    Ok(t)
}

pub(crate) fn check_text(
    field: &str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<(), ProtocolError> {
    if required && s.trim().is_empty() {
        return Err(invalid(format!("`{field}` must not be empty")));
    }
    let n = s.chars().count();
    if n > max {
        return Err(invalid(format!(
            "`{field}` is {n} characters long, the limit is {max}"
        )));
    }
    Ok(())
}
