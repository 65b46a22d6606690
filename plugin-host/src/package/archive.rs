//! Reading the `.plg` archive: a gzip-compressed tar of plain files in one folder level, plus
//! the bundled native libraries in `lib/<target>/`.
//!
//! Reading is strict, because a package comes from someone else: only regular files with
//! plain names (no `/`, no `..`, not absolute) or names `lib/<target>/<file>` (plain parts),
//! no links, no duplicates, and the whole stream must decompress and pass gzip's CRC. Writing
//! (reproducibly) is the build tool's job.

use std::{cell::Cell, io::Read};

use flate2::bufread::GzDecoder;

use crate::manifest::is_plain_file_name;

/// The largest uncompressed package this host reads (a guard against gzip bombs). A package of
/// four release builds is typically 5 to 40 MiB unpacked.
pub const MAX_UNPACKED: u64 = 256 << 20;

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name: a plain name, or `lib/<target>/<file>` for a bundled library.
    pub name: String,
    /// The contents.
    pub data: Vec<u8>,
}

/// Why a package's bytes are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The gzip or tar stream is damaged or cut short.
    #[error("the archive is damaged or truncated ({reason})")]
    Damaged {
        /// What the decoder said.
        reason: String,
    },
    /// More than [`MAX_UNPACKED`] bytes once decompressed.
    #[error("the archive unpacks to more than {} MiB", MAX_UNPACKED >> 20)]
    TooLarge,
    /// An entry whose name leaves the folder through `..`.
    #[error("entry `{name}` climbs out of the folder (`..`)")]
    ParentDir {
        /// The entry's name.
        name: String,
    },
    /// An entry with an absolute path.
    #[error("entry `{name}` has an absolute path")]
    Absolute {
        /// The entry's name.
        name: String,
    },
    /// A symbolic or hard link.
    #[error("entry `{name}` is a link (to `{target}`); packages hold plain files only")]
    Link {
        /// The entry's name.
        name: String,
        /// Where it points.
        target: String,
    },
    /// A folder, a device, a FIFO, ... or a file in a sub-folder.
    #[error("entry `{name}` is {what}; packages hold plain files at the top level only")]
    NotAPlainFile {
        /// The entry's name.
        name: String,
        /// What it is.
        what: String,
    },
    /// The same name twice.
    #[error("entry `{name}` appears twice")]
    Duplicate {
        /// The entry's name.
        name: String,
    },
}

/// Reads a `.plg` archive's entries, refusing anything but plain top-level files.
pub fn read(bytes: &[u8]) -> Result<Vec<Entry>, ArchiveError> {
    read_limited(bytes, MAX_UNPACKED)
}

/// [`read`] with another limit on the unpacked size (a host that takes uploads may want a
/// smaller one). The limit is enforced while decompressing: an entry whose header claims more
/// than is left is refused before its data is read, and the decompressed stream as a whole
/// stops at the limit, so a gzip bomb costs at most `limit` bytes of memory.
pub fn read_limited(bytes: &[u8], limit: u64) -> Result<Vec<Entry>, ArchiveError> {
    let exceeded = Cell::new(false);
    // Any read error once the budget is spent is the limit's, whatever layer reports it.
    let damaged = |e: std::io::Error| {
        if exceeded.get() {
            ArchiveError::TooLarge
        } else {
            ArchiveError::Damaged {
                reason: e.to_string(),
            }
        }
    };
    let too_large = || ArchiveError::TooLarge;
    let mut stream = Budget {
        inner: GzDecoder::new(bytes),
        left: limit,
        exceeded: &exceeded,
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut claimed: u64 = 0;
    {
        let mut archive = tar::Archive::new(&mut stream);
        let iter = match archive.entries() {
            Ok(iter) => iter,
            Err(e) => return Err(damaged(e)),
        };
        for entry in iter {
            let mut entry = entry.map_err(damaged)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                return Err(ArchiveError::Link { name, target });
            }
            check_name(&name)?;
            if !kind.is_file() {
                return Err(ArchiveError::NotAPlainFile {
                    name,
                    what: describe_kind(kind),
                });
            }
            if entries.iter().any(|e| e.name == name) {
                return Err(ArchiveError::Duplicate { name });
            }
            claimed = claimed.saturating_add(entry.size());
            if claimed > limit {
                return Err(too_large());
            }
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data).map_err(damaged)?;
            entries.push(Entry { name, data });
        }
    }
    // The tar ends with zero blocks; read the rest of the gzip stream too, so that its CRC and
    // length are checked (a damaged or cut stream fails here).
    std::io::copy(&mut stream, &mut std::io::sink()).map_err(damaged)?;
    // Bytes after the gzip stream are not part of the package: a changed or appended file.
    let rest = stream.inner.into_inner();
    if !rest.is_empty() {
        return Err(ArchiveError::Damaged {
            reason: format!(
                "{} bytes follow the end of the compressed stream",
                rest.len()
            ),
        });
    }
    if entries.is_empty() && claimed == 0 {
        return Err(ArchiveError::Damaged {
            reason: "no tar entries".into(),
        });
    }
    Ok(entries)
}

