//! Between the wire's serde types and the boundary's abi_stable types (and the host's own
//! report types), both ways.

use std::path::Path;

use plugrack_api::{
    abi_stable::std_types::{RString, RVec},
    Capabilities, ErrorKind, Header, PluginError, RouteSpec, UserContext,
};

use super::message as wire;
use crate::{
    error::{LoadError, Refusal},
    report::PluginInfo,
};

pub(crate) fn values_to_wire(values: &[plugrack_api::KeyValue]) -> Vec<wire::KeyValue> {
    values
        .iter()
        .map(|kv| wire::KeyValue {
            key: kv.key.as_str().to_owned(),
            value: value_to_wire(&kv.value),
        })
        .collect()
}

fn value_to_wire(value: &plugrack_api::Value) -> wire::ValueKind {
    use plugrack_api::Value as V;
    match value {
        V::Null => wire::ValueKind::Null,
        V::Bool(b) => wire::ValueKind::Bool(*b),
        V::Int(i) => wire::ValueKind::Int(*i),
        V::Float(f) => wire::ValueKind::Float(*f),
        V::Str(s) => wire::ValueKind::Str(s.as_str().to_owned()),
        V::Bytes(b) => wire::ValueKind::Bytes(b.to_vec()),
        V::Json(j) => wire::ValueKind::Json(j.as_str().to_owned()),
    }
}

pub(crate) fn values_from_wire(values: Vec<wire::KeyValue>) -> RVec<plugrack_api::KeyValue> {
    use plugrack_api::Value as V;
    values
        .into_iter()
        .map(|kv| plugrack_api::KeyValue {
            key: kv.key.into(),
            value: match kv.value {
                wire::ValueKind::Null => V::Null,
                wire::ValueKind::Bool(b) => V::Bool(b),
                wire::ValueKind::Int(i) => V::Int(i),
                wire::ValueKind::Float(f) => V::Float(f),
                wire::ValueKind::Str(s) => V::Str(s.into()),
                wire::ValueKind::Bytes(b) => V::Bytes(b.into()),
                wire::ValueKind::Json(j) => V::Json(j.into()),
            },
        })
        .collect()
}

pub(crate) fn error_to_wire(error: PluginError) -> wire::Error {
    wire::Error {
        kind: error.kind.0,
        message: error.message.into_string(),
    }
}

pub(crate) fn error_from_wire(error: wire::Error) -> PluginError {
    PluginError::new(ErrorKind(error.kind), error.message)
}

pub(crate) fn user_to_wire(user: &crate::values::User) -> wire::User {
    wire::User {
        id: user.id,
        name: user.name.clone(),
        admin: user.admin,
    }
}

pub(crate) fn user_from_wire(user: wire::User) -> UserContext {
    UserContext {
        id: user.id,
        name: user.name.into(),
        admin: user.admin,
    }
}

fn headers_to_wire(headers: RVec<Header>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|h| (h.name.into_string(), h.value.into_string()))
        .collect()
}

fn headers_from_wire(headers: Vec<(String, String)>) -> RVec<Header> {
    headers
        .into_iter()
        .map(|(name, value)| Header {
            name: name.into(),
            value: value.into(),
        })
        .collect()
}

pub(crate) fn request_to_wire(r: plugrack_api::HttpRequest) -> wire::HttpRequest {
    wire::HttpRequest {
        label: r.label.into_string(),
        method: r.method.into_string(),
        path: r.path.into_string(),
        query: r.query.into_string(),
        headers: headers_to_wire(r.headers),
        body: r.body.into_vec(),
    }
}

pub(crate) fn request_from_wire(r: wire::HttpRequest) -> plugrack_api::HttpRequest {
    plugrack_api::HttpRequest {
        label: r.label.into(),
        method: r.method.into(),
        path: r.path.into(),
        query: r.query.into(),
        headers: headers_from_wire(r.headers),
        body: r.body.into(),
    }
}

pub(crate) fn response_to_wire(r: plugrack_api::HttpResponse) -> wire::HttpResponse {
    wire::HttpResponse {
        status: r.status,
        headers: headers_to_wire(r.headers),
        body: r.body.into_vec(),
    }
}

pub(crate) fn response_from_wire(r: wire::HttpResponse) -> plugrack_api::HttpResponse {
    plugrack_api::HttpResponse {
        status: r.status,
        headers: headers_from_wire(r.headers),
        body: r.body.into(),
    }
}

pub(crate) fn routes_to_wire(routes: RVec<RouteSpec>) -> Vec<wire::Route> {
    routes
        .into_iter()
        .map(|r| wire::Route {
            method: r.method.into_string(),
            path: r.path.into_string(),
            label: r.label.into_string(),
        })
        .collect()
}

