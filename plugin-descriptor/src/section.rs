//! The `.plugin_descriptor` ELF section: the descriptor written into the library itself, so
//! that tools and the host can read it without loading the library (loading runs its code).
//!
//! # Format 1
//!
//! The section holds UTF-8 TOML text of at most [`MAX_SIZE`] bytes (trailing NUL bytes, which a
//! linker may add as padding, are ignored):
//!
//! ```toml
//! # plugrack plugin descriptor
//! format = 1
//! id = "showcase"
//! name = "Showcase"
//! version = "1.2.0"
//! description = "Exercises every capability"
//! authors = ["Team <team@example.org>"]
//! homepage = ""
//! license = "MIT"
//! host-version = "*"
//! target-os = ["linux"]
//! api-version = "1.0.0"
//! capabilities = ["execute", "http", "config", "display", ]
//! extensions = [{ id = "text.filter", version = "1.0.0" }, ]
//! ```
//!
//! `format` comes first and says how to read the rest; a reader refuses a format it does not
//! know. Within format 1 new keys may be added, and readers ignore keys they do not know, so an
//! older host still reads a newer SDK's section. The descriptor fields mean what they mean in
//! `plugin.toml`'s `[plugin]` table ([`crate::Descriptor`]); `capabilities` lists the
//! capabilities the root module declares (plugrack-api's names); `extensions` lists the
//! extension points the plugin implements, by id and interface version (absent or empty when
//! there are none). `readelf -p .plugin_descriptor lib.so` shows the text.
//!
//! The export macro writes the section with [`template`]: the parts known when the macro runs
//! are text, and the plugrack-api version and the capabilities, which only the compiler knows,
//! are placeholders it fills with constants. [`parse`] reads a section; [`Section::render`]
//! writes one whole (tests and tools).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{metadata::Metadata, Descriptor, DescriptorProblem};

/// The section's name.
pub const SECTION_NAME: &str = ".plugin_descriptor";

/// The format this build reads and writes.
pub const FORMAT: u32 = 1;

/// The largest section a reader accepts.
pub const MAX_SIZE: usize = 64 * 1024;

/// One extension point a plugin implements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Extension {
    /// The extension point's id.
    pub id: String,
    /// The interface version the plugin was compiled against.
    pub version: String,
    /// The package that declares the extension point (the interface crate).
    #[serde(default)]
    pub interface: String,
    /// That package's version in the plugin's build.
    #[serde(default)]
    pub interface_version: String,
}

/// The literal text around one item of the `extensions` list, in the order id, version,
/// interface, interface-version: `EXTENSION_ITEM[0]`, the id, `EXTENSION_ITEM[1]`, the
/// version, and so on. The export macro fills the fields with the extension point's constants,
/// which are known to the compiler, not to the macro; the fields it writes need no escaping
/// (ids are `[A-Za-z0-9._-]+`, versions semver, package names `[A-Za-z0-9_-]+`).
pub const EXTENSION_ITEM: [&str; 5] = [
    "{ id = \"",
    "\", version = \"",
    "\", interface = \"",
    "\", interface-version = \"",
    "\" }, ",
];

/// The text that opens the `extensions` list; [`EXTENSION_LIST_CLOSE`] closes it.
pub const EXTENSION_LIST_OPEN: &str = "extensions = [";
/// The text that closes the `extensions` list.
pub const EXTENSION_LIST_CLOSE: &str = "]\n";

/// A descriptor section, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Section {
    /// The format number ([`FORMAT`]).
    pub format: u32,
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Home page.
    #[serde(default)]
    pub homepage: String,
    /// License.
    #[serde(default)]
    pub license: String,
    /// Host-version requirement.
    pub host_version: String,
    /// Operating systems; empty means any.
    #[serde(default)]
    pub target_os: Vec<String>,
    /// The plugrack-api version the library was built against.
    pub api_version: String,
    /// The capabilities its root module declares.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The extension points it implements.
    #[serde(default)]
    pub extensions: Vec<Extension>,
}

