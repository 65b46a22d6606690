//! Per-plugin call metrics: calls, errors, panics, and a latency distribution.
//!
//! Every call is counted exactly; latency is timed on the first 64 calls of each thread and
//! then on one call in [`SAMPLE_EVERY`], so the clock reads do not double the cost of a cheap
//! call. The distribution is a histogram of power-of-two buckets in nanoseconds, from which
//! percentiles are estimated.
//!
//! Counting a call writes only memory that belongs to the calling thread, so that threads
//! calling the same plugin do not fight over one cache line (a shared counter made two
//! threads slower together than one alone). Each thread that calls plugins is given a small
//! number, its slot, which goes back to a free list when the thread ends and is then reused;
//! each plugin's metrics keep one cell per slot (its call count and histogram, a cache line
//! apart from the others), allocated in groups of eight the first time a thread of that group
//! calls that plugin. Only the slot's thread writes its cell, so a plain load and store count
//! a call, without a locked instruction; a snapshot adds the cells up. Errors and panics are
//! rare: they stay shared atomic counters.

use std::{
    cell::Cell,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, OnceLock,
    },
    time::Duration,
};

use serde::Serialize;

/// After the first 64 calls of a thread, one call in this many is timed.
pub const SAMPLE_EVERY: u64 = 128;

/// Calls of a thread that are all timed before sampling starts.
const TIMED_FIRST: u64 = 64;

const BUCKETS: usize = 40;

/// Cells per allocation: a thread's first call to a plugin allocates its group.
const GROUP: usize = 8;

/// Groups per plugin: threads beyond `GROUP * GROUPS` calling at once share one cell.
const GROUPS: usize = 64;

/// One thread's counts for one plugin. Written only by the thread holding the slot (or,
/// for the shared cell, with atomic additions).
#[repr(align(64))]
pub(crate) struct CallCell {
    calls: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for CallCell {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl CallCell {
    /// Adds a latency to the histogram (from the thread that holds this cell).
    pub fn record_latency(&self, elapsed: Duration) {
        let nanos = elapsed.as_nanos().max(1) as u64;
        let bucket = (63 - nanos.leading_zeros() as usize).min(BUCKETS - 1);
        // The shared cell needs an atomic addition; on a thread's own cell it costs one
        // locked instruction per timed call only.
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }
}

struct Group {
    cells: [CallCell; GROUP],
}

impl Default for Group {
    fn default() -> Self {
        Self {
            cells: std::array::from_fn(|_| CallCell::default()),
        }
    }
}

/// The metrics of one loaded plugin.
pub(crate) struct Metrics {
    /// Calls that returned an error (panics included).
    pub errors: AtomicU64,
    /// Panics contained.
    pub panics: AtomicU64,
    /// The cells of the first group's slots, in place: most hosts call from few threads,
    /// and their calls then find their cell without a check for its allocation.
    first: Group,
    /// The other groups, allocated on first use.
    groups: [OnceLock<Box<Group>>; GROUPS - 1],
    /// For threads without a slot (too many at once, or a thread already tearing down).
    shared: CallCell,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            errors: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            first: Group::default(),
            groups: std::array::from_fn(|_| OnceLock::new()),
            shared: CallCell::default(),
        }
    }
}

/// Slots of the threads alive now: the next never-used one, and the returned ones.
struct Slots {
    next: usize,
    free: Vec<usize>,
}

static SLOTS: Mutex<Slots> = Mutex::new(Slots {
    next: 0,
    free: Vec::new(),
});

/// No slot: too many threads at once, or the thread is ending.
const NO_SLOT: usize = usize::MAX;
/// Not asked for yet.
const UNASSIGNED: usize = usize::MAX - 1;

thread_local! {
    /// This thread's slot. A plain value without a destructor, so that reading it on every
    /// call is a single load.
    static SLOT: Cell<usize> = const { Cell::new(UNASSIGNED) };
    /// Gives the slot back when the thread ends; touched only when a slot is assigned.
    static RELEASE: SlotRelease = const { SlotRelease };
}

struct SlotRelease;

impl Drop for SlotRelease {
    fn drop(&mut self) {
        // Calls made later by other destructors of this thread go to the shared cell.
        let slot = SLOT.replace(NO_SLOT);
        if slot < SLOTS_MAX {
            let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
            slots.free.push(slot);
        }
    }
}

const SLOTS_MAX: usize = GROUP * GROUPS;

/// This thread's slot, assigned on its first call; `NO_SLOT` when there is none.
#[cold]
fn assign_slot() -> usize {
    if SLOT.get() != UNASSIGNED {
        return NO_SLOT;
    }
    // A thread that is already ending cannot give a slot back: it goes without.
    if RELEASE.try_with(|_| ()).is_err() {
        SLOT.set(NO_SLOT);
        return NO_SLOT;
    }
    let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    let slot = match slots.free.pop() {
        Some(slot) => slot,
        None if slots.next < SLOTS_MAX => {
            slots.next += 1;
            slots.next - 1
        }
        None => NO_SLOT,
    };
    SLOT.set(slot);
    slot
}

impl Metrics {
    /// Counts a call; returns the cell to record its latency in when this call is timed.
    #[inline]
    pub fn start_call(&self) -> Option<&CallCell> {
        let mut slot = SLOT.get();
        if slot >= SLOTS_MAX {
            slot = assign_slot();
            if slot >= SLOTS_MAX {
                return self.start_shared_call();
            }
        }
        let cell = self.cell(slot);
        // Only this thread writes this cell: a load and a store cannot lose a count, and
        // avoid the locked read-modify-write an atomic addition costs.
        let n = cell.calls.load(Ordering::Relaxed);
        cell.calls.store(n + 1, Ordering::Relaxed);
        if n % SAMPLE_EVERY != 0 && n >= TIMED_FIRST {
            return None;
        }
        Some(cell)
    }