pub(crate) fn routes_from_wire(routes: Vec<wire::Route>) -> RVec<RouteSpec> {
    routes
        .into_iter()
        .map(|r| RouteSpec {
            method: r.method.into(),
            path: r.path.into(),
            label: r.label.into(),
        })
        .collect()
}

pub(crate) fn message_to_wire(m: plugrack_api::Message) -> wire::Message {
    wire::Message {
        title: m.title.into_string(),
        message: m.message.into_string(),
        priority: m.priority,
        extras: m.extras.into_string(),
    }
}

pub(crate) fn message_from_wire(m: wire::Message) -> plugrack_api::Message {
    plugrack_api::Message {
        title: RString::from(m.title),
        message: m.message.into(),
        priority: m.priority,
        extras: m.extras.into(),
    }
}

pub(crate) fn info_to_wire(info: &PluginInfo) -> wire::Info {
    wire::Info {
        id: info.id.clone(),
        name: info.name.clone(),
        version: info.version.clone(),
        description: info.description.clone(),
        authors: info.authors.clone(),
        homepage: info.homepage.clone(),
        license: info.license.clone(),
        host_version_req: info.host_version_req.clone(),
        target_os: info.target_os.clone(),
        api_version: info.api_version.clone(),
    }
}

pub(crate) fn info_from_wire(
    info: wire::Info,
    capabilities: Capabilities,
    path: &Path,
) -> PluginInfo {
    PluginInfo {
        id: info.id,
        name: info.name,
        version: info.version,
        description: info.description,
        authors: info.authors,
        homepage: info.homepage,
        license: info.license,
        host_version_req: info.host_version_req,
        target_os: info.target_os,
        api_version: info.api_version,
        capabilities: capabilities.names(),
        path: path.to_owned(),
    }
}

pub(crate) fn load_error_to_wire(error: LoadError) -> wire::LoadFailure {
    use wire::Refusal as W;
    let refusal = match error.refusal {
        Refusal::OpenFailed { reason } => W::OpenFailed { reason },
        Refusal::NotAPlugin => W::NotAPlugin,
        Refusal::ApiTooOld { plugin, host } => W::ApiTooOld { plugin, host },
        Refusal::ApiTooNew { plugin, host } => W::ApiTooNew { plugin, host },
        Refusal::LayoutMismatch { version } => W::LayoutMismatch { version },
        Refusal::InitFailed { message } => W::InitFailed { message },
        Refusal::InitPanicked => W::InitPanicked,
        Refusal::AbiStableMismatch { found } => W::AbiStableMismatch { found },
        Refusal::InvalidDescriptor { field, problem } => W::InvalidDescriptor {
            field: field.to_owned(),
            problem,
        },
        Refusal::HostVersionMismatch { required, host } => {
            W::HostVersionMismatch { required, host }
        }
        Refusal::UnsupportedOs { supported, this } => W::UnsupportedOs { supported, this },
        other => W::Other {
            message: other.to_string(),
        },
    };
    wire::LoadFailure {
        id: error.id,
        refusal,
        detail: error.detail,
    }
}

/// The descriptor fields the loader names, as the `&'static str` the host's refusal holds.
fn descriptor_field(field: &str) -> &'static str {
    match field {
        "id" => "id",
        "version" => "version",
        "api_version" => "api_version",
        "host-version" => "host-version",
        _ => "descriptor",
    }
}

pub(crate) fn load_error_from_wire(failure: wire::LoadFailure, path: &Path) -> LoadError {
    use wire::Refusal as W;
    let refusal = match failure.refusal {
        W::OpenFailed { reason } => Refusal::OpenFailed { reason },
        W::NotAPlugin => Refusal::NotAPlugin,
        W::ApiTooOld { plugin, host } => Refusal::ApiTooOld { plugin, host },
        W::ApiTooNew { plugin, host } => Refusal::ApiTooNew { plugin, host },
        W::LayoutMismatch { version } => Refusal::LayoutMismatch { version },
        W::InitFailed { message } => Refusal::InitFailed { message },
        W::InitPanicked => Refusal::InitPanicked,
        W::AbiStableMismatch { found } => Refusal::AbiStableMismatch { found },
        W::InvalidDescriptor { field, problem } => Refusal::InvalidDescriptor {
            field: descriptor_field(&field),
            problem,
        },
        W::HostVersionMismatch { required, host } => {
            Refusal::HostVersionMismatch { required, host }
        }
        W::UnsupportedOs { supported, this } => Refusal::UnsupportedOs { supported, this },
        W::Confinement { message } => Refusal::WorkerFailed {
            reason: format!("the worker cannot confine itself: {message}"),
        },
        W::Other { message } => Refusal::WorkerFailed { reason: message },
    };
    let mut error = LoadError::new(path, refusal);
    error.id = failure.id;
    error.detail = failure.detail;
    error
}
