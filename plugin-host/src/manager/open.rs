//! Opening one plugin: the checks that run before any of its code does ([`precheck`]: file,
//! trust policy, ELF, manifest and checksum, the descriptor section), the one of them that needs
//! the other loaded plugins (a duplicate id, known from the section before `dlopen`), the
//! private copy, handing the copy to where the plugin runs, the checks on the root module's
//! descriptor (manifest agreement, agreement with the section, unique id for a library without
//! a section), its log, and `on_load` within the time limit.

use std::{
    fs,
    path::Path,
    sync::{atomic::Ordering, Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use super::{Loaded, PluginManager};
use crate::{
    config::LoadFrom,
    error::{LoadError, Refusal},
    extension,
    isolation::Isolation,
    loader::HostFacts,
    logfile::{self, PluginLog},
    precheck,
    report::LoadPhases,
    runner::{self, Failure, OpenContext, PrivateCopy},
    services::BoundServices,
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
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let private = self.private.path();
        let name_copy = |library: &Path| private.join(copy_name(generation, library));
        // In place only once per file: the loader hands back the library it already has
        // for a file it has loaded.
        let first_in_place = |meta: &fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            let mut loaded = self.in_place.lock().unwrap_or_else(|e| e.into_inner());
            loaded.insert((meta.dev(), meta.ino()))
        };
        let take = match self.config.load_from {
            LoadFrom::InPlace => precheck::Take::InPlace {
                name: &name_copy,
                allowed: &first_in_place,
            },
            _ => precheck::Take::CopyTo(&name_copy),
        };
        let checked = precheck::check(path, &self.config, take)?;
        // Only a plugin that may offer this host an extension needs it (the section lists
        // every extension the library has, checked against its root module after loading).
        let may_extend = !self.config.extension_points.is_empty()
            && checked
                .section
                .as_ref()
                .is_none_or(|s| !s.extensions.is_empty());
        let library_hash = (self.config.cache_dir.is_some() || may_extend).then(|| {
            let cache = &self.layout_cache;
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

    /// Loads and starts the plugin at `path` whose checks `prechecked` passed.
    pub(super) fn open_prechecked(
        &self,
        path: &Path,
        prechecked: Prechecked,
        replacing: Option<&str>,
    ) -> Result<Arc<Loaded>, Box<LoadError>> {
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
            Some(id) => (self.config.isolation_for(id).clone(), false),
            None if self
                .config
                .plugin_isolation
                .values()
                .any(|i| i != &self.config.isolation) =>
            {
                // Rules per id, and no id to read: learn it in a worker, where a crash in
                // the library's constructors harms nothing.
                let probe = std::iter::once(&self.config.isolation)
                    .chain(self.config.plugin_isolation.values())
                    .find(|i| matches!(i, Isolation::Process(_)))
                    .cloned()
                    .unwrap_or_else(Isolation::process);
                (probe, true)
            }
            None => (self.config.isolation.clone(), false),
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
            let wanted = self.config.isolation_for(&opened.info.id).clone();
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
            self.config.log_dir.as_deref(),
            self.config.log_max_bytes,
        )
        .map_err(|e| {
            with_id(Refusal::Unreadable {
                reason: format!("cannot open its log file: {e}"),
            })
        })?;
        let log = Arc::new(log);
        let services = BoundServices::new(&id, None, Arc::clone(&self.shared), Arc::clone(&log));
        let starting = Instant::now();
        match opened.runner.start(services, self.config.lifecycle_timeout) {
            Err(Failure::TimedOut) => {
                return Err(with_id(Refusal::OnLoadTimedOut {
                    limit_ms: self.config.lifecycle_timeout.as_millis() as u64,
                }))
            }
            Err(Failure::Plugin(error)) if error.kind == plugrack_api::ErrorKind::PANICKED => {
                return Err(with_id(Refusal::OnLoadPanicked {
                    message: error.message.into(),
                }))
            }
            Err(Failure::Plugin(error)) => {
                return Err(with_id(Refusal::OnLoadFailed {
                    message: error.message.into(),
                }))
            }
            Err(Failure::Crashed(crash)) => {
                let mut error = with_id(Refusal::WorkerCrashed {
                    during: "on_load",
                    crash,
                });
                let words = opened.runner.last_words();
                if !words.is_empty() {
                    error.detail = Some(format!("last stderr:\n  {}", words.join("\n  ")));
                }
                return Err(error);
            }
            Err(Failure::Unavailable(reason)) => {
                return Err(with_id(Refusal::WorkerFailed { reason }))
            }
            Ok(()) => {}
        }
        let on_load = starting.elapsed();
        let extending = Instant::now();
        // Extensions are checked and created only now: the library is open (abi_stable's
        // globals are set up, so layout checks are sound) and the plugin has loaded.
        let extensions = match opened.runner.module() {
            Some(module) => extension::resolve(
                &extension::PluginRef { id: &id, path },
                module,
                library_hash,
                &self.config.extension_points,
                &self.layout_cache,
            ),
            // In a worker: what its root module lists there, each declared one refused.
            None => extension::out_of_process(
                &extension::PluginRef { id: &id, path },
                &opened.listed_extensions,
                &self.config.extension_points,
            ),
        };
        let load_phases = LoadPhases {
            checks: took,
            open: open_time.saturating_sub(opened.check_time),
            layout_check: opened.check_time,
            on_load,
            extensions: extending.elapsed(),
            layout_cached: opened.layout_cached,
        };
        Ok(Arc::new(Loaded {
            extensions,
            load_phases,
            runner: opened.runner,
            info: opened.info,
            instances: Mutex::default(),
            metrics: Arc::default(),
            log,
            load_time: took + started.elapsed(),
            loaded_at: SystemTime::now(),
        }))
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
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let name = copy_name(generation, library);
        let copy = if bundled.is_empty() {
            PrivateCopy(self.private.path().join(name))
        } else {
            let file = library.file_name().unwrap_or_default();
            PrivateCopy(self.private.path().join(format!("{name}.d")).join(file))
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
        let data_dir = match (&self.config.storage_dir, id) {
            (Some(storage), Some(id)) => storage.join(".workers").join(id),
            _ => self.private.path().join(format!("{generation}-data")),
        };
        let context = OpenContext {
            host: HostFacts {
                host_version: &self.config.host_version,
                layout_cache: library_hash.map(|hash| (&self.layout_cache, hash)),
            },
            subscribers: Arc::clone(&self.subscribers),
            worker_program: self.config.worker_program.as_deref(),
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
                self.config
                    .log_levels
                    .get(&id.to_ascii_lowercase())
                    .copied()
            })
            .unwrap_or(self.config.default_log_level)
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
