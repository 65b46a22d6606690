//! A well-formed shared library that exports a function but no plugin root module; the
//! host must refuse it as "not a plugin" without running it.

/// Adds two numbers; the only thing this library does.
#[unsafe(no_mangle)]
pub extern "C" fn add(a: i32, b: i32) -> i32 {
    a + b
}
