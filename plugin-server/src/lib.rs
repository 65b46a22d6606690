//! `plugin-server`: the reference host application of plugrack, in gotify's shape.
//!
//! It runs the plugins of a folder with [`plugrack_host`] and serves, on one address:
//! a REST API (plugins, each user's own instances with their enable switch, configuration
//! and display, users, client tokens, messages, server-sent events, an OpenAPI document),
//! the plugins' HTTP routes at `/plugin/{id}/custom/{token}/...`, Prometheus metrics, and a
//! web page embedded in the binary. Users, tokens, messages and per-user plugin state live
//! in SQLite; plugin storage, configurations and logs under the data folder. The folders are
//! watched, so a plugin deployed while the server runs is loaded without a restart.
//!
//! ```no_run
//! use plugrack_server::{Server, ServerConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::start(ServerConfig::new("plugins", "data")).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! What it owns: HTTP, authentication, persistence of users and their choices, the page.
//! What it leaves to `plugrack-host`: finding, checking, loading, calling and reloading
//! plugins, and verifying and installing packages (the same code as `plugin-build deploy`).

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod calls;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod from_git;
pub mod http;
pub mod install;
pub mod instances;
pub mod markdown;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod routes;
pub mod server;
pub mod state;
pub mod user_plugins;
pub mod webhooks;

pub use calls::CallMode;
pub use config::ServerConfig;
pub use error::ApiError;
pub use server::{FirstAdmin, Server, StartError};
pub use state::AppState;
