//! The plugin in this process: its shared library is opened by the [`loader`](crate::loader)
//! and every entry point is a call through abi_stable's vtables. Fast (nanoseconds), but the
//! plugin shares the host's address space: a crash in it is the host's crash, and the library
//! stays mapped after unloading (abi_stable never unmaps).

use std::{mem::MaybeUninit, path::Path, time::Duration};

use plugrack_api::{
    abi_stable::std_types::{RResult, RStr, RString, RVec},
    Capabilities, HttpRequest, HttpResponse, KeyValue, PluginError, PluginInstanceBox,
    PluginModuleRef, RouteSpec,
};

use super::{limit::run_with_limit, Callee, Failure, InstanceCalls, Opened, PrivateCopy, Runner};
use crate::{
    error::LoadError,
    loader::{self, HostFacts},
    services::BoundServices,
    values::User,
};

/// Opens `library` in this process.
pub(crate) fn open(
    copy: PrivateCopy,
    path: &Path,
    host: &HostFacts<'_>,
) -> Result<Opened, Box<LoadError>> {
    let opened = loader::open(&copy.0, path, host);
    // The mapping keeps the data; the name is not needed once the library is open.
    drop(copy);
    let opened = opened?;
    Ok(Opened {
        runner: Box::new(LibraryRunner {
            module: opened.module,
        }),
        info: opened.info,
        listed_extensions: Vec::new(),
        check_time: opened.check_time,
        layout_cached: opened.layout_cached,
    })
}

/// A plugin library mapped into this process.
struct LibraryRunner {
    module: PluginModuleRef,
}

impl Runner for LibraryRunner {
    fn capabilities(&self) -> Capabilities {
        self.module.capabilities()
    }

    fn start(&self, services: BoundServices, limit: Duration) -> Result<(), Failure> {
        let on_load = self.module.on_load();
        let services = services.into_abi();
        match run_with_limit(limit, move || on_load(services).into_result()) {
            None => Err(Failure::TimedOut),
            Some(result) => result.map_err(Failure::Plugin),
        }
    }

    fn start_here(&self, services: BoundServices, _limit: Duration) -> Result<(), Failure> {
        (self.module.on_load())(services.into_abi())
            .into_result()
            .map_err(Failure::Plugin)
    }

    fn new_instance(&self, user: &User, services: BoundServices) -> Result<Callee, Failure> {
        (self.module.new_instance())(user.to_abi(), services.into_abi())
            .into_result()
            .map(|object| Callee::Library(LibraryInstance(object)))
            .map_err(Failure::Plugin)
    }

    fn stop(&self, limit: Option<Duration>) -> Result<(), Failure> {
        let on_unload = self.module.on_unload();
        let Some(limit) = limit else {
            return on_unload().into_result().map_err(Failure::Plugin);
        };
        match run_with_limit(limit, move || on_unload().into_result()) {
            None => Err(Failure::TimedOut),
            Some(result) => result.map_err(Failure::Plugin),
        }
    }

    fn module(&self) -> Option<PluginModuleRef> {
        Some(self.module)
    }

    fn isolation(&self) -> &'static str {
        "in-process"
    }
}

/// An instance created by a library in this process.
pub(crate) struct LibraryInstance(PluginInstanceBox);

impl InstanceCalls for LibraryInstance {
    type Reply<T> = RResult<T, PluginError>;

    #[inline]
    fn enable(&self) -> RResult<(), PluginError> {
        self.0.enable()
    }

    #[inline]
    fn disable(&self) -> RResult<(), PluginError> {
        self.0.disable()
    }

    #[inline]
    fn execute(&self, label: &str, input: &[KeyValue]) -> RResult<RVec<KeyValue>, PluginError> {
        read_reply(self.0.execute(RStr::from_str(label), input.into()))
    }

    #[inline]
    fn routes(&self) -> RResult<RVec<RouteSpec>, PluginError> {
        self.0.routes()
    }

    #[inline]
    fn handle_http(&self, request: HttpRequest) -> RResult<HttpResponse, PluginError> {
        self.0.handle_http(request)
    }

    #[inline]
    fn default_config(&self) -> RResult<RString, PluginError> {
        self.0.default_config()
    }

    #[inline]
    fn set_config(&self, text: &str) -> RResult<(), PluginError> {
        self.0.set_config(RStr::from_str(text))
    }

    #[inline]
    fn display(&self, location: &str) -> RResult<RString, PluginError> {
        self.0.display(RStr::from_str(location))
    }
}

/// Takes the reply of `execute` out of the memory the plugin just wrote it to, reading the
/// vector in pointer-sized words.
///
/// Why: the plugin writes the reply field by field (8-byte stores), and the host's first
/// move of it would read the vector in 16-byte pieces (8-byte stores on a 64-bit target;
/// pointer-sized ones on any). A load that spans two recent stores
/// cannot be forwarded from them and waits until they reach the cache: measured at about
/// 8 ns per call, half the cost of a no-op call. Loads of the stores' own size forward.
/// `read_volatile` keeps the compiler from merging the word loads back into wide ones.
#[inline(always)]
fn read_reply(reply: RResult<RVec<KeyValue>, PluginError>) -> RResult<RVec<KeyValue>, PluginError> {
    const WORDS: usize = size_of::<RVec<KeyValue>>() / size_of::<usize>();
    // An `RVec` is four pointer-sized fields, without padding.
    const _: () = assert!(size_of::<RVec<KeyValue>>() == 4 * size_of::<usize>());
    const _: () = assert!(align_of::<RVec<KeyValue>>() == align_of::<usize>());
    let RResult::ROk(vector) = &reply else {
        return reply;
    };
    let source = std::ptr::from_ref(vector).cast::<MaybeUninit<usize>>();
    let mut moved = MaybeUninit::<[MaybeUninit<usize>; WORDS]>::uninit();
    let target = moved.as_mut_ptr().cast::<MaybeUninit<usize>>();
    for word in 0..WORDS {
        // SAFETY: `source` points to an initialised vector of `WORDS` aligned words, and
        // `target` to room for as many.
        unsafe { target.add(word).write(source.add(word).read_volatile()) };
    }
    // The words now own the vector: the reply must not drop it too.
    std::mem::forget(reply);
    // SAFETY: the words are a byte-for-byte copy of a valid vector, whose original is
    // forgotten: this is a move.
    RResult::ROk(unsafe {
        std::mem::transmute::<[MaybeUninit<usize>; WORDS], RVec<KeyValue>>(moved.assume_init())
    })
}
