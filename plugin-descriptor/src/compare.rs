//! The one comparison of two descriptors: which fields, in which order, and how a difference is
//! reported (the field's name and the two values).
//!
//! Several readers hold the same descriptor twice and refuse a file when the two disagree: the
//! host compares a library's `.plugin_descriptor` section with its root module after loading,
//! and a package's `plugin.toml` with each library's section; `plugin-build package` compares
//! each built library's section with the crate's `Cargo.toml` (a stale build). Each reader keeps
//! its own error and wording; the comparison is this module's, so they name fields alike and
//! report the same first difference.
//!
//! Values compare exactly, byte for byte: the id too, although ids are unique in a host
//! case-insensitively ([`crate::id`]). Both sides of a comparison come from the same build, so
//! `Showcase` against `showcase` means one was edited. Lists compare item by item and are
//! shown joined with `, `.

use crate::{section::Section, Descriptor};

/// A descriptor field, in the order [`DescriptorFields::first_difference`] compares them (the
/// order of `plugin.toml`'s `[plugin]` table and of the section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `id`.
    Id,
    /// `name`.
    Name,
    /// `version`.
    Version,
    /// `description`.
    Description,
    /// `authors`.
    Authors,
    /// `homepage`.
    Homepage,
    /// `license`.
    License,
    /// `host-version`.
    HostVersion,
    /// `target-os`.
    TargetOs,
    /// `api-version`.
    ApiVersion,
}

impl Field {
    /// Every descriptor field, in order.
    pub const ALL: [Field; 10] = [
        Field::Id,
        Field::Name,
        Field::Version,
        Field::Description,
        Field::Authors,
        Field::Homepage,
        Field::License,
        Field::HostVersion,
        Field::TargetOs,
        Field::ApiVersion,
    ];

    /// The fields a host decides on: which plugin it is (id, version) and whether this host
    /// can load it (host-version, target-os, api-version). The others are for people to read.
    pub const DECIDING: [Field; 5] = [
        Field::Id,
        Field::Version,
        Field::HostVersion,
        Field::TargetOs,
        Field::ApiVersion,
    ];

    /// The fields that name one release of one plugin: id and version.
    pub const RELEASE: [Field; 2] = [Field::Id, Field::Version];

    /// The field's name, as `plugin.toml`, `Cargo.toml` and the section spell it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::Version => "version",
            Field::Description => "description",
            Field::Authors => "authors",
            Field::Homepage => "homepage",
            Field::License => "license",
            Field::HostVersion => "host-version",
            Field::TargetOs => "target-os",
            Field::ApiVersion => "api-version",
        }
    }
}

/// The first field where two descriptors differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The field's name ([`Field::name`], or `capabilities`).
    pub field: &'static str,
    /// Its value on the side the comparison was called on (lists joined with `, `).
    pub this: String,
    /// Its value on the other side.
    pub other: String,
}

/// A descriptor's fields, borrowed from wherever a reader holds them (a [`Descriptor`], a
/// [`Section`], a loaded root module's strings), so that comparing copies nothing unless the
/// two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorFields<'a> {
    /// `id`.
    pub id: &'a str,
    /// `name`.
    pub name: &'a str,
    /// `version`.
    pub version: &'a str,
    /// `description`.
    pub description: &'a str,
    /// `authors`.
    pub authors: &'a [String],
    /// `homepage`.
    pub homepage: &'a str,
    /// `license`.
    pub license: &'a str,
    /// `host-version`.
    pub host_version: &'a str,
    /// `target-os`.
    pub target_os: &'a [String],
    /// `api-version`.
    pub api_version: &'a str,
}

/// One field's value, borrowed.
#[derive(PartialEq)]
enum Value<'a> {
    Text(&'a str),
    List(&'a [String]),
}

impl Value<'_> {
    fn show(&self) -> String {
        match self {
            Value::Text(text) => (*text).to_owned(),
            Value::List(items) => items.join(", "),
        }
    }
}

