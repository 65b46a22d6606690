//! Host-defined extension points, as a plugin lists them in its root module (added in 1.1.0).
//!
//! A host application declares its own interfaces (extension points) in its own crate; a
//! plugin implements some of them and lists each in [`PluginModule::extensions`]
//! (crate::PluginModule) as an [`ExtensionDecl`]: the extension point's id and version, the
//! layout of the interface's object type *as the plugin compiled it*, and a constructor.
//!
//! This crate does not know any interface: the object a constructor produces is typed only by
//! the interface crate that host and plugin share. The host compares the plugin's layout with
//! its own (`abi_stable::abi_stability::abi_checking::check_layout_compatibility`) before it
//! calls the constructor, and passes an [`ExtensionSlot`] sized for its own type; the
//! constructor refuses a slot whose size or alignment is not its type's, so that a host that
//! skipped the layout check still cannot be written past the end of its slot.

use std::{ffi::c_void, mem::MaybeUninit};

use abi_stable::{
    std_types::{RResult, RStr},
    type_layout::TypeLayout,
    StableAbi,
};

use crate::{ErrorKind, PluginError};

/// One extension a plugin provides: its implementation of one version of one extension point.
///
/// A prefix type (`ExtensionDeclRef`), so that later 1.x versions can append fields; the host
/// reads fields appended after `construct` as `Option`s.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ExtensionDeclRef)))]
pub struct ExtensionDecl {
    /// The extension point's id (`org.example.formatter`), `[A-Za-z0-9._-]+`.
    pub id: RStr<'static>,

    /// The version of the extension point the plugin was built against (semver).
    pub version: RStr<'static>,

    /// The layout of the extension point's object type, as compiled into the plugin. The host
    /// compares it with its own before it calls `construct`.
    pub layout: &'static TypeLayout,

    /// Writes the extension object into `slot`. The host calls it once per load of the plugin,
    /// after `on_load` succeeded and after the layout check passed.
    #[sabi(last_prefix_field)]
    pub construct: extern "C" fn(slot: ExtensionSlot) -> RResult<(), PluginError>,
}

/// Where a plugin's extension constructor writes the object: memory owned by the host, sized
/// and aligned for the host's version of the interface's object type.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct ExtensionSlot {
    ptr: *mut c_void,
    size: usize,
    align: usize,
}

impl ExtensionSlot {
    /// A slot for `place`, for the host to pass to a constructor.
    pub fn new<T>(place: &mut MaybeUninit<T>) -> Self {
        Self {
            ptr: place.as_mut_ptr().cast(),
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
        }
    }

    /// The slot's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Moves `value` into the slot, or refuses (and drops `value`) when the slot was not made
    /// for a type of `T`'s size and alignment.
    ///
    /// # Safety
    /// The slot must come from [`ExtensionSlot::new`] on a place that is still alive and not
    /// otherwise used, and the host's type for that place must have the layout of `T` (the
    /// host checks that with `check_layout_compatibility` before asking for the object).
    pub unsafe fn write<T>(self, value: T) -> Result<(), PluginError> {
        if self.size != std::mem::size_of::<T>() || self.align != std::mem::align_of::<T>() {
            return Err(PluginError::new(
                ErrorKind::INVALID_INPUT,
                format!(
                    "the host's extension object is {} bytes aligned to {}, this plugin's is {} bytes aligned to {}",
                    self.size,
                    self.align,
                    std::mem::size_of::<T>(),
                    std::mem::align_of::<T>()
                ),
            ));
        }
        // SAFETY: size and alignment match, and the caller guarantees the place is alive,
        // unused and of a type with `T`'s layout.
        unsafe { self.ptr.cast::<T>().write(value) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_takes_only_its_own_size() {
        let mut place = MaybeUninit::<[u64; 3]>::uninit();
        let slot = ExtensionSlot::new(&mut place);
        assert_eq!(slot.size(), 24);
        // SAFETY: the place is alive and `[u64; 3]` is its type.
        unsafe { slot.write([1u64, 2, 3]).unwrap() };
        // SAFETY: just written.
        assert_eq!(unsafe { place.assume_init() }, [1, 2, 3]);

        let mut small = MaybeUninit::<u64>::uninit();
        let slot = ExtensionSlot::new(&mut small);
        // SAFETY: the write is refused before anything is written.
        let err = unsafe { slot.write([1u64, 2, 3]) }.unwrap_err();
        assert_eq!(err.kind, ErrorKind::INVALID_INPUT);
        assert!(err.message.contains("8 bytes"), "{err}");
    }
}
