//! Nothing but the `peers` benchmark (`benches/peers.rs`), which compares plugrack's call path
//! with two wasm runtimes.
