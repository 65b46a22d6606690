//! Values for the execute capability: a string-keyed context of simple values.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

/// One value in an execute context (go-plugin's `interface{}`, made ABI-stable).
///
/// Structured data travels as JSON text in [`Value::Json`]. This enum is frozen for 1.x.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// UTF-8 text.
    Str(RString),
    /// Raw bytes.
    Bytes(RVec<u8>),
    /// A JSON document, for anything structured.
    Json(RString),
}

/// A key and its value.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: RString,
    /// The value.
    pub value: Value,
}
