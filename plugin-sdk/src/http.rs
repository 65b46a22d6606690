//! The HTTP capability's types, in std types.

use plugrack_api::{Header, HttpRequest, HttpResponse, RouteSpec};

/// A route the plugin asks the host to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// HTTP method, upper case.
    pub method: String,
    /// Path relative to the plugin's mount point (`/items/:id`).
    pub path: String,
    /// The label handed back with each request on this route.
    pub label: String,
}

impl Route {
    /// A route for `method` and `path`, labelled `label`.
    pub fn new(method: &str, path: &str, label: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            path: path.into(),
            label: label.into(),
        }
    }
}

/// A request forwarded by the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The label of the matched route.
    pub label: String,
    /// HTTP method.
    pub method: String,
    /// Path relative to the plugin's mount point.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Request {
    /// A request for `method` and `path` on the route labelled `label`; the arguments come in
    /// the order of [`Route::new`].
    pub fn new(method: &str, path: &str, label: &str) -> Self {
        Self {
            label: label.into(),
            method: method.into(),
            path: path.into(),
            ..Self::default()
        }
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The plugin's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status` and no body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200 OK` with a text body.
    pub fn text(body: impl Into<String>) -> Self {
        Self::status(200)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(body.into().into_bytes())
    }

    /// `200 OK` with a JSON body.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::status(200)
            .with_header("content-type", "application/json")
            .with_body(value.to_string().into_bytes())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

fn headers_to_abi(
    headers: Vec<(String, String)>,
) -> plugrack_api::abi_stable::std_types::RVec<Header> {
    headers
        .into_iter()
        .map(|(name, value)| Header {
            name: name.into(),
            value: value.into(),
        })
        .collect()
}

fn headers_from_abi(
    headers: plugrack_api::abi_stable::std_types::RVec<Header>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|h| (h.name.into_string(), h.value.into_string()))
        .collect()
}

impl From<Route> for RouteSpec {
    fn from(r: Route) -> Self {
        RouteSpec {
            method: r.method.into(),
            path: r.path.into(),
            label: r.label.into(),
        }
    }
}

impl From<RouteSpec> for Route {
    fn from(r: RouteSpec) -> Self {
        Route {
            method: r.method.into(),
            path: r.path.into(),
            label: r.label.into(),
        }
    }
}

impl From<Request> for HttpRequest {
    fn from(r: Request) -> Self {
        HttpRequest {
            label: r.label.into(),
            method: r.method.into(),
            path: r.path.into(),
            query: r.query.into(),
            headers: headers_to_abi(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<HttpRequest> for Request {
    fn from(r: HttpRequest) -> Self {
        Request {
            label: r.label.into(),
            method: r.method.into(),
            path: r.path.into(),
            query: r.query.into(),
            headers: headers_from_abi(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<Response> for HttpResponse {
    fn from(r: Response) -> Self {
        HttpResponse {
            status: r.status,
            headers: headers_to_abi(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<HttpResponse> for Response {
    fn from(r: HttpResponse) -> Self {
        Response {
            status: r.status,
            headers: headers_from_abi(r.headers),
            body: r.body.into(),
        }
    }
}