    /// Counts a call that is not timed (instance creation).
    pub fn count_call(&self) {
        let _ = self.start_call();
    }

    /// The cell of `slot` (below `SLOTS_MAX`), allocated on its thread's first call to this
    /// plugin.
    #[inline]
    fn cell(&self, slot: usize) -> &CallCell {
        if slot < GROUP {
            return &self.first.cells[slot];
        }
        self.cell_of_other_group(slot)
    }

    #[inline(never)]
    fn cell_of_other_group(&self, slot: usize) -> &CallCell {
        let group = &self.groups[slot / GROUP - 1];
        let group = match group.get() {
            Some(group) => group,
            None => Self::allocate(group),
        };
        &group.cells[slot % GROUP]
    }

    #[cold]
    fn allocate(group: &OnceLock<Box<Group>>) -> &Group {
        group.get_or_init(Box::default)
    }

    #[cold]
    fn start_shared_call(&self) -> Option<&CallCell> {
        let n = self.shared.calls.fetch_add(1, Ordering::Relaxed);
        (n < TIMED_FIRST || n % SAMPLE_EVERY == 0).then_some(&self.shared)
    }

    fn cells(&self) -> impl Iterator<Item = &CallCell> {
        let others = self.groups.iter().filter_map(|g| g.get().map(|g| &**g));
        std::iter::once(&self.first)
            .chain(others)
            .flat_map(|g| g.cells.iter())
            .chain(std::iter::once(&self.shared))
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut calls = 0;
        let mut counts = [0u64; BUCKETS];
        for cell in self.cells() {
            calls += cell.calls.load(Ordering::Relaxed);
            for (sum, bucket) in counts.iter_mut().zip(&cell.buckets) {
                *sum += bucket.load(Ordering::Relaxed);
            }
        }
        let sampled: u64 = counts.iter().sum();
        let percentile = |p: f64| -> Option<u64> {
            if sampled == 0 {
                return None;
            }
            let rank = ((sampled as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (bucket, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    // The bucket's upper bound: an estimate that never understates.
                    return Some((1u64 << (bucket + 1)) - 1);
                }
            }
            None
        };
        MetricsSnapshot {
            calls,
            errors: self.errors.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            sampled_calls: sampled,
            p50_ns: percentile(0.50),
            p90_ns: percentile(0.90),
            p99_ns: percentile(0.99),
            max_ns: counts
                .iter()
                .rposition(|&c| c > 0)
                .map(|b| (1u64 << (b + 1)) - 1),
        }
    }
}

/// A plugin's metrics at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// Calls made (every capability call and instance creation).
    pub calls: u64,
    /// Calls that returned an error (panics included).
    pub errors: u64,
    /// Panics contained.
    pub panics: u64,
    /// Calls whose latency was timed.
    pub sampled_calls: u64,
    /// Median latency, upper bound of its power-of-two bucket, in nanoseconds.
    pub p50_ns: Option<u64>,
    /// 90th percentile latency (same estimate).
    pub p90_ns: Option<u64>,
    /// 99th percentile latency (same estimate).
    pub p99_ns: Option<u64>,
    /// Highest latency bucket seen.
    pub max_ns: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let m = Metrics::default();
        let cell = m.start_call().expect("the first call is timed");
        for _ in 0..90 {
            cell.record_latency(Duration::from_nanos(100)); // bucket 6: 64..127
        }
        for _ in 0..10 {
            cell.record_latency(Duration::from_micros(50)); // bucket 15: 32768..65535
        }
        let s = m.snapshot();
        assert_eq!(
            (s.sampled_calls, s.p50_ns, s.p90_ns, s.p99_ns),
            (100, Some(127), Some(127), Some(65_535))
        );
        let timed = (1..TIMED_FIRST + 2 * SAMPLE_EVERY)
            .filter(|_| m.start_call().is_some())
            .count();
        // Calls 0..64 are timed (the first one above), then 128 and 256.
        assert_eq!(timed as u64, TIMED_FIRST - 1 + 2);
        assert_eq!(m.snapshot().calls, TIMED_FIRST + 2 * SAMPLE_EVERY);
    }

    #[test]
    fn counts_stay_exact_across_threads_that_come_and_go() {
        let m = Metrics::default();
        // More threads than one group, in waves, so that slots are released and reused.
        for wave in 0..3u64 {
            std::thread::scope(|scope| {
                for t in 0..(GROUP as u64 + 3) {
                    let m = &m;
                    scope.spawn(move || {
                        for _ in 0..1_000 + wave * 10 + t {
                            if let Some(cell) = m.start_call() {
                                cell.record_latency(Duration::from_nanos(10));
                            }
                        }
                    });
                }
            });
        }
        let per_wave =
            |wave: u64| -> u64 { (0..(GROUP as u64 + 3)).map(|t| 1_000 + wave * 10 + t).sum() };
        let expected: u64 = (0..3).map(per_wave).sum();
        let snapshot = m.snapshot();
        assert_eq!(snapshot.calls, expected);
        assert!(snapshot.sampled_calls >= TIMED_FIRST, "{snapshot:?}");
    }

    #[test]
    fn the_shared_cell_counts_atomically() {
        let m = Metrics::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        m.start_shared_call();
                    }
                });
            }
        });
        assert_eq!(m.snapshot().calls, 40_000);
    }
}
