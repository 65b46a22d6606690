//! The protocol between a host and its worker processes: frames on an inherited Unix socket
//! pair, their bodies in postcard (serde), and the connection that multiplexes calls from
//! many threads over one socket.
//!
//! A frame is a 16-byte header (body length, kind, request id) and a postcard body. The first
//! frame each way is the handshake, whose header carries the protocol version in the id field,
//! so a worker of another version is recognised before anything else is decoded. After it the
//! host passes the worker the doorbell (one byte with `SCM_RIGHTS`), the second socket of the
//! connection, which it rings when its calls overlap.
//!
//! What it leaves to others: what a call means ([`message`] only defines the shapes; the
//! worker and the host runner give them meaning), processes and restarts.

pub(crate) mod conn;
pub(crate) mod convert;
pub(crate) mod frame;
pub(crate) mod message;

/// The protocol version; a host and a worker must speak the same one. Bump it on any change
/// of [`message`] or [`frame`].
pub(crate) const PROTOCOL: u32 = 1;