impl<'a> DescriptorFields<'a> {
    fn value(&self, field: Field) -> Value<'a> {
        match field {
            Field::Id => Value::Text(self.id),
            Field::Name => Value::Text(self.name),
            Field::Version => Value::Text(self.version),
            Field::Description => Value::Text(self.description),
            Field::Authors => Value::List(self.authors),
            Field::Homepage => Value::Text(self.homepage),
            Field::License => Value::Text(self.license),
            Field::HostVersion => Value::Text(self.host_version),
            Field::TargetOs => Value::List(self.target_os),
            Field::ApiVersion => Value::Text(self.api_version),
        }
    }

    /// The first field, in [`Field::ALL`] order, where `self` and `other` differ.
    ///
    /// ```
    /// use plugrack_descriptor::{compare::Difference, Descriptor};
    /// let built = Descriptor {
    ///     id: "showcase".into(),
    ///     name: "Showcase".into(),
    ///     version: "1.2.0".into(),
    ///     description: String::new(),
    ///     authors: vec![],
    ///     homepage: String::new(),
    ///     license: "MIT".into(),
    ///     host_version: "*".into(),
    ///     target_os: vec!["linux".into()],
    ///     api_version: "1.0.0".into(),
    /// };
    /// let mut expected = built.clone();
    /// assert_eq!(built.fields().first_difference(&expected.fields()), None);
    /// expected.version = "1.2.1".into();
    /// expected.license = "Apache-2.0".into();
    /// assert_eq!(
    ///     built.fields().first_difference(&expected.fields()),
    ///     Some(Difference { field: "version", this: "1.2.0".into(), other: "1.2.1".into() })
    /// );
    /// ```
    pub fn first_difference(&self, other: &DescriptorFields<'_>) -> Option<Difference> {
        self.first_difference_among(other, &Field::ALL)
    }

    /// The first of `fields`, in the order given, where `self` and `other` differ: for a
    /// reader that decides on some fields only (for example [`Field::DECIDING`]).
    pub fn first_difference_among(
        &self,
        other: &DescriptorFields<'_>,
        fields: &[Field],
    ) -> Option<Difference> {
        fields.iter().find_map(|&field| {
            let (this, theirs) = (self.value(field), other.value(field));
            (this != theirs).then(|| Difference {
                field: field.name(),
                this: this.show(),
                other: theirs.show(),
            })
        })
    }
}

impl Descriptor {
    /// Its fields, borrowed, to compare with another descriptor's.
    pub fn fields(&self) -> DescriptorFields<'_> {
        DescriptorFields {
            id: &self.id,
            name: &self.name,
            version: &self.version,
            description: &self.description,
            authors: &self.authors,
            homepage: &self.homepage,
            license: &self.license,
            host_version: &self.host_version,
            target_os: &self.target_os,
            api_version: &self.api_version,
        }
    }
}

