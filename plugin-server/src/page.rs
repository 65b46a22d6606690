//! The web page: plain HTML, CSS and JavaScript embedded in the binary (no build step),
//! served at `/` with a content security policy that allows only the page's own files.

use axum::{
    extract::Path,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// The policy: the page's own script and style only; display HTML (sanitised on the
/// server) can therefore not run script even if sanitising missed something.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `/`.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `/assets/{file}`.
pub async fn file(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => asset("text/javascript; charset=utf-8", SCRIPT),
        "style.css" => asset("text/css; charset=utf-8", STYLE),
        _ => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
