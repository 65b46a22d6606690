//! The plugin the call benchmark measures: a no-op and an echo through `plugrack-api`, the
//! same two operations as raw `extern "C"` functions in the same library (the floor), and a
//! no-op through a host-defined extension point ([`Noop`], declared here so that the benchmark
//! shares the interface by linking this crate).

use plugrack_extension::extension_point;
use plugrack_sdk::prelude::*;

/// The benchmark's extension point: one method that does nothing.
#[extension_point(id = "bench.noop")]
pub trait Noop: Send + Sync {
    /// Does nothing.
    fn noop(&self);
}

impl Noop for Bench {
    #[inline]
    fn noop(&self) {}
}

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

plugrack_sdk::export_plugin!(Bench, extensions = [Noop]);

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
