//! The host's std-typed views of users, values and HTTP messages, and their conversion to
//! the boundary's types.

use std::{collections::BTreeMap, mem::ManuallyDrop, ops::Deref};

use plugrack_api::{
    abi_stable::std_types::{RString, RVec},
    Header, HttpRequest, HttpResponse, KeyValue, RouteSpec, UserContext, Value,
};

/// A string-keyed context of values for the execute capability.
pub type Values = BTreeMap<String, Value>;

/// The user an instance is created for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// The host's id for the user; instances are kept per id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Administrator or not.
    pub admin: bool,
}

impl User {
    /// A non-admin user.
    pub fn new(id: u64, name: &str) -> Self {
        Self {
            id,
            name: name.into(),
            admin: false,
        }
    }

    pub(crate) fn to_abi(&self) -> UserContext {
        UserContext {
            id: self.id,
            name: self.name.as_str().into(),
            admin: self.admin,
        }
    }
}

/// A route a plugin declared.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    /// Method.
    pub method: String,
    /// Path under the plugin's mount point.
    pub path: String,
    /// Label passed back with requests.
    pub label: String,
}

impl From<RouteSpec> for Route {
    fn from(r: RouteSpec) -> Self {
        Self {
            method: r.method.into(),
            path: r.path.into(),
            label: r.label.into(),
        }
    }
}

/// An HTTP request for a plugin route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The matched route's label.
    pub label: String,
    /// Method.
    pub method: String,
    /// Path under the plugin's mount point.
    pub path: String,
    /// Query string without `?`.
    pub query: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// A plugin's HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl From<Request> for HttpRequest {
    fn from(r: Request) -> Self {
        HttpRequest {
            label: r.label.into(),
            method: r.method.into(),
            path: r.path.into(),
            query: r.query.into(),
            headers: r
                .headers
                .into_iter()
                .map(|(n, v)| Header {
                    name: n.into(),
                    value: v.into(),
                })
                .collect(),
            body: r.body.into(),
        }
    }
}

impl From<HttpResponse> for Response {
    fn from(r: HttpResponse) -> Self {
        Self {
            status: r.status,
            headers: r
                .headers
                .into_iter()
                .map(|h| (h.name.into_string(), h.value.into_string()))
                .collect(),
            body: r.body.into(),
        }
    }
}

pub(crate) fn values_to_abi(values: &Values) -> RVec<KeyValue> {
    if values.is_empty() {
        return RVec::new();
    }
    values
        .iter()
        .map(|(k, v)| KeyValue {
            key: RString::from(k.as_str()),
            value: v.clone(),
        })
        .collect()
}

/// The values an `execute` call answered, in the boundary's types
/// ([`Instance::execute_raw`](crate::Instance::execute_raw)): a vector that the plugin's
/// allocator owns, read as a slice of [`KeyValue`].
///
/// Dropping it hands the vector back to the plugin to free, except when nothing was
/// allocated (an empty answer), which then costs no call into the plugin.
pub struct RawValues(ManuallyDrop<RVec<KeyValue>>);

impl RawValues {
    pub(crate) fn new(values: RVec<KeyValue>) -> Self {
        Self(ManuallyDrop::new(values))
    }

    /// The vector itself.
    pub fn into_rvec(self) -> RVec<KeyValue> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the vector is moved out once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl Drop for RawValues {
    #[inline]
    fn drop(&mut self) {
        // A vector without capacity owns no memory and no elements (length <= capacity):
        // its destructor, a call through its vtable into the plugin, would do nothing.
        if self.0.capacity() != 0 {
            // SAFETY: dropped exactly once, here.
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }
    }
}

impl Deref for RawValues {
    type Target = [KeyValue];

    fn deref(&self) -> &[KeyValue] {
        &self.0
    }
}

impl std::fmt::Debug for RawValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for RawValues {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

pub(crate) fn values_from_abi(values: RawValues) -> Values {
    if values.is_empty() {
        return Values::new();
    }
    // Inserted one by one: `collect` into a map gathers, sorts and dedups a `Vec` first,
    // which costs more than the few inserts of a call's answer (plugrack-sdk builds its
    // input the same way). The last of two equal keys wins, as with `collect`.
    let mut map = Values::new();
    for kv in values.into_rvec() {
        map.insert(kv.key.into_string(), kv.value);
    }
    map
}
