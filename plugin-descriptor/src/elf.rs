//! Finding the descriptor section in an ELF file's bytes, without loading the file.

use object::{Object, ObjectSection};

use crate::section::{self, Section, SectionError, SECTION_NAME};

/// The descriptor section of an ELF file already parsed by `object`: `Ok(None)` when the file
/// has none (a plugin built without plugrack-sdk, or not a plugin at all).
pub fn read_from(file: &object::File<'_>) -> Result<Option<Section>, SectionError> {
    let mut found = file.sections().filter(|s| s.name() == Ok(SECTION_NAME));
    let Some(first) = found.next() else {
        return Ok(None);
    };
    let others = found.count();
    if others > 0 {
        return Err(SectionError::Duplicate { count: others + 1 });
    }
    let data = first.data().map_err(|e| SectionError::Invalid {
        message: format!("its data lies outside the file ({e})"),
    })?;
    section::parse(data).map(Some)
}

/// Parses `bytes` as an object file and reads its descriptor section; `Err` with the parser's
/// message when the bytes are not an object file.
pub fn read(bytes: &[u8]) -> Result<Option<Section>, ReadError> {
    let file = object::File::parse(bytes).map_err(|e| ReadError::NotObject(e.to_string()))?;
    read_from(&file).map_err(ReadError::Section)
}

/// Why [`read`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not an object file.
    #[error("not an object file: {0}")]
    NotObject(String),
    /// The section is there but cannot be read.
    #[error("its `{SECTION_NAME}` section cannot be read: {0}")]
    Section(SectionError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_the_section_has_none() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(read(&exe), Ok(None));
        assert!(matches!(read(b"not elf"), Err(ReadError::NotObject(_))));
    }
}
