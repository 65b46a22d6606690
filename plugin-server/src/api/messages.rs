//! `/api/messages` (what plugins sent through the messenger service, stored) and
//! `/api/events` (server-sent events: loaded, refused, reloaded, reload-refused, unloaded,
//! message).

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
    Json,
};
use serde::Deserialize;
use tokio_stream::{wrappers::BroadcastStream, Stream, StreamExt};
use utoipa::IntoParams;

use crate::{
    db::MessageRow,
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// Which messages.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MessageQuery {
    /// Only messages with a larger id.
    #[serde(default)]
    pub since: i64,
    /// At most this many, the newest (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The caller's messages (and, for administrators, the plugin-wide ones), oldest first.
#[utoipa::path(get, path = "/api/messages", tag = "messages", params(MessageQuery),
    responses((status = 200, body = [MessageRow]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<AppState>>,
    crate::auth::Caller(user): crate::auth::Caller,
    Query(query): Query<MessageQuery>,
) -> Result<Json<Vec<MessageRow>>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(app.db.list_messages(&user, query.since, limit)?))
}

/// Credentials for the event stream: a browser's `EventSource` cannot send headers, so it
/// may also pass a client token as `?token=`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventQuery {
    /// A client token.
    pub token: Option<String>,
}

/// Server-sent events: each has the event name of its `kind` and the event as JSON data.
#[utoipa::path(get, path = "/api/events", tag = "messages", params(EventQuery),
    responses((status = 200, content_type = "text/event-stream", body = crate::events::ServerEvent), (status = 401, body = ErrorBody)))]
pub async fn events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let user = match &query.token {
        Some(token) => app.auth.by_token(token, &app)?,
        None => app.auth.authenticate(&headers, &app)?,
    };
    let mut shutdown = app.shutdown.clone();
    let events = BroadcastStream::new(app.events.subscribe()).filter_map(move |item| match item {
        Ok(event) if event.visible_to(&user) => Some(Ok(Event::default()
            .event(event.kind())
            .json_data(&event)
            .expect("events serialise"))),
        Ok(_) => None,
        // This browser fell behind: tell it, so it reloads the lists.
        Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
    });
    // The stream ends when shutdown starts, so graceful shutdown does not wait on browsers.
    let stream = futures_util::StreamExt::take_until(events, async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