/// Why a section cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SectionError {
    /// Larger than [`MAX_SIZE`].
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Empty (or only NUL bytes).
    Empty,
    /// Not UTF-8 text.
    NotUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// Not TOML, or fields missing or of the wrong type.
    Invalid {
        /// The parser's message.
        message: String,
    },
    /// No `format` number.
    NoFormat,
    /// A format this build does not read.
    UnsupportedFormat {
        /// The section's format number.
        found: i64,
    },
    /// A descriptor field breaks a rule.
    Field(DescriptorProblem),
    /// More than one section of this name (a doctored file).
    Duplicate {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for SectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size } => {
                write!(f, "it is {size} bytes; at most {MAX_SIZE} are read")
            }
            Self::Empty => f.write_str("it is empty"),
            Self::NotUtf8 { offset } => write!(f, "it is not UTF-8 text (byte {offset})"),
            Self::Invalid { message } => {
                write!(f, "it is not a descriptor: {}", first_line(message))
            }
            Self::NoFormat => f.write_str("it has no `format` number"),
            Self::UnsupportedFormat { found } => write!(
                f,
                "it has format {found}; this reader knows format {FORMAT} (update the host or tool)"
            ),
            Self::Field(problem) => write!(f, "{problem}"),
            Self::Duplicate { count } => write!(f, "the file has {count} sections of that name"),
        }
    }
}

impl std::error::Error for SectionError {}

fn first_line(text: &str) -> &str {
    text.trim().lines().next().unwrap_or_default()
}

/// Reads a section's bytes.
///
/// ```
/// use plugrack_descriptor::section;
/// let text = "format = 1\nid = \"x\"\nname = \"x\"\nversion = \"0.1.0\"\n\
///             host-version = \"*\"\napi-version = \"1.0.0\"\n";
/// let read = section::parse(text.as_bytes()).unwrap();
/// assert_eq!(read.id, "x");
/// assert!(section::parse(b"\xff").is_err());
/// ```
pub fn parse(bytes: &[u8]) -> Result<Section, SectionError> {
    if bytes.len() > MAX_SIZE {
        return Err(SectionError::TooLarge { size: bytes.len() });
    }
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let bytes = &bytes[..end];
    if bytes.is_empty() {
        return Err(SectionError::Empty);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| SectionError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| SectionError::Invalid {
            message: e.message().to_owned(),
        })?;
    match table.get("format") {
        None => return Err(SectionError::NoFormat),
        Some(toml::Value::Integer(found)) if *found != i64::from(FORMAT) => {
            return Err(SectionError::UnsupportedFormat { found: *found })
        }
        Some(toml::Value::Integer(_)) => {}
        Some(other) => {
            return Err(SectionError::Invalid {
                message: format!("`format` must be a number, found a {}", other.type_str()),
            })
        }
    }
    let section: Section =
        table
            .try_into()
            .map_err(|e: toml::de::Error| SectionError::Invalid {
                message: e.message().to_owned(),
            })?;
    section.descriptor().check().map_err(SectionError::Field)?;
    Ok(section)
}

impl Section {
    /// The descriptor fields, as `plugin.toml` carries them.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            id: self.id.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            authors: self.authors.clone(),
            homepage: self.homepage.clone(),
            license: self.license.clone(),
            host_version: self.host_version.clone(),
            target_os: self.target_os.clone(),
            api_version: self.api_version.clone(),
        }
    }

    /// The section text, as the export macro writes it.
    pub fn render(&self) -> String {
        let metadata = Metadata {
            id: self.id.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            authors: self.authors.clone(),
            homepage: self.homepage.clone(),
            license: self.license.clone(),
            host_version: self.host_version.clone(),
            target_os: self.target_os.clone(),
        };
        let mut out = String::new();
        for piece in template(&metadata, &self.extensions) {
            match piece {
                Piece::Text(text) => out.push_str(&text),
                // The macro writes the compiler's version constant (digits and dots) as it is;
                // a section read from a file may hold anything there, so it is escaped here
                // (found by the `section` fuzz target: an api-version with `\n` in it
                // rendered a section that did not read back).
                Piece::ApiVersion => out.push_str(&escape(&self.api_version)),
                Piece::Capabilities => {
                    for name in &self.capabilities {
                        out.push_str(&capability_item(name));
                    }
                }
            }
        }
        out
    }
}

/// A part of the section text, as the export macro assembles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// The plugrack-api version (`plugrack_api::API_VERSION`): digits and dots only, so it
    /// needs no escaping inside the quotes around it.
    ApiVersion,
    /// The capabilities: [`capability_item`] for each, in order.
    Capabilities,
}

/// One item of the capability list (`"execute", `; TOML allows the trailing comma).
pub fn capability_item(name: &str) -> String {
    format!("{}, ", quote(name))
}