/// A reader that fails once more than `left` bytes have come through.
struct Budget<'a, R> {
    inner: R,
    left: u64,
    exceeded: &'a Cell<bool>,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                self.exceeded.set(true);
                Err(std::io::Error::other(
                    "the archive unpacks past the size limit",
                ))
            }
        }
    }
}

/// True for `lib/<target>/<file>` with plain parts: where a package keeps bundled libraries.
pub fn is_bundled_lib_name(name: &str) -> bool {
    let mut parts = name.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(crate::manifest::LIB_DIR), Some(target), Some(file), None)
            if is_plain_file_name(target) && is_plain_file_name(file)
    )
}

fn describe_kind(kind: tar::EntryType) -> String {
    match kind {
        tar::EntryType::Directory => "a folder".into(),
        tar::EntryType::Char => "a character device".into(),
        tar::EntryType::Block => "a block device".into(),
        tar::EntryType::Fifo => "a FIFO".into(),
        other => format!("a special entry (tar type {:?})", other.as_byte() as char),
    }
}

/// Refuses a name that is absolute, climbs with `..`, or sits in a sub-folder other than
/// `lib/<target>/`.
fn check_name(name: &str) -> Result<(), ArchiveError> {
    if name.starts_with('/') || name.starts_with('\\') {
        return Err(ArchiveError::Absolute { name: name.into() });
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Err(ArchiveError::ParentDir { name: name.into() });
    }
    if !is_plain_file_name(name) && !is_bundled_lib_name(name) {
        return Err(ArchiveError::NotAPlainFile {
            name: name.into(),
            what: "not a plain file name".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::{write::GzEncoder, Compression};

    use super::*;

    /// A `.plg` of plain entries, for tests (the reproducible writer is the build tool's).
    pub(crate) fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for (name, data) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_path(name).unwrap();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// A tar with one raw header, written by hand so names the `tar` crate refuses to
    /// write (`../x`, `/etc/x`) and links can be tested.
    fn raw_tar_gz(name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        header.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn bundled_libraries_sit_in_lib_target() {
        let bytes = tar_gz(&[
            ("plugin.toml", b"format = 1\n"),
            ("lib/arm64/libgreet.so.1", b"x"),
        ]);
        assert_eq!(read(&bytes).unwrap()[1].name, "lib/arm64/libgreet.so.1");
        assert!(is_bundled_lib_name("lib/amd64/libz.so.1"));
        for name in [
            "lib/libz.so.1",
            "lib/amd64/",
            "lib/../x",
            "bin/amd64/x",
            "lib/a/b/c",
        ] {
            assert!(!is_bundled_lib_name(name), "{name}");
        }
    }

    #[test]
    fn reads_plain_entries_in_order() {
        let bytes = tar_gz(&[("plugin.toml", b"format = 1\n"), ("x-amd64.so", &[7; 3000])]);
        let entries = read(&bytes).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["plugin.toml", "x-amd64.so"]);
        assert_eq!(entries[1].data, vec![7; 3000]);
    }

    #[test]
    fn refusals() {
        let regular = tar::EntryType::Regular;
        let table: [(&[u8], tar::EntryType, &[u8], &str); 9] = [
            (b"../evil.so", regular, b"", "climbs out"),
            (b"a/../../evil.so", regular, b"", "climbs out"),
            (b"/etc/evil.so", regular, b"", "absolute path"),
            (
                b"x.so",
                tar::EntryType::Symlink,
                b"/etc/passwd",
                "is a link",
            ),
            (b"x.so", tar::EntryType::Link, b"plugin.toml", "is a link"),
            (b"sub/x.so", regular, b"", "not a plain file name"),
            (b"lib/x.so", regular, b"", "not a plain file name"),
            (b"lib/amd64/sub/x.so", regular, b"", "not a plain file name"),
            (b"lib/amd64/../../x.so", regular, b"", "climbs out"),
        ];
        for (name, kind, link, expected) in table {
            let bytes = raw_tar_gz(name, kind, link, b"data");
            let err = read(&bytes).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{}: {err}",
                String::from_utf8_lossy(name)
            );
        }
        let dir = raw_tar_gz(b"folder", tar::EntryType::Directory, b"", b"");
        assert!(read(&dir).unwrap_err().to_string().contains("a folder"));

        let good = tar_gz(&[("plugin.toml", b"format = 1\n"), ("x-amd64.so", &[7; 3000])]);
        let truncated = &good[..good.len() / 2];
        assert!(matches!(read(truncated), Err(ArchiveError::Damaged { .. })));
        let mut changed = good.clone();
        let middle = changed.len() / 2;
        changed[middle] ^= 0x01;
        assert!(read(&changed).is_err());
        assert!(matches!(
            read(b"not gzip"),
            Err(ArchiveError::Damaged { .. })
        ));

        for (kind, what) in [
            (tar::EntryType::Char, "a character device"),
            (tar::EntryType::Block, "a block device"),
            (tar::EntryType::Fifo, "a FIFO"),
        ] {
            let bytes = raw_tar_gz(b"null", kind, b"", b"");
            let err = read(&bytes).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }

        let twice = tar_gz(&[("plugin.toml", b"a"), ("plugin.toml", b"a")]);
        assert!(matches!(read(&twice), Err(ArchiveError::Duplicate { .. })));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros in one entry compress to about 300 KiB (fast gzip).
        let bomb = tar_gz(&[("plugin.toml", &vec![0u8; 64 << 20])]);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        assert_eq!(read_limited(&bomb, 1 << 20), Err(ArchiveError::TooLarge));
        assert!(read_limited(&bomb, 65 << 20).is_ok());
        // A header that claims more than the limit is refused before its data is read.
        let mut header = tar::Header::new_gnu();
        header.set_path("x.so").unwrap();
        header.set_size(1 << 40);
        header.set_cksum();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(header.as_bytes()).unwrap();
        let claim = gz.finish().unwrap();
        assert_eq!(read(&claim), Err(ArchiveError::TooLarge));
        // Zeros after the end of the tar still count: the whole stream is decompressed.
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_path("plugin.toml").unwrap();
        header.set_size(1);
        header.set_cksum();
        tar.append(&header, &b"x"[..]).unwrap();
        let mut tail = tar.into_inner().unwrap();
        tail.resize(tail.len() + (8 << 20), 0);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&tail).unwrap();
        let padded = gz.finish().unwrap();
        assert_eq!(read_limited(&padded, 1 << 20), Err(ArchiveError::TooLarge));
        assert_eq!(read_limited(&padded, 9 << 20).unwrap().len(), 1);
    }

    #[test]
    fn bytes_after_the_compressed_stream_are_refused() {
        let mut bytes = tar_gz(&[("plugin.toml", b"format = 1\n")]);
        assert!(read(&bytes).is_ok());
        bytes.extend_from_slice(b"appended");
        let err = read(&bytes).unwrap_err().to_string();
        assert!(err.contains("8 bytes follow the end"), "{err}");
    }
}
