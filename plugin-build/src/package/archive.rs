//! The `.plg` archive: a gzip-compressed tar of plain files in one folder level.
//!
//! Writing is reproducible: entries in the caller's order, every header with mode 0644,
//! uid/gid 0, no user or group names and mtime 0, and a gzip header without a file name or
//! time, so the same inputs give the same bytes. Reading is strict and is the host's
//! ([`plugrack_host::package::archive`], re-exported here), so that a package the host
//! application accepts is checked exactly as `deploy` checks it.

use std::io::Write;

use flate2::{Compression, GzBuilder};
pub use plugrack_host::package::archive::{read, ArchiveError, Entry, MAX_UNPACKED};

/// Writes `entries`, in this order, as a reproducible `.plg` archive.
pub fn write(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let gzip = GzBuilder::new().write(Vec::new(), Compression::best());
    let mut tar = tar::Builder::new(gzip);
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(&entry.name)?;
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        tar.append(&header, entry.data.as_slice())?;
    }
    let gzip = tar.into_inner()?;
    let mut bytes = gzip.finish()?;
    bytes.flush()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry {
                name: "plugin.toml".into(),
                data: b"format = 1\n".to_vec(),
            },
            Entry {
                name: "x-amd64.so".into(),
                data: vec![7; 3000],
            },
        ]
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let one = write(&sample()).unwrap();
        let two = write(&sample()).unwrap();
        assert_eq!(one, two);
        assert_eq!(&one[..2], &[0x1f, 0x8b]);
        assert_eq!(&one[4..8], &[0, 0, 0, 0], "gzip mtime must be zero");
        assert_eq!(one[3] & 0x08, 0, "gzip header must not carry a file name");
        assert_eq!(read(&one).unwrap(), sample());

        let mut twice = sample();
        twice.push(twice[0].clone());
        let bytes = write(&twice).unwrap();
        assert!(matches!(read(&bytes), Err(ArchiveError::Duplicate { .. })));
    }
}
