//! Opening one plugin: the checks that run before any of its code does ([`precheck`]: file,
//! trust policy, ELF, manifest and checksum, the descriptor section), the one of them that needs
//! the other loaded plugins (a duplicate id, known from the section before `dlopen`), the
//! private copy, handing the copy to where the plugin runs, the checks on the root module's
//! descriptor (manifest agreement, agreement with the section, unique id for a library without
//! a section) and its log; `start` runs its `on_load`.

use std::{
    fs,
    path::Path,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use super::{start::OnLoadOn, Loaded, PluginManager};
use crate::{
    config::LoadFrom,
    error::{LoadError, Refusal},
    isolation::Isolation,
    loader::HostFacts,
    logfile::{self, PluginLog},
    precheck,
    runner::{self, OpenContext, PrivateCopy},
};

/// A plugin's checks that run before any of its code does, done: what [`PluginManager::open`]
/// needs next. They need nothing of the other plugins, so a folder's can run ahead of its
/// loads on another thread (see `load_folder`).
pub(super) struct Prechecked {
    checked: precheck::Checked,
    generation: u64,
    /// How long the checks took (a part of the load's time).
    took: Duration,
    /// The library content's hash, the layout-check cache's name for it, when the cache can
    /// serve: with a cache folder (a restart), or for a plugin that may offer this host an
    /// extension (the same content under another name). Taken with the checks, on their
    /// thread; hashing maps every page of the file, which costs about what a `dlopen` does,
    /// so the cache remembers the hash by the file's identity (an unchanged file is not read
    /// again).
    library_hash: Option<u128>,
}

/// A plugin loaded up to its `on_load`: what [`PluginManager::run_on_load`] needs.
pub(super) struct Opening {
    pub opened: runner::Opened,
    pub id: String,
    pub log: Arc<PluginLog>,
    pub library_hash: Option<u128>,
    /// The phases so far: the checks, and opening the library (without its layout check).
    pub checks: Duration,
    pub open: Duration,
    /// The time on the loading thread from the checks' end to here.
    pub before_start: Duration,
}

impl PluginManager {
    /// Checks, copies, loads and starts the plugin at `path`. `replacing` is the id of the
    /// plugin this load will replace, which may keep its id.
    pub(super) fn open(
        &self,
        path: &Path,
        replacing: Option<&str>,
    ) -> Result<Arc<Loaded>, Box<LoadError>> {
        let prechecked = self.precheck(path)?;
        self.open_prechecked(path, prechecked, replacing)
    }

    /// The checks of `path` that run before any of its code does, and its private copy.
    pub(super) fn precheck(&self, path: &Path) -> Result<Prechecked, Box<LoadError>> {
        let started = Instant::now();
        // The library is copied straight into its private copy and checked there.
        let generation = self.core.generation.fetch_add(1, Ordering::Relaxed);
        let private = self.core.private.path();
        let name_copy = |library: &Path| private.join(copy_name(generation, library));
        // In place only once per file: the loader hands back the library it already has
        // for a file it has loaded.
        let first_in_place = |meta: &fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            let mut loaded = self.core.in_place.lock().unwrap_or_else(|e| e.into_inner());
            loaded.insert((meta.dev(), meta.ino()))
        };
        let take = match self.core.config.load_from {
            LoadFrom::InPlace => precheck::Take::InPlace {
                name: &name_copy,
                allowed: &first_in_place,
            },
            _ => precheck::Take::CopyTo(&name_copy),
        };
        let checked = precheck::check(path, &self.core.config, take)?;
        // Only a plugin that may offer this host an extension needs it (the section lists
        // every extension the library has, checked against its root module after loading).
        let may_extend = !self.core.config.extension_points.is_empty()
            && checked
                .section
                .as_ref()
                .is_none_or(|s| !s.extensions.is_empty());
        let library_hash = (self.core.config.cache_dir.is_some() || may_extend).then(|| {
            let cache = &self.core.layout_cache;
            cache
                .known_hash(&checked.identity)
                .unwrap_or_else(|| cache.hash_and_remember(&checked.identity, &checked.bytes))
        });
        Ok(Prechecked {
            checked,
            generation,
            took: started.elapsed(),
            library_hash,
        })
    }

    /// Loads and starts the plugin at `path` whose checks `prechecked` passed, waiting for
    /// its `on_load`.
    pub(super) fn open_prechecked(
        &self,
        path: &Path,
        prechecked: Prechecked,
        replacing: Option<&str>,
    ) -> Result<Arc<Loaded>, Box<LoadError>> {
        let opening = self.open_to_start(path, prechecked, replacing)?;
        let started = self.run_on_load(opening, OnLoadOn::Worker);
        self.finish_start(path, started)
    }

    /// Loads the plugin at `path` whose checks `prechecked` passed, up to its `on_load`: the
    /// duplicate id, the private copy, `dlopen` with the root module's checks, its log.
    pub(super) fn open_to_start(
        &self,
        path: &Path,
        prechecked: Prechecked,
        replacing: Option<&str>,
    ) -> Result<Opening, Box<LoadError>> {
        let started = Instant::now();
        let Prechecked {
            checked,
            generation,
            took,
            library_hash,
        } = prechecked;
        let precheck::Checked {
            library,
            mut bytes,
            manifest,
            section,
            bundled,
            ..
        } = checked;
        let is_replaced = |other: &str| replacing.is_some_and(|r| r.eq_ignore_ascii_case(other));
        if let Some(section) = &section {
            // Known from the section: a duplicate is refused before its code runs.
            if let Some(other) = self
                .find_loaded(&section.id)
                .filter(|l| !is_replaced(&l.info.id))
            {
                return Err(Box::new(
                    LoadError::new(
                        path,
                        Refusal::DuplicateId {
                            id: section.id.clone(),
                            loaded_from: other.info.path.clone(),
                        },
                    )
                    .with_id(&section.id),
                ));
            }
        }
        // Where it runs is chosen before anything of it runs, by its id where that can be
        // read without loading it: from plugin.toml, or from the descriptor section.
        let known_id = manifest
            .as_ref()
            .map(|m| m.plugin.id.clone())
            .or_else(|| section.as_ref().map(|section| section.id.clone()));
        let (isolation, probing) = match &known_id {
            Some(id) => (self.core.config.isolation_for(id).clone(), false),
            None if self
                .core
                .config
                .plugin_isolation
                .values()
                .any(|i| i != &self.core.config.isolation) =>
            {
                // Rules per id, and no id to read: learn it in a worker, where a crash in
                // the library's constructors harms nothing.
                let probe = std::iter::once(&self.core.config.isolation)
                    .chain(self.core.config.plugin_isolation.values())
                    .find(|i| matches!(i, Isolation::Process(_)))
                    .cloned()
                    .unwrap_or_else(Isolation::process);
                (probe, true)
            }
            None => (self.core.config.isolation.clone(), false),
        };
        // A worker gets a copy even in place: it opens the file by name in another process.
        // A plugin with bundled libraries gets a copy in a folder of its own, with its `lib/`.
        let (copy, generation) = match bytes.take_copy() {
            // The checks' copy moves into the folder (renamed, not written again); a link
            // to the file itself cannot.
            Some(taken) if !bundled.is_empty() && !bytes.is_in_place() => {
                self.write_copy_from(path, &library, &bytes, &bundled, Some(taken))?
            }
            Some(link) if !bundled.is_empty() => {
                drop(link);
                self.write_copy(path, &library, &bytes, &bundled)?
            }
            Some(link) if bytes.is_in_place() && isolation != Isolation::InProcess => {
                drop(link);
                self.write_copy(path, &library, &bytes, &bundled)?
            }
            Some(copy) => (copy, generation),
            None => self.write_copy(path, &library, &bytes, &bundled)?,
        };
        let opening = Instant::now();
        let mut opened = self.open_copy(
            path,
            copy,
            generation,
            known_id.as_deref(),
            &isolation,
            library_hash,
        )?;
        if probing {
            let wanted = self.core.config.isolation_for(&opened.info.id).clone();
            if wanted != isolation {
                let id = opened.info.id.clone();
                drop(opened);
                let (copy, generation) = self.write_copy(path, &library, &bytes, &bundled)?;
                opened =
                    self.open_copy(path, copy, generation, Some(&id), &wanted, library_hash)?;
            }
        }
        let open_time = opening.elapsed();
        drop(bytes);
        drop(bundled);
        let id = opened.info.id.clone();
        let with_id = |refusal: Refusal| Box::new(LoadError::new(path, refusal).with_id(&id));
        if let Some(section) = &section {
            precheck::agree(section, &opened.info).map_err(with_id)?;
            match opened.runner.module() {
                Some(module) => precheck::agree_extensions(section, module),
                None => precheck::agree_listed_extensions(section, &opened.listed_extensions),
            }
            .map_err(with_id)?;
        }
        if let Some(manifest) = &manifest {
            precheck::agree_with_manifest(manifest, &opened.info).map_err(with_id)?;
        }
        // With a section this was decided before loading (the root module's id agrees).
        let duplicate = match &section {
            Some(_) => None,
            None => self.find_loaded(&id).filter(|l| !is_replaced(&l.info.id)),
        };
        if let Some(other) = duplicate {
            return Err(with_id(Refusal::DuplicateId {
                id: id.clone(),
                loaded_from: other.info.path.clone(),
            }));
        }

        let level = self.log_level(&id);
        let log = PluginLog::new(
            &id,
            level,
            self.core.config.log_dir.as_deref(),
            self.core.config.log_max_bytes,
        )
        .map_err(|e| {
            with_id(Refusal::Unreadable {
                reason: format!("cannot open its log file: {e}"),
            })
        })?;
        Ok(Opening {
            checks: took,
            open: open_time.saturating_sub(opened.check_time),
            before_start: started.elapsed(),
            opened,
            id,
            log: Arc::new(log),
            library_hash,
        })
    }

    /// Writes a new private copy of `bytes` (of `library`, for `path`'s errors), with its
    /// generation. A plugin with bundled libraries (paths relative to its folder, and their
    /// checked bytes) is copied into a folder of its own, `<n>-<name>.d/`, with the libraries
    /// at the same relative paths, so that its `$ORIGIN/lib` run path finds the copies.
    fn write_copy(
        &self,
        path: &Path,
        library: &Path,
        bytes: &[u8],
        bundled: &[(std::path::PathBuf, Vec<u8>)],
    ) -> Result<(PrivateCopy, u64), Box<LoadError>> {
        self.write_copy_from(path, library, bytes, bundled, None)
    }

    /// [`Self::write_copy`], renaming `made`, a private copy of `bytes` already written in
    /// the private folder, to the new copy's name instead of writing the bytes again.
    fn write_copy_from(
        &self,
        path: &Path,
        library: &Path,
        bytes: &[u8],
        bundled: &[(std::path::PathBuf, Vec<u8>)],
        made: Option<PrivateCopy>,
    ) -> Result<(PrivateCopy, u64), Box<LoadError>> {
        let generation = self.core.generation.fetch_add(1, Ordering::Relaxed);
        let name = copy_name(generation, library);
        let copy = if bundled.is_empty() {
            PrivateCopy(self.core.private.path().join(name))
        } else {
            let file = library.file_name().unwrap_or_default();
            PrivateCopy(
                self.core
                    .private
                    .path()
                    .join(format!("{name}.d"))
                    .join(file),
            )
        };
        let write = || -> std::io::Result<()> {
            if let Some(folder) = copy.0.parent().filter(|_| !bundled.is_empty()) {
                for (relative, data) in bundled {
                    let file = folder.join(relative);
                    fs::create_dir_all(file.parent().unwrap_or(folder))?;
                    fs::write(file, data)?;
                }
            }
            match &made {
                Some(made) => fs::rename(&made.0, &copy.0),
                None => fs::write(&copy.0, bytes),
            }
        };
        write().map_err(|e| {
            Box::new(LoadError::new(
                path,
                Refusal::Unreadable {
                    reason: format!("cannot copy it to {}: {e}", copy.0.display()),
                },
            ))
        })?;
        Ok((copy, generation))
    }

    /// Opens the private copy `copy` (of generation `generation`) where `isolation` says. The
    /// dynamic loader shares one library per file, and a file overwritten in place while
    /// mapped crashes the process: a copy is never touched.
    fn open_copy(
        &self,
        path: &Path,
        copy: PrivateCopy,
        generation: u64,
        id: Option<&str>,
        isolation: &Isolation,
        library_hash: Option<u128>,
    ) -> Result<runner::Opened, Box<LoadError>> {
        // A worker may write one folder: its own under the storage folder when both are
        // known (apart from the plugin's storage files, which the host writes), else a
        // fresh one beside the private copies.
        let data_dir = match (&self.core.config.storage_dir, id) {
            (Some(storage), Some(id)) => storage.join(".workers").join(id),
            _ => self.core.private.path().join(format!("{generation}-data")),
        };
        let context = OpenContext {
            host: HostFacts {
                host_version: &self.core.config.host_version,
                layout_cache: library_hash.map(|hash| (&self.core.layout_cache, hash)),
            },
            subscribers: Arc::clone(&self.core.subscribers),
            worker_program: self.core.config.worker_program.as_deref(),
            data_dir,
        };
        runner::open(copy, path, isolation, &context)
    }

    pub(super) fn log_level(&self, id: &str) -> logfile::LevelFilter {
        let from_env = std::env::var(logfile::level_variable(id))
            .ok()
            .and_then(|v| v.parse().ok());
        from_env
            .or_else(|| {
                self.core
                    .config
                    .log_levels
                    .get(&id.to_ascii_lowercase())
                    .copied()
            })
            .unwrap_or(self.core.config.default_log_level)
    }
}

/// The file name of generation `generation`'s private copy of `library`: unique in the
/// manager's private folder, and still telling which plugin it is (in `/proc/<pid>/maps`, a
/// crash report).
fn copy_name(generation: u64, library: &Path) -> String {
    let name = library
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{generation}-{name}")
}
