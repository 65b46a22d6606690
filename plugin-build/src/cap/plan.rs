//! Matching the plugin's resolved graph against the host's: which packages are shared (same
//! name, same source, same semver-compatible line) and so must move to exactly the host's
//! version, up or down. This is pure data work on two [`Lock`]s; cargo is not involved.

use semver::Version;

use super::{
    error::AbiMismatch,
    line::Line,
    lockfile::{Lock, LockedPackage, Source},
};

/// Crates whose semver line decides whether a plugin can load at all (abi_stable checks them
/// when it loads the plugin).
pub const ABI_CRATES: &[&str] = &["abi_stable", "plugrack-api"];

/// Which way a pin moves the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// To a newer version.
    Up,
    /// To an older version.
    Down,
}

/// One shared package that must move to the host's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The crate.
    pub name: String,
    /// Its source (a registry).
    pub source: Source,
    /// The plugin's version now.
    pub from: Version,
    /// The host's version.
    pub to: Version,
}

impl Pin {
    /// Up or down.
    pub fn direction(&self) -> Direction {
        if self.to > self.from {
            Direction::Up
        } else {
            Direction::Down
        }
    }
}

/// A shared crate the host takes from git or a path while the plugin takes it from a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unshareable {
    /// The crate.
    pub name: String,
    /// The host's source.
    pub host_source: Source,
    /// The host's version.
    pub host_version: Version,
    /// The plugin's version.
    pub plugin_version: Version,
}

/// What `cap` will do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Shared packages on another version than the host's, sorted by name and version.
    pub pins: Vec<Pin>,
    /// Shared packages already at the host's version.
    pub already: Vec<LockedPackage>,
    /// Registry or git packages the host does not have on the same line.
    pub plugin_only: Vec<LockedPackage>,
    /// Path and workspace packages of the plugin, never touched.
    pub local: Vec<LockedPackage>,
    /// ABI crates on another line than the host's.
    pub abi: Vec<AbiMismatch>,
    /// Interface crates (host-defined extension points) on another line than the host's.
    pub interfaces: Vec<AbiMismatch>,
    /// Shared crates the host does not take from a registry.
    pub unshareable: Vec<Unshareable>,
}

impl Plan {
    /// Matches every package of `plugin` (transitive ones included) against `host`.
    pub fn new(host: &Lock, plugin: &Lock) -> Self {
        Self::with_interfaces(host, plugin, &[])
    }

