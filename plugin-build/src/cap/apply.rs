//! Applying a [`Plan`] through cargo. Cargo writes the lock; this module never touches
//! `Cargo.lock` itself (no hand-edited versions or checksums).
//!
//! The fast path seeds the resolver: every crates.io pin becomes a temporary dependency
//! `plugin-build-cap-seed-N = { package = NAME, version = "=HOST", default-features = false }`
//! under `[target.'cfg(any())'.dependencies]` of a plugin package. No platform matches
//! `cfg(any())`, so nothing is ever built from it, but cargo's lockfile covers every platform,
//! so one `cargo update --workspace` moves all shared crates to the host's versions at once
//! (up or down), together with whatever their own requirements drag along. When a requirement
//! in the graph excludes a host version, cargo fails naming that crate; its seed is dropped,
//! recorded as a [`Conflict`] with the requirement and its owner, and cargo runs again. Then
//! the manifest is put back byte for byte and one more `cargo update --workspace` lets cargo
//! drop the seed's edges from the lock, keeping the versions. Crates from other registries
//! (rare) are pinned one by one with `cargo update -p NAME@FROM --precise TO`.
//!
//! Afterwards the lock is read again: each pin must be there ([`CapError::PinNotTaken`]
//! otherwise), and every other difference is reported as [`Moved`].

use std::collections::BTreeSet;

use semver::Version;

use super::{
    cargo::Cargo,
    error::CapError,
    lockfile::{Lock, LockedPackage, Source},
    plan::{Pin, Plan},
    workspace::{write_atomic, PluginWorkspace, Snapshot},
};
use crate::process::ProcessError;

/// Dependency names of the temporary pins; they show up in cargo's conflict messages.
pub const SEED_PREFIX: &str = "plugin-build-cap-seed-";
/// A target no platform matches: its dependencies are resolved into the lock but never built.
const SEED_TARGET: &str = "cfg(any())";

/// A pin cargo refused because a requirement in the plugin's graph excludes the host's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The pin that could not be applied.
    pub pin: Pin,
    /// The requirement that excludes the host's version, e.g. `^1.0.200`.
    pub requirement: Option<String>,
    /// Who has that requirement, e.g. `my-plugin v0.1.0`.
    pub required_by: Option<String>,
    /// Whether the requirer is one of the plugin's own (path or workspace) packages.
    pub required_by_plugin: bool,
    /// Cargo's explanation, trimmed.
    pub cargo_says: String,
}

impl Conflict {
    /// What to do about it.
    pub fn fix(&self) -> String {
        let to = &self.pin.to;
        let line = super::line::Line::of(to).requirement();
        match (&self.required_by, self.required_by_plugin) {
            (Some(by), true) => format!(
                "change the requirement in `{}`'s Cargo.toml to accept {to}, e.g. `{} = \"{line}\"`",
                package_name(by),
                self.pin.name
            ),
            (Some(by), false) => format!(
                "use a version of `{}` whose requirement accepts {to} (the host's own, if it has one), \
                 or update the host to a `{}` that satisfies `{}`",
                package_name(by),
                self.pin.name,
                self.requirement.as_deref().unwrap_or("it")
            ),
            (None, _) => format!("see cargo's explanation; `cargo update -p {}@{} --precise {to}` shows it again", self.pin.name, self.pin.from),
        }
    }
}

/// `name` from `name v1.2.3`.
fn package_name(id: &str) -> &str {
    id.split(" v").next().unwrap_or(id)
}

/// A package cargo changed besides the pins: added, removed, or moved to another version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The crate.
    pub name: String,
    /// Its version before (`None`: added).
    pub from: Option<Version>,
    /// Its version after (`None`: removed).
    pub to: Option<Version>,
}

/// What applying did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Pins that took.
    pub pinned: Vec<Pin>,
    /// Pins cargo refused.
    pub conflicts: Vec<Conflict>,
    /// Everything else cargo changed.
    pub moved: Vec<Moved>,
}

/// Brings the plugin's lock in line with its manifests (creating it if missing) without
/// updating anything else: `cargo update --workspace`.
pub fn sync(ws: &PluginWorkspace, cargo: &Cargo) -> Result<(), CapError> {
    update_workspace(ws, cargo).map_err(|e| cargo.classify(&ws.manifest, e))
}

