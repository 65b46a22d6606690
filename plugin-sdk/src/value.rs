//! Values of the execute capability, in std types.

use std::collections::BTreeMap;

use plugrack_api::{
    abi_stable::std_types::{RSlice, RString, RVec},
    KeyValue,
};

/// A value in an execute context.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Structured data.
    Json(serde_json::Value),
}

/// A string-keyed context of values, sorted by key.
pub type Values = BTreeMap<String, Value>;

impl Value {
    /// The text, if this is a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}
impl From<serde_json::Value> for Value {
    fn from(j: serde_json::Value) -> Self {
        Value::Json(j)
    }
}

impl From<Value> for plugrack_api::Value {
    fn from(value: Value) -> Self {
        use plugrack_api::Value as V;
        match value {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Float(f) => V::Float(f),
            Value::Str(s) => V::Str(s.into()),
            Value::Bytes(b) => V::Bytes(b.into()),
            Value::Json(j) => V::Json(j.to_string().into()),
        }
    }
}

impl TryFrom<plugrack_api::Value> for Value {
    type Error = crate::Error;

    // Through the borrowed conversion: a string or byte string the host allocated is copied
    // either way (abi_stable reuses a buffer only of this library's own allocations).
    fn try_from(value: plugrack_api::Value) -> crate::Result<Self> {
        value_from_abi(&value)
    }
}

/// The output of an operation on the boundary's types.
#[inline]
pub(crate) fn values_to_abi(values: Values) -> RVec<KeyValue> {
    // Most calls carry few values or none; an empty map must not cost a collect. (It is
    // dropped, not forgotten: a map emptied by `remove` may still hold a node.)
    if values.is_empty() {
        return RVec::new();
    }
    values_to_abi_slow(values)
}

#[inline(never)]
fn values_to_abi_slow(values: Values) -> RVec<KeyValue> {
    values
        .into_iter()
        .map(|(key, value)| KeyValue {
            key: RString::from(key),
            value: value.into(),
        })
        .collect()
}

/// The input of an operation in the author's types.
#[inline]
pub(crate) fn values_from_abi(values: RSlice<'_, KeyValue>) -> crate::Result<Values> {
    if values.is_empty() {
        return Ok(Values::new());
    }
    values_from_abi_slow(values)
}

// Each value is read from the host's slice by reference (one allocation per string or
// byte string; cloning the boundary's value first and converting that made two), and the map
// is built by inserting: `collect` into a `BTreeMap` gathers a `Vec`, sorts and dedups it and
// builds the tree in bulk, which costs more than the few inserts a call's input needs. The
// last of two equal keys wins, as with `collect`.
#[inline(never)]
fn values_from_abi_slow(values: RSlice<'_, KeyValue>) -> crate::Result<Values> {
    let mut map = Values::new();
    for kv in values.iter() {
        map.insert(kv.key.as_str().to_owned(), value_from_abi(&kv.value)?);
    }
    Ok(map)
}

/// A boundary value in the author's types (also `Value`'s `TryFrom<plugrack_api::Value>`).
fn value_from_abi(value: &plugrack_api::Value) -> crate::Result<Value> {
    use plugrack_api::Value as V;
    Ok(match value {
        V::Null => Value::Null,
        V::Bool(b) => Value::Bool(*b),
        V::Int(i) => Value::Int(*i),
        V::Float(f) => Value::Float(*f),
        V::Str(s) => Value::Str(s.as_str().to_owned()),
        V::Bytes(b) => Value::Bytes(b.as_slice().to_vec()),
        V::Json(j) => Value::Json(serde_json::from_str(j)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: plugrack_api::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value,
        }
    }

    #[test]
    fn a_call_input_converts_every_kind_of_value_and_keeps_the_last_of_equal_keys() {
        use plugrack_api::Value as V;
        let input = [
            kv("null", V::Null),
            kv("bool", V::Bool(true)),
            kv("int", V::Int(-7)),
            kv("float", V::Float(0.5)),
            kv("str", V::Str("first".into())),
            kv("bytes", V::Bytes(vec![0, 1, 255].into())),
            kv("json", V::Json(r#"{"a":[1,2]}"#.into())),
            kv("str", V::Str("last".into())),
        ];
        let values = values_from_abi(input.as_slice().into()).unwrap();
        let expected: Values = [
            ("null", Value::Null),
            ("bool", Value::Bool(true)),
            ("int", Value::Int(-7)),
            ("float", Value::Float(0.5)),
            ("str", Value::Str("last".into())),
            ("bytes", Value::Bytes(vec![0, 1, 255])),
            ("json", Value::Json(serde_json::json!({"a": [1, 2]}))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(values, expected);
    }

    #[test]
    fn a_call_input_with_json_that_does_not_parse_is_an_invalid_input_error() {
        let input = [kv("json", plugrack_api::Value::Json("{not json".into()))];
        let error = values_from_abi(input.as_slice().into()).unwrap_err();
        assert_eq!(error.kind(), plugrack_api::ErrorKind::INVALID_INPUT);
    }
}
