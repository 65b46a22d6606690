//! The plugin the call benchmark measures: a no-op and an echo through `plugrack-api`, and the
//! same two operations as raw `extern "C"` functions in the same library (the floor).

use plugrack_sdk::prelude::*;

/// The plugin.
pub struct Bench;

/// Its instance.
pub struct BenchInstance;

impl Plugin for Bench {
    type Instance = BenchInstance;

    fn load(_services: &Services) -> Result<Self> {
        Ok(Bench)
    }

    fn new_instance(&self, _user: &User, _services: Services) -> Result<BenchInstance> {
        Ok(BenchInstance)
    }
}

impl Instance for BenchInstance {}

impl Executor for BenchInstance {
    fn execute(&self, label: &str, input: Values) -> Result<Values> {
        match label {
            "noop" => Ok(Values::new()),
            "echo" => Ok(input),
            other => Err(Error::not_found(format!("no operation `{other}`"))),
        }
    }
}

plugrack_sdk::export_plugin!(Bench);

/// The floor for a no-op call: a plain exported function.
#[unsafe(no_mangle)]
pub extern "C" fn bench_raw_noop() {}

/// The floor for an echo: copies `len` bytes from `input` to `output`.
///
/// # Safety
/// `input` and `output` must be valid for `len` bytes and must not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bench_raw_echo(input: *const u8, len: usize, output: *mut u8) {
    // SAFETY: guaranteed by the caller.
    unsafe { std::ptr::copy_nonoverlapping(input, output, len) }
}