/// The section text for `metadata` and `extensions`, with the placeholders the macro fills.
pub fn template(metadata: &Metadata, extensions: &[Extension]) -> Vec<Piece> {
    let list = |items: &[String]| {
        let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
        format!("[{}]", quoted.join(", "))
    };
    let head = format!(
        "# plugrack plugin descriptor\nformat = {FORMAT}\nid = {}\nname = {}\nversion = {}\n\
         description = {}\nauthors = {}\nhomepage = {}\nlicense = {}\nhost-version = {}\n\
         target-os = {}\napi-version = \"",
        quote(&metadata.id),
        quote(&metadata.name),
        quote(&metadata.version),
        quote(&metadata.description),
        list(&metadata.authors),
        quote(&metadata.homepage),
        quote(&metadata.license),
        quote(&metadata.host_version),
        list(&metadata.target_os),
    );
    let mut tail = String::from("]\n");
    if !extensions.is_empty() {
        tail.push_str(EXTENSION_LIST_OPEN);
        for e in extensions {
            let fields = [&e.id, &e.version, &e.interface, &e.interface_version];
            for (text, field) in EXTENSION_ITEM.iter().zip(fields) {
                tail.push_str(text);
                // The macro writes valid fields as they are (see EXTENSION_ITEM); escaping
                // changes only invalid ones, which then still make valid TOML.
                tail.push_str(&escape(field));
            }
            tail.push_str(EXTENSION_ITEM[4]);
        }
        tail.push_str(EXTENSION_LIST_CLOSE);
    }
    vec![
        Piece::Text(head),
        Piece::ApiVersion,
        Piece::Text("\"\ncapabilities = [".into()),
        Piece::Capabilities,
        Piece::Text(tail),
    ]
}

/// `text` escaped for the inside of a TOML basic string (what [`quote`] puts between the
/// quotes): unchanged for ids, versions and package names.
fn escape(text: &str) -> String {
    let quoted = quote(text);
    quoted[1..quoted.len() - 1].to_owned()
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Section {
        Section {
            format: FORMAT,
            id: "showcase".into(),
            name: "Show \"case\"\n\\".into(),
            version: "1.2.0".into(),
            description: "tab\there, bell\u{7}".into(),
            authors: vec!["A <a@x>".into(), "B".into()],
            homepage: String::new(),
            license: "MIT".into(),
            host_version: ">=1.0, <2".into(),
            target_os: vec!["linux".into()],
            api_version: "1.0.0".into(),
            capabilities: vec!["execute".into(), "http".into()],
            extensions: vec![Extension {
                id: "text.filter".into(),
                version: "1.0.0".into(),
                interface: "text-api".into(),
                interface_version: "1.0.3".into(),
            }],
        }
    }

    #[test]
    fn round_trips_with_escapes_and_padding() {
        let text = sample().render();
        assert!(
            text.starts_with("# plugrack plugin descriptor\nformat = 1\n"),
            "{text}"
        );
        assert_eq!(parse(text.as_bytes()).unwrap(), sample());
        let mut padded = text.clone().into_bytes();
        padded.extend_from_slice(&[0; 7]);
        assert_eq!(parse(&padded).unwrap(), sample());
        let mut none = sample();
        none.capabilities.clear();
        none.extensions.clear();
        assert_eq!(parse(none.render().as_bytes()).unwrap(), none);
        assert!(!none.render().contains("extensions"));
    }

    #[test]
    fn newer_keys_are_ignored_and_newer_formats_refused() {
        let text = sample().render() + "future-key = 3\n";
        assert_eq!(parse(text.as_bytes()).unwrap(), sample());
        let newer = sample().render().replace("format = 1", "format = 2");
        assert_eq!(
            parse(newer.as_bytes()),
            Err(SectionError::UnsupportedFormat { found: 2 })
        );
    }

    #[test]
    fn refusals() {
        let good = sample().render();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (vec![0; 16], "empty"),
            (vec![b'a'; MAX_SIZE + 1], "at most"),
            (b"format = 1\n\xff\xfe".to_vec(), "not UTF-8"),
            (b"this is not toml".to_vec(), "not a descriptor"),
            (b"id = \"x\"\n".to_vec(), "no `format`"),
            (b"format = \"1\"\n".to_vec(), "must be a number"),
            (b"format = 1\nid = \"x\"\n".to_vec(), "not a descriptor"),
            (
                good.replace("\"showcase\"", "\"show case\"").into_bytes(),
                "descriptor field `id`",
            ),
            (
                good.replace("\"1.2.0\"", "\"1.2\"").into_bytes(),
                "descriptor field `version`",
            ),
        ];
        for (bytes, expected) in cases {
            let err = parse(&bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
