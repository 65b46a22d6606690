//! Compile errors of `export_plugin!` written in the author's code: each `ui/*.rs` must fail
//! to build with exactly the diagnostic (text and span) in its `.stderr` file.
//!
//! trybuild builds the cases in its own project under `target/tests/trybuild`. To accept a
//! changed diagnostic after reading it: `TRYBUILD=overwrite cargo test -p plugrack-sdk --test
//! compile_fail`, then review the `.stderr` diff.

#[test]
fn export_macro_errors_point_at_the_authors_code() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
