//! Moving a lifecycle worker thread to the core its caller runs on, and back (see
//! [`super::limit`] for why). Linux only; elsewhere every operation does nothing. Each is an
//! optimisation: a failed system call leaves the thread where the scheduler put it.

/// A thread of this process, and the cores it may run on when it is not moved.
#[derive(Clone, Copy)]
pub(crate) struct Thread {
    #[cfg(target_os = "linux")]
    tid: libc::pid_t,
    #[cfg(target_os = "linux")]
    own_cores: libc::cpu_set_t,
}

/// The core the calling thread runs on now.
pub(crate) fn current_core() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: no arguments; -1 on failure.
        usize::try_from(unsafe { libc::sched_getcpu() }).ok()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

impl Thread {
    /// The calling thread, with the cores it may run on now as its own.
    pub(crate) fn current() -> Self {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: `gettid` has no arguments; `own_cores` is a valid set to write (left
            // empty if the call fails, and an empty set is never applied).
            unsafe {
                let mut own_cores: libc::cpu_set_t = std::mem::zeroed();
                libc::sched_getaffinity(0, std::mem::size_of_val(&own_cores), &mut own_cores);
                Thread {
                    tid: libc::gettid(),
                    own_cores,
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        Thread {}
    }

    /// Lets the thread run on `core` only (nothing without a core). The thread must be alive:
    /// a thread id is reused after its thread ends.
    pub(crate) fn move_to(&self, core: Option<usize>) {
        #[cfg(target_os = "linux")]
        if let Some(core) = core.filter(|&c| c < libc::CPU_SETSIZE as usize) {
            // SAFETY: a zeroed cpu_set_t is the empty set; `core` is within its size.
            unsafe {
                let mut only: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(core, &mut only);
                self.apply(&only);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = core;
    }

    /// Gives the thread back the cores it had when it started.
    pub(crate) fn restore(&self) {
        #[cfg(target_os = "linux")]
        // SAFETY: reads a set this value owns.
        if unsafe { libc::CPU_COUNT(&self.own_cores) } > 0 {
            self.apply(&self.own_cores);
        }
    }

    #[cfg(target_os = "linux")]
    fn apply(&self, cores: &libc::cpu_set_t) {
        // SAFETY: `cores` is a valid set of its own size; an error (a core taken away since,
        // a thread gone) is ignored, and the thread keeps its cores.
        unsafe { libc::sched_setaffinity(self.tid, std::mem::size_of_val(cores), cores) };
    }
}