fn update_workspace(ws: &PluginWorkspace, cargo: &Cargo) -> Result<(), ProcessError> {
    cargo
        .command(["update", "--workspace", "--manifest-path"])
        .arg(ws.root_manifest.to_string_lossy())
        .output()
        .map(drop)
}

/// Applies `plan`'s pins to the plugin whose lock currently reads `before`. `snapshot` must
/// hold the seed manifest; it is put back before this returns, whatever happens.
pub fn apply(
    ws: &PluginWorkspace,
    snapshot: &Snapshot,
    plan: &Plan,
    before: &Lock,
    cargo: &Cargo,
) -> Result<Applied, CapError> {
    let result = apply_inner(ws, snapshot, plan, before, cargo);
    let restored = snapshot.restore(&ws.seed_manifest);
    let applied = result?;
    restored?;
    Ok(applied)
}

fn apply_inner(
    ws: &PluginWorkspace,
    snapshot: &Snapshot,
    plan: &Plan,
    before: &Lock,
    cargo: &Cargo,
) -> Result<Applied, CapError> {
    let local: BTreeSet<&str> = plan.local.iter().map(|p| p.name.as_str()).collect();
    let original = snapshot.original(&ws.seed_manifest).unwrap_or_default();
    let original = String::from_utf8_lossy(original).into_owned();

    // Seeds keep their index in `plan.pins` as their name, so messages map back to pins.
    let mut active: Vec<(usize, &Pin)> = plan
        .pins
        .iter()
        .enumerate()
        .filter(|(_, p)| p.source == Source::CratesIo)
        .collect();
    let mut conflicts = Vec::new();
    let mut seeded = false;
    while !active.is_empty() {
        let manifest =
            seeded_manifest(&original, &active).map_err(|source| CapError::EditManifest {
                path: ws.seed_manifest.clone(),
                source,
            })?;
        write_atomic(&ws.seed_manifest, manifest.as_bytes()).map_err(|source| CapError::Write {
            path: ws.seed_manifest.clone(),
            source,
        })?;
        seeded = true;
        match update_workspace(ws, cargo) {
            Ok(()) => break,
            Err(err) => {
                let ProcessError::Failed { stderr, .. } = &err else {
                    return Err(cargo.classify(&ws.manifest, err));
                };
                // A registry that cannot answer (or, offline, versions that are not in the
                // local cache) also makes the resolver fail; that is not a conflict.
                if super::cargo::is_network_failure(stderr) {
                    return Err(cargo.classify(&ws.manifest, err));
                }
                let pins: Vec<(usize, &Pin)> = active.clone();
                let Some((at, parsed)) = parse_conflict(stderr, &pins) else {
                    return Err(cargo.classify(&ws.manifest, err));
                };
                if parsed.accepts_host_version(active[at].1) {
                    // Not a conflict: the requirement cargo names accepts the host's version.
                    // Offline, this is cargo refusing versions whose crates are not downloaded.
                    return Err(cargo.classify_unresolvable(&ws.manifest, err));
                }
                let (_, pin) = active.remove(at);
                conflicts.push(parsed.into_conflict(pin, &local, stderr));
            }
        }
    }
    snapshot.restore(&ws.seed_manifest)?;
    if seeded {
        // The lock still lists the seed edges; resolving once more without them drops them
        // and keeps every version.
        sync(ws, cargo)?;
    }

    // Other registries: one precise update each.
    for pin in plan.pins.iter().filter(|p| p.source != Source::CratesIo) {
        let run = cargo
            .command(["update", "--manifest-path"])
            .arg(ws.root_manifest.to_string_lossy())
            .args(["-p", &format!("{}@{}", pin.name, pin.from)])
            .args(["--precise", &pin.to.to_string()])
            .output();
        if let Err(err) = run {
            let ProcessError::Failed { stderr, .. } = &err else {
                return Err(cargo.classify(&ws.manifest, err));
            };
            if super::cargo::is_network_failure(stderr) {
                return Err(cargo.classify(&ws.manifest, err));
            }
            let parsed = parse_conflict(stderr, &[(usize::MAX, pin)])
                .map(|(_, p)| p)
                .unwrap_or_default();
            if parsed.accepts_host_version(pin) {
                return Err(cargo.classify_unresolvable(&ws.manifest, err));
            }
            conflicts.push(parsed.into_conflict(pin, &local, stderr));
        }
    }

    let after = Lock::read(&ws.lock)?;
    let pinned: Vec<Pin> = plan
        .pins
        .iter()
        .filter(|p| !conflicts.iter().any(|c: &Conflict| &c.pin == *p))
        .cloned()
        .collect();
    for pin in &pinned {
        let found: Vec<&LockedPackage> = after
            .named(&pin.name)
            .filter(|p| p.source == pin.source)
            .collect();
        if !found.iter().any(|p| p.version == pin.to) {
            return Err(CapError::PinNotTaken {
                lock: ws.lock.clone(),
                name: pin.name.clone(),
                expected: pin.to.to_string(),
                found: if found.is_empty() {
                    "nothing".into()
                } else {
                    found
                        .iter()
                        .map(|p| p.version.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
    }
    let moved = moved(before, &after, &pinned);
    Ok(Applied {
        pinned,
        conflicts,
        moved,
    })
}

/// The plugin manifest with the seeds added.
fn seeded_manifest(
    original: &str,
    seeds: &[(usize, &Pin)],
) -> Result<String, toml_edit::TomlError> {
    use toml_edit::{value, DocumentMut, InlineTable, Item, Table};
    let mut doc: DocumentMut = original.parse()?;
    let target = doc.entry("target").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(target) = target.as_table_like_mut() else {
        return Ok(original.to_owned());
    };
    let cfg = target.entry(SEED_TARGET).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(cfg) = cfg.as_table_like_mut() else {
        return Ok(original.to_owned());
    };
    let deps = cfg
        .entry("dependencies")
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(deps) = deps.as_table_like_mut() else {
        return Ok(original.to_owned());
    };
    for (index, pin) in seeds {
        let mut dep = InlineTable::new();
        dep.insert("package", pin.name.as_str().into());
        dep.insert("version", format!("={}", pin.to).into());
        dep.insert("default-features", false.into());
        deps.insert(&format!("{SEED_PREFIX}{index}"), value(dep));
    }
    Ok(doc.to_string())
}

/// What a cargo resolver error says about one of the seeds.
#[derive(Debug, Default, PartialEq, Eq)]
struct ParsedConflict {
    requirement: Option<String>,
    required_by: Option<String>,
}

impl ParsedConflict {
    /// Whether the blocking requirement cargo named does accept the pin's version (then it is
    /// not what blocks it).
    fn accepts_host_version(&self, pin: &Pin) -> bool {
        self.requirement
            .as_deref()
            .and_then(|r| semver::VersionReq::parse(r).ok())
            .is_some_and(|r| r.matches(&pin.to))
    }

    fn into_conflict(self, pin: &Pin, local: &BTreeSet<&str>, stderr: &str) -> Conflict {
        let required_by_plugin = self
            .required_by
            .as_deref()
            .is_some_and(|by| local.contains(package_name(by)));
        Conflict {
            pin: pin.clone(),
            requirement: self.requirement,
            required_by: self.required_by,
            required_by_plugin,
            cargo_says: trim_cargo_text(stderr),
        }
    }
}

/// Cargo's resolver error without the noise: no `Updating` lines, no long version lists.
fn trim_cargo_text(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.trim_start().starts_with("Updating") && !l.trim().is_empty())
        .map(|l| {
            if l.len() > 160 {
                format!(
                    "{} ...",
                    &l[..l.char_indices().nth(150).map_or(l.len(), |(i, _)| i)]
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text between the first pair of backticks after `after`.
fn quoted_after<'a>(line: &'a str, after: &str) -> Option<&'a str> {
    let rest = &line[line.find(after)? + after.len()..];
    let rest = rest.strip_prefix('`').unwrap_or(rest);
    Some(&rest[..rest.find('`')?])
}

/// `my-plugin v0.1.0` from `my-plugin v0.1.0 (/path/to/it)`.
fn strip_path(id: &str) -> String {
    match id.find(" (") {
        Some(i) => id[..i].to_owned(),
        None => id.to_owned(),
    }
}

/// Splits `serde = "^1.0.200"` into (`serde`, `^1.0.200`).
fn split_dep(dep: &str) -> Option<(String, String)> {
    let (name, req) = dep.split_once(" = ")?;
    Some((
        name.trim().to_owned(),
        req.trim().trim_matches('"').to_owned(),
    ))
}

/// Finds which seed cargo's resolver error is about, and the requirement that blocks it.
/// Returns the position in `seeds`.
fn parse_conflict(stderr: &str, seeds: &[(usize, &Pin)]) -> Option<(usize, ParsedConflict)> {
    // (dependency name or alias, requirement, required by), in the order cargo wrote them.
    let mut triples: Vec<(String, String, Option<String>)> = Vec::new();
    let mut failing: Option<String> = None;
    let lines: Vec<&str> = stderr.lines().collect();
    let mut pending: Option<usize> = None; // index of a triple still waiting for its owner
    let mut select_for: Option<String> = None;
    let mut select_by: Option<String> = None;
    for line in &lines {
        if let Some(dep) = quoted_after(line, "failed to select a version for the requirement ") {
            if let Some((name, req)) = split_dep(dep) {
                failing.get_or_insert(name.clone());
                triples.push((name, req, None));
                pending = Some(triples.len() - 1);
            }
        } else if let Some(name) = quoted_after(line, "failed to select a version for ") {
            failing.get_or_insert(name.to_owned());
            select_for = Some(name.to_owned());
            select_by = None;
        } else if let Some(by) = quoted_after(line, "required by package ") {
            if let Some(i) = pending.take() {
                triples[i].2 = Some(strip_path(by));
            } else if select_for.is_some() && select_by.is_none() {
                select_by = Some(strip_path(by));
            }
        } else if let Some(req) = quoted_after(line, "versions that meet the requirements ") {
            if let Some(name) = select_for.take() {
                triples.push((name, req.to_owned(), select_by.take()));
            }
        } else if select_for.is_some() {
            // The chain that leads to the failing requirement's owner: not a requirement on
            // the failing crate itself.
        } else if let (Some(dep), Some(by)) = (
            quoted_after(line, "which satisfies dependency "),
            quoted_after(line, " of package "),
        ) {
            if let Some((name, req)) = split_dep(dep) {
                triples.push((name, req, Some(strip_path(by))));
            }
        }
    }
    let failing = failing?;
    let position = |name: &str| -> Option<usize> {
        if let Some(index) = name.strip_prefix(SEED_PREFIX) {
            let index: usize = index.parse().ok()?;
            return seeds.iter().position(|(i, _)| *i == index);
        }
        let same_name: Vec<usize> = (0..seeds.len())
            .filter(|&k| seeds[k].1.name == name)
            .collect();
        match same_name.as_slice() {
            [] => None,
            [one] => Some(*one),
            several => several
                .iter()
                .copied()
                .find(|&k| stderr.contains(&format!("={}", seeds[k].1.to)))
                .or(Some(several[0])),
        }
    };
    let at = position(&failing)?;
    let pin = seeds[at].1;
    let seed_req = format!("={}", pin.to);
    let blocker = triples
        .iter()
        .find(|(name, req, by)| !name.starts_with(SEED_PREFIX) && *req != seed_req && by.is_some());
    let parsed = match blocker {
        Some((_, req, by)) => ParsedConflict {
            requirement: Some(req.clone()),
            required_by: by.clone(),
        },
        None => ParsedConflict::default(),
    };
    Some((at, parsed))
}

/// Every difference between `before` and `after` that is not one of `pinned`.
pub fn moved(before: &Lock, after: &Lock, pinned: &[Pin]) -> Vec<Moved> {
    let key = |p: &LockedPackage| (p.name.clone(), p.version.clone(), p.source.clone());
    let is_pin_end = |p: &LockedPackage| {
        pinned.iter().any(|pin| {
            pin.name == p.name
                && pin.source == p.source
                && (pin.from == p.version || pin.to == p.version)
        })
    };
    let old: BTreeSet<_> = before
        .packages
        .iter()
        .filter(|p| !is_pin_end(p))
        .map(key)
        .collect();
    let new: BTreeSet<_> = after
        .packages
        .iter()
        .filter(|p| !is_pin_end(p))
        .map(key)
        .collect();
    let removed: Vec<_> = old.difference(&new).collect();
    let added: Vec<_> = new.difference(&old).collect();
    let mut moved = Vec::new();
    let mut used = vec![false; added.len()];
    for (name, version, source) in &removed {
        let partner = added
            .iter()
            .enumerate()
            .find(|(i, (n, _, s))| !used[*i] && n == name && s == source);
        match partner {
            Some((i, (_, to, _))) => {
                used[i] = true;
                moved.push(Moved {
                    name: name.clone(),
                    from: Some(version.clone()),
                    to: Some(to.clone()),
                });
            }
            None => moved.push(Moved {
                name: name.clone(),
                from: Some(version.clone()),
                to: None,
            }),
        }
    }
    for (i, (name, version, _)) in added.iter().enumerate() {
        if !used[i] {
            moved.push(Moved {
                name: name.clone(),
                from: None,
                to: Some(version.clone()),
            });
        }
    }
    moved.sort_by(|a, b| a.name.cmp(&b.name));
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, from: &str, to: &str) -> Pin {
        Pin {
            name: name.into(),
            source: Source::CratesIo,
            from: Version::parse(from).unwrap(),
            to: Version::parse(to).unwrap(),
        }
    }

    // Verbatim from cargo 1.95.
    const SEED_SELECTED_SECOND: &str = r#"    Updating crates.io index
error: failed to select a version for `serde`.
    ... required by package `exp1 v0.1.0 (/tmp/exp1)`
versions that meet the requirements `^1.0.200` are: 1.0.229, 1.0.228, 1.0.200

all possible versions conflict with previously selected packages.

  previously selected package `serde v1.0.150`
    ... which satisfies dependency `plugin-build-cap-seed-1 = "=1.0.150"` of package `exp1 v0.1.0 (/tmp/exp1)`

failed to select a version for `serde` which could resolve this conflict
"#;

    const TRANSITIVE: &str = r#"    Updating crates.io index
error: failed to select a version for `serde_derive`.
    ... required by package `serde v1.0.200`
    ... which satisfies dependency `serde = "^1.0.200"` of package `exp1 v0.1.0 (/tmp/exp1)`
versions that meet the requirements `=1.0.200` are: 1.0.200

all possible versions conflict with previously selected packages.

  previously selected package `serde_derive v1.0.150`
    ... which satisfies dependency `plugin-build-cap-seed-2 = "=1.0.150"` of package `exp1 v0.1.0 (/tmp/exp1)`

failed to select a version for `serde_derive` which could resolve this conflict
"#;

    const SEED_SELECTED_FIRST: &str = r#"error: failed to select a version for the requirement `plugin-build-cap-seed-0 = "=1.0.150"`
candidate versions found which didn't match: 1.0.229
location searched: crates.io index
required by package `exp1 v0.1.0 (/tmp/exp1)`
    previously selected package `serde v1.0.229`
    ... which satisfies dependency `serde = "^1.0.200"` of package `other v0.3.0`
"#;

    #[test]
    fn conflicts_name_the_seed_and_the_blocking_requirement() {
        let log = pin("log", "0.4.14", "0.4.22");
        let serde = pin("serde", "1.0.229", "1.0.150");
        let derive = pin("serde_derive", "1.0.229", "1.0.150");
        let seeds = [(0, &log), (1, &serde), (2, &derive)];
        let table = [
            (SEED_SELECTED_SECOND, 1, "^1.0.200", "exp1 v0.1.0"),
            (TRANSITIVE, 2, "=1.0.200", "serde v1.0.200"),
        ];
        for (text, at, req, by) in table {
            let (found, parsed) = parse_conflict(text, &seeds).unwrap();
            assert_eq!(found, at, "{text}");
            assert_eq!(parsed.requirement.as_deref(), Some(req), "{text}");
            assert_eq!(parsed.required_by.as_deref(), Some(by), "{text}");
        }
        let seeds = [(0, &serde)];
        let (found, parsed) = parse_conflict(SEED_SELECTED_FIRST, &seeds).unwrap();
        assert_eq!(found, 0);
        assert_eq!(parsed.requirement.as_deref(), Some("^1.0.200"));
        assert_eq!(parsed.required_by.as_deref(), Some("other v0.3.0"));
        assert!(parse_conflict("error: something else entirely", &seeds).is_none());
    }

    #[test]
    fn a_requirement_that_accepts_the_host_version_is_not_a_conflict() {
        // Verbatim from `cargo --offline update --workspace` when 1.0.86 is not downloaded.
        let offline = r#"error: failed to select a version for `proc-macro2`.
    ... required by package `multi-plugin v0.1.0 (/tmp/off)`
versions that meet the requirements `=1.0.86` are: 1.0.86

all possible versions conflict with previously selected packages.

  previously selected package `proc-macro2 v1.0.107`
    ... which satisfies dependency `proc-macro2 = "^1"` of package `multi-plugin v0.1.0 (/tmp/off)`
"#;
        let p = pin("proc-macro2", "1.0.107", "1.0.86");
        let (_, parsed) = parse_conflict(offline, &[(0, &p)]).unwrap();
        assert_eq!(parsed.requirement.as_deref(), Some("^1"));
        assert!(parsed.accepts_host_version(&p));
        let serde = pin("serde", "1.0.229", "1.0.150");
        let (_, real) = parse_conflict(SEED_SELECTED_SECOND, &[(1, &serde)]).unwrap();
        assert!(!real.accepts_host_version(&serde));
    }

    #[test]
    fn seeds_go_under_a_target_no_platform_matches() {
        let original = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n\n[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n";
        let serde = pin("serde", "1.0.229", "1.0.150");
        let syn = pin("syn", "1.0.100", "1.0.109");
        let text = seeded_manifest(original, &[(0, &serde), (3, &syn)]).unwrap();
        assert!(text.starts_with(original.trim_end()), "{text}");
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let deps = &doc["target"]["cfg(any())"]["dependencies"];
        assert_eq!(
            deps["plugin-build-cap-seed-0"]["package"].as_str(),
            Some("serde")
        );
        assert_eq!(
            deps["plugin-build-cap-seed-3"]["version"].as_str(),
            Some("=1.0.109")
        );
        assert_eq!(
            doc["target"]["cfg(unix)"]["dependencies"]["libc"].as_str(),
            Some("0.2")
        );
    }

    #[test]
    fn moved_reports_everything_but_the_pins() {
        let lock = |entries: &[(&str, &str)]| Lock {
            path: "Cargo.lock".into(),
            format: 4,
            packages: entries
                .iter()
                .map(|(n, v)| LockedPackage {
                    name: (*n).into(),
                    version: Version::parse(v).unwrap(),
                    source: Source::CratesIo,
                })
                .collect(),
        };
        let before = lock(&[
            ("serde", "1.0.229"),
            ("serde_core", "1.0.229"),
            ("syn", "3.0.9"),
            ("memchr", "2.8.0"),
        ]);
        let after = lock(&[
            ("serde", "1.0.150"),
            ("syn", "1.0.109"),
            ("memchr", "2.8.0"),
            ("unicode-xid", "0.2.6"),
        ]);
        let moved = moved(&before, &after, &[pin("serde", "1.0.229", "1.0.150")]);
        let text: Vec<String> = moved
            .iter()
            .map(|m| {
                format!(
                    "{} {:?} {:?}",
                    m.name,
                    m.from.as_ref().map(ToString::to_string),
                    m.to.as_ref().map(ToString::to_string)
                )
            })
            .collect();
        assert_eq!(
            text,
            [
                "serde_core Some(\"1.0.229\") None",
                "syn Some(\"3.0.9\") Some(\"1.0.109\")",
                "unicode-xid None Some(\"0.2.6\")",
            ]
        );
    }
}
