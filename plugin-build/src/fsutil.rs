//! Small file-system helpers shared by `new` and `package`: writes that a watcher
//! never sees half-done (a temporary file in the same folder, flushed, then renamed).

use std::{fs::Permissions, io::Write, os::unix::fs::PermissionsExt, path::Path};

/// The mode of every file this tool writes for others to read (a temporary file starts 0600).
pub const FILE_MODE: u32 = 0o644;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".plugin-build-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(FILE_MODE))?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
