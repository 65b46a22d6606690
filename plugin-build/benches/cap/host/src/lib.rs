//! Benchmark host; never compiled.
