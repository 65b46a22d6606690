//! Reading what is left of a refused request's body before answering, so that the client gets
//! the answer.
//!
//! Why: a request can be refused before its body is read, or part way: an upload over
//! `--max-package-mib` or a webhook body over `--max-body-kib` (413) as soon as the limit is
//! passed, a webhook to a route the plugin does not have (404), a request without valid
//! credentials (401). A server that answers and closes with unread bytes in the socket makes
//! the kernel reset the connection, and a client still writing sees "connection reset" or
//! "broken pipe" instead of the answer and its hint (reqwest, and curl in some runs; the
//! server test of the upload limit failed that way in one CI run, and a 4 MiB webhook body
//! over a 1 KiB limit failed every time). So every route hands its handler a body that the
//! server can take back: after a client error (4xx) the rest is read and thrown away, at most
//! [`DRAIN_MAX_BYTES`] for at most [`DRAIN_MAX_TIME`] (a client sending more, or slower, gets
//! the reset: the server does not read without bound for a refused request). A handler that
//! read the whole body leaves nothing to read; a request without a body costs one small
//! allocation.

use std::{
    sync::{Arc, Mutex},
    task::Poll,
    time::Duration,
};

use axum::{
    body::{Body, BodyDataStream},
    extract::Request,
    middleware::Next,
    response::Response,
};
use futures_util::StreamExt;

/// At most this much of a refused body is read after the refusal.
pub const DRAIN_MAX_BYTES: usize = 64 << 20;

/// For at most this long.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// Middleware (`axum::middleware::from_fn`): runs the route with a body it can take back,
/// and after a client error reads the rest before the answer goes out.
pub async fn drain_refused_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let shared = Arc::new(Mutex::new(Some(body.into_data_stream())));
    let lent = Arc::clone(&shared);
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        match lent.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(stream) => stream.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }));
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status().is_client_error() {
        let rest = shared.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(rest) = rest {
            let _ = tokio::time::timeout(DRAIN_MAX_TIME, discard(rest)).await;
        }
    }
    response
}

/// Reads `rest` to its end, or to [`DRAIN_MAX_BYTES`], or to its first error.
async fn discard(mut rest: BodyDataStream) {
    let mut read = 0;
    while let Some(Ok(chunk)) = rest.next().await {
        read += chunk.len();
        if read > DRAIN_MAX_BYTES {
            break;
        }
    }
}
