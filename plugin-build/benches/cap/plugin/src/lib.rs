//! Benchmark plugin; never compiled.
