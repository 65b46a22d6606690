//! Types for the HTTP capability: routes a plugin declares and the requests the host forwards.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

/// A route the plugin asks the host to mount (go-plugin's `http_services.routes`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method, upper case (`GET`, `POST`, ...).
    pub method: RString,
    /// Path relative to the plugin's mount point, with `:name` parameters (`/items/:id`).
    pub path: RString,
    /// Label handed back with each request on this route.
    pub label: RString,
}

/// An HTTP header.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub name: RString,
    /// Header value.
    pub value: RString,
}

/// A request the host forwards to one of the plugin's routes.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The label of the matched route.
    pub label: RString,
    /// HTTP method.
    pub method: RString,
    /// Request path, relative to the plugin's mount point.
    pub path: RString,
    /// The raw query string, without `?`.
    pub query: RString,
    /// Request headers.
    pub headers: RVec<Header>,
    /// Request body.
    pub body: RVec<u8>,
}

/// The plugin's answer to an [`HttpRequest`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: RVec<Header>,
    /// Response body.
    pub body: RVec<u8>,
}