    /// Like [`Plan::new`], and also holds the `interfaces` (interface crates, see
    /// [`super::interfaces`]) to the host's semver line, as the ABI crates are.
    pub fn with_interfaces(host: &Lock, plugin: &Lock, interfaces: &[String]) -> Self {
        let mut plan = Plan::default();
        let is_interface = |name: &str| interfaces.iter().any(|i| i == name);
        let line_checked = |name: &str| ABI_CRATES.contains(&name) || is_interface(name);
        for p in &plugin.packages {
            let line = Line::of(&p.version);
            if line_checked(&p.name) {
                let host_versions: Vec<&LockedPackage> = host.named(&p.name).collect();
                if !host_versions.is_empty()
                    && !host_versions.iter().any(|h| Line::of(&h.version) == line)
                {
                    let mismatch = AbiMismatch {
                        name: p.name.clone(),
                        plugin: p.version.to_string(),
                        host: host_versions
                            .iter()
                            .map(|h| h.version.to_string())
                            .collect(),
                    };
                    if ABI_CRATES.contains(&p.name.as_str()) {
                        plan.abi.push(mismatch);
                    } else {
                        plan.interfaces.push(mismatch);
                    }
                    continue;
                }
            }
            if p.source == Source::Local {
                plan.local.push(p.clone());
                continue;
            }
            let same_line = |h: &&LockedPackage| Line::of(&h.version) == line;
            if p.source.is_registry() {
                if let Some(h) = host
                    .named(&p.name)
                    .filter(same_line)
                    .find(|h| h.source == p.source)
                {
                    if h.version == p.version {
                        plan.already.push(p.clone());
                    } else {
                        plan.pins.push(Pin {
                            name: p.name.clone(),
                            source: p.source.clone(),
                            from: p.version.clone(),
                            to: h.version.clone(),
                        });
                    }
                    continue;
                }
                // The host builds this crate, on this line, from somewhere cargo cannot pin a
                // registry package to. The ABI and interface crates are exempt: abi_stable
                // compares their names and versions, not where they came from.
                if !line_checked(&p.name) {
                    if let Some(h) = host
                        .named(&p.name)
                        .filter(same_line)
                        .find(|h| matches!(h.source, Source::Git(_) | Source::Local))
                    {
                        plan.unshareable.push(Unshareable {
                            name: p.name.clone(),
                            host_source: h.source.clone(),
                            host_version: h.version.clone(),
                            plugin_version: p.version.clone(),
                        });
                        continue;
                    }
                }
            }
            plan.plugin_only.push(p.clone());
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn lock(entries: &[(&str, &str, Source)]) -> Lock {
        Lock {
            path: PathBuf::from("Cargo.lock"),
            format: 4,
            packages: entries
                .iter()
                .map(|(n, v, s)| LockedPackage {
                    name: (*n).into(),
                    version: Version::parse(v).unwrap(),
                    source: s.clone(),
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }

    fn pins(plan: &Plan) -> Vec<String> {
        plan.pins
            .iter()
            .map(|p| format!("{} {} -> {} {:?}", p.name, p.from, p.to, p.direction()))
            .collect()
    }

    use Source::{CratesIo as Io, Local};

    #[test]
    fn shared_packages_move_both_ways_line_by_line() {
        let host = lock(&[
            ("host", "0.1.0", Local),
            ("serde", "1.0.150", Io),
            ("log", "0.4.22", Io),
            ("syn", "1.0.109", Io),
            ("syn", "2.0.50", Io),
            ("regex", "1.7.0", Io),
            ("rand", "0.7.3", Io),
        ]);
        let plugin = lock(&[
            ("plugin", "0.1.0", Local),
            ("serde", "1.0.229", Io),
            ("log", "0.4.14", Io),
            ("syn", "1.0.100", Io),
            ("syn", "2.0.119", Io),
            ("regex", "1.7.0", Io),
            ("rand", "0.8.5", Io),
            ("anyhow", "1.0.99", Io),
        ]);
        let plan = Plan::new(&host, &plugin);
        assert_eq!(
            pins(&plan),
            [
                "log 0.4.14 -> 0.4.22 Up",
                "serde 1.0.229 -> 1.0.150 Down",
                "syn 1.0.100 -> 1.0.109 Up",
                "syn 2.0.119 -> 2.0.50 Down",
            ]
        );
        let names = |v: &[LockedPackage]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(names(&plan.already), ["regex 1.7.0"]);
        // rand 0.8 is another line than the host's 0.7: plugin-only.
        assert_eq!(names(&plan.plugin_only), ["anyhow 1.0.99", "rand 0.8.5"]);
        assert_eq!(names(&plan.local), ["plugin 0.1.0"]);
        assert!(plan.abi.is_empty() && plan.unshareable.is_empty());
    }

    #[test]
    fn sources_must_match() {
        let git = Source::Git("git+https://example.invalid/serde#abc".into());
        let other = Source::Registry("sparse+https://my-registry.example/".into());
        let host = lock(&[("serde", "1.0.150", git.clone()), ("log", "0.4.22", other)]);
        let plugin = lock(&[("serde", "1.0.229", Io), ("log", "0.4.14", Io)]);
        let plan = Plan::new(&host, &plugin);
        assert!(plan.pins.is_empty());
        assert_eq!(plan.unshareable.len(), 1);
        assert_eq!(plan.unshareable[0].host_source, git);
        assert_eq!(
            plan.plugin_only.len(),
            1,
            "log from another registry is not shared"
        );
    }

    #[test]
    fn abi_crates_on_another_line_cannot_load() {
        let host = lock(&[
            ("abi_stable", "0.11.3", Io),
            ("plugrack-api", "1.2.0", Local),
        ]);
        let plugin = lock(&[("abi_stable", "0.10.5", Io), ("plugrack-api", "1.0.0", Io)]);
        let plan = Plan::new(&host, &plugin);
        assert_eq!(
            plan.abi,
            [AbiMismatch {
                name: "abi_stable".into(),
                plugin: "0.10.5".into(),
                host: vec!["0.11.3".into()],
            }]
        );
        // plugrack-api 1.0 against a host with 1.2 from a path: same line, loads; not pinned
        // because the sources differ, and not "unshareable" because only its line matters.
        assert!(plan.unshareable.is_empty());
        let two = lock(&[("plugrack-api", "2.0.0", Io)]);
        assert_eq!(Plan::new(&host, &two).abi[0].host, ["1.2.0"]);
    }

    #[test]
    fn interface_crates_are_held_to_the_hosts_line() {
        let host = lock(&[
            ("text-pipeline-api", "1.1.0", Local),
            ("serde", "1.0.150", Io),
        ]);
        let interfaces = ["text-pipeline-api".to_owned()];
        let two = lock(&[("text-pipeline-api", "2.0.0", Io)]);
        let plan = Plan::with_interfaces(&host, &two, &interfaces);
        assert_eq!(
            plan.interfaces,
            [AbiMismatch {
                name: "text-pipeline-api".into(),
                plugin: "2.0.0".into(),
                host: vec!["1.1.0".into()],
            }]
        );
        assert!(plan.abi.is_empty());
        // Not known as an interface crate: just a crate on another line, plugin-only.
        assert!(Plan::new(&host, &two).interfaces.is_empty());
        // The same line from a registry against the host's path copy: fine, not unshareable.
        let one = lock(&[("text-pipeline-api", "1.0.0", Io)]);
        let plan = Plan::with_interfaces(&host, &one, &interfaces);
        assert!(plan.interfaces.is_empty() && plan.unshareable.is_empty());
    }
}
