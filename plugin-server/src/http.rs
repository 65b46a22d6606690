//! The accept loop: HTTP/1.1 connections served by hyper with the router as their service,
//! each with a time limit on reading a request's headers, and a graceful stop.
//!
//! Why not `axum::serve`: it gives hyper no timer, and without one hyper applies no header
//! read timeout, so a client that opens a connection and sends its request line a byte at a
//! time (or nothing at all) holds a connection, a task and a file descriptor for ever; enough
//! of them and the server cannot accept anyone (slowloris). Here hyper gets tokio's timer and
//! `header_timeout`: a connection that has not sent a whole request head within it, the first
//! request's or, kept alive, the next one's, is closed. A request being handled and a
//! response being streamed (the events stream) are not limited by it.

use std::{future::Future, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;

/// Serves `router` on `listener` until `signal` completes, then stops accepting and waits for
/// the open connections to finish their requests (at most `grace`). Returns whether they all
/// did.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    grace: Duration,
    signal: impl Future<Output = ()>,
) -> bool {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(signal);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener still works; waiting a moment keeps an exhausted process
                    // from spinning.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_ok()
}
