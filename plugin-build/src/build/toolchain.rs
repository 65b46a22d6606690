//! The pinned toolchains: reads `rust-toolchain.toml` (or the legacy `rust-toolchain`) of the
//! plugin and, where given, of the host, and compares them. A different rustc is reported as
//! information, never as an error: the plugin ABI is `abi_stable`'s, not rustc's.

use std::path::{Path, PathBuf};

/// A toolchain pin read from a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ToolchainPin {
    /// The `channel` (e.g. `1.95.0`, `stable`, `nightly-2026-05-01`).
    pub channel: String,
    /// The file it was read from.
    pub file: PathBuf,
}

/// Finds the toolchain file that rustup would use for `dir`: the nearest `rust-toolchain.toml`
/// or `rust-toolchain` in `dir` or above.
pub fn find_pin(dir: &Path) -> Option<ToolchainPin> {
    for dir in dir.ancestors() {
        for name in ["rust-toolchain.toml", "rust-toolchain"] {
            let file = dir.join(name);
            if file.is_file() {
                return read_pin(&file);
            }
        }
    }
    None
}

/// Reads a toolchain file, or the toolchain file of a folder (searched upwards).
pub fn read_pin(path: &Path) -> Option<ToolchainPin> {
    if path.is_dir() {
        return find_pin(path);
    }
    let text = std::fs::read_to_string(path).ok()?;
    let channel = match toml::from_str::<toml::Value>(&text) {
        Ok(value) => value
            .get("toolchain")
            .and_then(|t| t.get("channel"))
            .and_then(|c| c.as_str())
            .map(str::to_owned),
        // The legacy format is one line with the channel name.
        Err(_) => text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned),
    }?;
    Some(ToolchainPin {
        channel,
        file: path.to_owned(),
    })
}

/// The information lines about the plugin's and the host's toolchains.
pub fn compare(plugin: Option<&ToolchainPin>, host: Option<&ToolchainPin>) -> Vec<String> {
    match (plugin, host) {
        (Some(p), Some(h)) if p.channel != h.channel => vec![format!(
            "the plugin is pinned to rustc `{}` ({}) and the host to `{}` ({}); that is fine: \
             the plugin ABI is abi_stable's, not rustc's",
            p.channel,
            p.file.display(),
            h.channel,
            h.file.display()
        )],
        (Some(p), Some(_)) => vec![format!(
            "plugin and host are pinned to the same rustc `{}`",
            p.channel
        )],
        (Some(p), None) => vec![format!(
            "the plugin is pinned to rustc `{}` ({})",
            p.channel,
            p.file.display()
        )],
        (None, Some(h)) => vec![format!(
            "the plugin pins no toolchain; the host is pinned to rustc `{}`; that is fine: the \
             plugin ABI is abi_stable's, not rustc's",
            h.channel
        )],
        (None, None) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_and_compared() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("plugin");
        let host = dir.path().join("host");
        std::fs::create_dir_all(plugin.join("src")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(
            plugin.join("rust-toolchain.toml"),
            "[toolchain]\nchannel = \"1.95.0\"\n",
        )
        .unwrap();
        std::fs::write(host.join("rust-toolchain"), "nightly\n").unwrap();

        let p = find_pin(&plugin.join("src")).unwrap();
        assert_eq!(p.channel, "1.95.0");
        let h = read_pin(&host).unwrap();
        assert_eq!(h.channel, "nightly");

        let info = compare(Some(&p), Some(&h));
        assert!(
            info[0].contains("`1.95.0`")
                && info[0].contains("`nightly`")
                && info[0].contains("fine"),
            "{info:?}"
        );
        assert!(compare(Some(&p), Some(&p))[0].contains("same rustc"));
        assert!(compare(None, None).is_empty());
    }
}