impl Section {
    /// Its descriptor fields, borrowed (as [`Section::descriptor`] without the copy).
    pub fn fields(&self) -> DescriptorFields<'_> {
        DescriptorFields {
            id: &self.id,
            name: &self.name,
            version: &self.version,
            description: &self.description,
            authors: &self.authors,
            homepage: &self.homepage,
            license: &self.license,
            host_version: &self.host_version,
            target_os: &self.target_os,
            api_version: &self.api_version,
        }
    }

    /// The first difference between the section and a loaded root module that declares the
    /// descriptor `module` and `capabilities`: every descriptor field in [`Field::ALL`] order,
    /// then `capabilities` (in the order the module declares them; the section lists them in
    /// that order).
    pub fn first_difference(
        &self,
        module: &DescriptorFields<'_>,
        capabilities: &[impl AsRef<str>],
    ) -> Option<Difference> {
        self.fields().first_difference(module).or_else(|| {
            let same = self.capabilities.len() == capabilities.len()
                && self
                    .capabilities
                    .iter()
                    .zip(capabilities)
                    .all(|(a, b)| a == b.as_ref());
            (!same).then(|| Difference {
                field: "capabilities",
                this: self.capabilities.join(", "),
                other: capabilities
                    .iter()
                    .map(AsRef::as_ref)
                    .collect::<Vec<&str>>()
                    .join(", "),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::tests::sample as sample_section;

    fn sample() -> Descriptor {
        Descriptor {
            id: "showcase".into(),
            name: "Showcase".into(),
            version: "1.2.0".into(),
            description: "d".into(),
            authors: vec!["A <a@x>".into(), "B".into()],
            homepage: "https://example.org".into(),
            license: "MIT".into(),
            host_version: ">=1.0, <2".into(),
            target_os: vec!["linux".into()],
            api_version: "1.0.0".into(),
        }
    }

    type Edit = fn(&mut Descriptor);

    /// One edit per field, with the field's name and the two values shown.
    const EDITS: [(Edit, &str, &str, &str); 10] = [
        (|d| d.id = "other".into(), "id", "showcase", "other"),
        (|d| d.name = "Other".into(), "name", "Showcase", "Other"),
        (|d| d.version = "1.2.1".into(), "version", "1.2.0", "1.2.1"),
        (|d| d.description = String::new(), "description", "d", ""),
        (
            |d| d.authors.truncate(1),
            "authors",
            "A <a@x>, B",
            "A <a@x>",
        ),
        (
            |d| d.homepage = String::new(),
            "homepage",
            "https://example.org",
            "",
        ),
        (
            |d| d.license = "Apache-2.0".into(),
            "license",
            "MIT",
            "Apache-2.0",
        ),
        (
            |d| d.host_version = "*".into(),
            "host-version",
            ">=1.0, <2",
            "*",
        ),
        (|d| d.target_os.clear(), "target-os", "linux", ""),
        (
            |d| d.api_version = "1.1.0".into(),
            "api-version",
            "1.0.0",
            "1.1.0",
        ),
    ];

    #[test]
    fn equal_descriptors_have_no_difference() {
        let d = sample();
        assert_eq!(d.fields().first_difference(&sample().fields()), None);
        assert_eq!(
            d.fields()
                .first_difference_among(&sample().fields(), &Field::DECIDING),
            None
        );
    }

    #[test]
    fn each_field_differing_is_named_with_both_values() {
        for (edit, field, this, other) in EDITS {
            let mut changed = sample();
            edit(&mut changed);
            let found = sample().fields().first_difference(&changed.fields());
            let expected = Difference {
                field,
                this: this.into(),
                other: other.into(),
            };
            assert_eq!(found, Some(expected), "{field}");
            // The other way round, the values swap.
            let back = changed
                .fields()
                .first_difference(&sample().fields())
                .unwrap();
            assert_eq!(
                (back.field, &*back.this, &*back.other),
                (field, other, this)
            );
        }
    }

    #[test]
    fn the_first_field_in_order_is_reported() {
        // Every field differs: `id` comes first; without it, `name`; and so on.
        let mut all = sample();
        for (edit, ..) in EDITS {
            edit(&mut all);
        }
        for (i, field) in Field::ALL.iter().enumerate() {
            let among = &Field::ALL[i..];
            let found = sample()
                .fields()
                .first_difference_among(&all.fields(), among)
                .unwrap();
            assert_eq!(found.field, field.name());
        }
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        let edited: Vec<&str> = EDITS.iter().map(|(_, name, ..)| *name).collect();
        assert_eq!(names, edited, "Field::ALL is in the descriptor's order");
    }

    #[test]
    fn a_subset_ignores_the_other_fields() {
        let mut display_only = sample();
        display_only.name = "Other".into();
        display_only.description = "other".into();
        display_only.authors.clear();
        display_only.homepage = String::new();
        display_only.license = String::new();
        let (a, b) = (sample(), display_only);
        assert_eq!(
            a.fields()
                .first_difference_among(&b.fields(), &Field::DECIDING),
            None
        );
        assert_eq!(
            a.fields().first_difference(&b.fields()).unwrap().field,
            "name"
        );
        let mut newer = b.clone();
        newer.target_os = vec!["macos".into()];
        let found = a
            .fields()
            .first_difference_among(&newer.fields(), &Field::DECIDING)
            .unwrap();
        assert_eq!(found.field, "target-os");
        assert_eq!(
            a.fields()
                .first_difference_among(&newer.fields(), &Field::RELEASE),
            None
        );
    }

    #[test]
    fn values_compare_exactly_and_lists_item_by_item() {
        // Both sides come from one build: a case difference in the id is an edit, although a
        // host compares ids case-insensitively when it looks for duplicates.
        let mut upper = sample();
        upper.id = "Showcase".into();
        let found = sample().fields().first_difference(&upper.fields()).unwrap();
        assert_eq!((found.field, &*found.other), ("id", "Showcase"));
        // Whitespace counts.
        let mut spaced = sample();
        spaced.version = "1.2.0 ".into();
        assert_eq!(
            sample()
                .fields()
                .first_difference(&spaced.fields())
                .unwrap()
                .field,
            "version"
        );
        // One author `A <a@x>, B` is not the two authors `A <a@x>` and `B`, though both show
        // alike.
        let mut joined = sample();
        joined.authors = vec!["A <a@x>, B".into()];
        let found = sample()
            .fields()
            .first_difference(&joined.fields())
            .unwrap();
        assert_eq!(found.field, "authors");
        // Order counts too.
        let mut reordered = sample();
        reordered.authors.reverse();
        assert_eq!(
            sample()
                .fields()
                .first_difference(&reordered.fields())
                .unwrap()
                .field,
            "authors"
        );
    }

    #[test]
    fn a_section_agrees_with_its_own_descriptor_and_capabilities() {
        let section = sample_section();
        let descriptor = section.descriptor();
        assert_eq!(section.fields(), descriptor.fields());
        assert_eq!(
            section.first_difference(&descriptor.fields(), &["execute", "http"]),
            None
        );
    }

    #[test]
    fn a_section_compares_capabilities_after_the_descriptor() {
        let section = sample_section();
        let descriptor = section.descriptor();
        let fewer = section.first_difference(&descriptor.fields(), &["execute"]);
        assert_eq!(
            fewer,
            Some(Difference {
                field: "capabilities",
                this: "execute, http".into(),
                other: "execute".into(),
            })
        );
        let reordered = section.first_difference(&descriptor.fields(), &["http", "execute"]);
        assert_eq!(reordered.unwrap().field, "capabilities");
        let none: [&str; 0] = [];
        assert_eq!(
            section
                .first_difference(&descriptor.fields(), &none)
                .unwrap()
                .other,
            ""
        );
        // A descriptor field differing is reported before the capabilities.
        let mut other = descriptor.clone();
        other.api_version = "1.1.0".into();
        let found = section
            .first_difference(&other.fields(), &["execute"])
            .unwrap();
        assert_eq!(found.field, "api-version");
    }
}
