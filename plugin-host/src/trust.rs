//! The trust policy: whose signatures a host (or `plugin-build deploy`) accepts.
//!
//! A package's `plugin.toml` lists the SHA-256 of every library, and `plugin-build package
//! --sign KEY` signs those exact bytes in minisign's format (`plugin.toml.minisig`, which
//! `deploy` puts beside `plugin.toml`). A checksum proves a file intact; the signature says who
//! made the manifest, and through its checksums, the libraries.
//!
//! With no trusted key configured nothing is required and nothing changes. With one or more,
//! [`TrustPolicy::check`] accepts only a manifest whose signature verifies with one of them, and
//! each other case has its own refusal ([`TrustError`]): no signature, a signature by another
//! key, a signature that does not match the manifest (changed after signing), or a signature
//! file that cannot be read. A library changed after signing no longer matches the manifest's
//! SHA-256, which the caller checks next.
//!
//! ```no_run
//! use plugrack_host::{trust::TrustedKey, HostConfig};
//!
//! let key = TrustedKey::from_file("release.pub".as_ref())?;
//! println!("trusting key {}", key.id());
//! let config = HostConfig::new("1.0.0".parse()?).trusted_key(key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{
    fmt,
    path::{Path, PathBuf},
};

use base64::Engine;

/// A minisign key id: 8 bytes, shown as 16 upper-case hex digits like the `minisign` tool
/// shows it (`minisign public key 9A6C2B3D4E5F6071`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

/// Reads the key id from a minisign base64 line (a public key or a signature: both start with
/// two algorithm bytes and the 8-byte key id).
fn key_id_of_line(line: &str) -> Option<KeyId> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .ok()?;
    let id: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(KeyId(id))
}

/// A public key whose signatures are accepted.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: minisign_verify::PublicKey,
    id: KeyId,
    origin: String,
}

/// A trusted key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file cannot be read.
    #[error("cannot read trusted key `{}`", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a minisign public key.
    #[error("`{origin}` is not a minisign public key ({reason})\n  hint: make one with `plugin-build keygen --secret-key KEY --public-key KEY.pub` and pass the `.pub` file")]
    Invalid {
        /// The file or text it came from.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

impl TrustedKey {
    /// Reads a minisign public key file (`untrusted comment: ...` then the base64 key, as
    /// `plugin-build keygen` and `minisign -G` write it).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::decode(&text, &path.display().to_string())
    }

    /// Reads a key from its file's text, or from the base64 line alone; `origin` names it in
    /// messages.
    pub fn decode(text: &str, origin: &str) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Invalid {
            origin: origin.to_owned(),
            reason,
        };
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| invalid("it holds no key line".into()))?;
        let key =
            minisign_verify::PublicKey::from_base64(line).map_err(|e| invalid(e.to_string()))?;
        let id = key_id_of_line(line).ok_or_else(|| invalid("no key id".into()))?;
        Ok(Self {
            key,
            id,
            origin: origin.to_owned(),
        })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Where the key came from (its file).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// What a signature says before it is verified: who claims to have signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignatureInfo {
    /// The id of the key that made it.
    pub key_id: KeyId,
    /// Its trusted comment (signed along with the manifest).
    pub trusted_comment: String,
}

/// Reads a signature's signer without verifying it (for `inspect`, and for messages).
pub fn signature_info(signature: &str) -> Result<SignatureInfo, TrustError> {
    let unreadable = |reason: &str| TrustError::UnreadableSignature {
        reason: reason.to_owned(),
    };
    let decoded =
        minisign_verify::Signature::decode(signature).map_err(|e| unreadable(&e.to_string()))?;
    let line = signature
        .lines()
        .nth(1)
        .ok_or_else(|| unreadable("no signature line"))?;
    let key_id = key_id_of_line(line).ok_or_else(|| unreadable("no key id"))?;
    Ok(SignatureInfo {
        key_id,
        trusted_comment: decoded.trusted_comment().to_owned(),
    })
}

/// Why a signed manifest is refused under a trust policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// There is no signature, and the policy requires one.
    #[error("it is not signed, and this host only accepts plugins signed by a trusted key")]
    Unsigned,
    /// Signed by a key the policy does not list.
    #[error("it is signed by key {key_id}, which is not a trusted key")]
    UntrustedKey {
        /// The signer's key id.
        key_id: KeyId,
    },
    /// The signature does not match the manifest: it was changed after signing.
    #[error(
        "plugin.toml does not match its signature by key {key_id}: it was changed after signing"
    )]
    BadSignature {
        /// The signer's key id.
        key_id: KeyId,
    },
    /// The signature file is not a minisign signature.
    #[error("its signature cannot be read: {reason}")]
    UnreadableSignature {
        /// Why.
        reason: String,
    },
}

impl TrustError {
    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Self::Unsigned => "sign the package (`plugin-build package --sign KEY`) and deploy it again",
            Self::UntrustedKey { .. } => {
                "get a build signed by a trusted key, or trust the signer's public key (`--trusted-key KEY.pub`)"
            }
            Self::BadSignature { .. } | Self::UnreadableSignature { .. } => {
                "deploy the signed package again with `plugin-build deploy`, which verifies it first"
            }
        }
    }
}

/// Which keys' signatures are accepted. Empty: no signature is required (and none checked).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    keys: Vec<TrustedKey>,
}

/// The signer of an accepted manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer {
    /// The key id.
    pub key_id: KeyId,
    /// The key's file.
    pub key_origin: String,
    /// The signature's trusted comment.
    pub trusted_comment: String,
}

impl TrustPolicy {
    /// A policy accepting `keys`; an empty list requires nothing.
    pub fn new(keys: Vec<TrustedKey>) -> Self {
        Self { keys }
    }

    /// True when at least one key is trusted, so signatures are required.
    pub fn is_enforced(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Checks the manifest's exact bytes against its signature (the text of
    /// `plugin.toml.minisig`, if there is one). Without trusted keys: `Ok(None)`, always.
    pub fn check(
        &self,
        manifest: &[u8],
        signature: Option<&str>,
    ) -> Result<Option<Signer>, TrustError> {
        if !self.is_enforced() {
            return Ok(None);
        }
        let text = signature.ok_or(TrustError::Unsigned)?;
        let info = signature_info(text)?;
        let decoded = minisign_verify::Signature::decode(text).map_err(|e| {
            TrustError::UnreadableSignature {
                reason: e.to_string(),
            }
        })?;
        let key =
            self.keys
                .iter()
                .find(|k| k.id == info.key_id)
                .ok_or(TrustError::UntrustedKey {
                    key_id: info.key_id,
                })?;
        key.key
            .verify(manifest, &decoded, false)
            .map_err(|_| TrustError::BadSignature {
                key_id: info.key_id,
            })?;
        Ok(Some(Signer {
            key_id: info.key_id,
            key_origin: key.origin.clone(),
            trusted_comment: info.trusted_comment,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with the reference tool (minisign 0.11: `minisign -G -W`, then
    // `minisign -S -m plugin.toml -t test` of a file holding `format = 1\n`), so these tests
    // also prove that the formats agree with it.
    const PUBLIC: &str = "untrusted comment: minisign public key 7340C4A681F375F9\n\
                          RWT5dfOBpsRAcy1dI2E12+34jUBqTcbGsff3aM8jUCHvHCQqXC6ybxwi\n";
    const SIGNED: &[u8] = b"format = 1\n";
    const SIGNATURE: &str = "untrusted comment: signature from minisign secret key\n\
        RUT5dfOBpsRAc3uEUPK5fEy3h4IoQlbwYXSr5afYxPNMgpn2x+Oe1upTnnBNsOpxwdd9lqpQId+/J4P/tehBG0shxHQbIQPuRgQ=\n\
        trusted comment: test\n\
        /7cK+A6QToddO8Aj+/MDziUK4bh1L7rnIytlBX1d7DMuzzDs/WY9EcLIP/b7VKBg11U8Xd3/PmHPBI/XHY8/AQ==\n";
    // Another key, from `minisign -G -W` too.
    const OTHER: &str = "RWQwtmXSyGKwtXPce6d8WqYAejSOFuI9FfgS9eZMnvxJVUaBP11zjGek";

    #[test]
    fn a_signature_by_the_minisign_tool_verifies_and_every_other_case_is_refused() {
        let key = TrustedKey::decode(PUBLIC, "test.pub").unwrap();
        let policy = TrustPolicy::new(vec![key]);
        let signer = policy.check(SIGNED, Some(SIGNATURE)).unwrap().unwrap();
        assert_eq!(signer.key_id.to_string(), "7340C4A681F375F9");
        assert_eq!(signer.trusted_comment, "test");
        assert_eq!(
            policy.check(b"format = 2\n", Some(SIGNATURE)),
            Err(TrustError::BadSignature {
                key_id: signer.key_id
            })
        );
        let other = TrustPolicy::new(vec![TrustedKey::decode(OTHER, "other.pub").unwrap()]);
        assert_eq!(
            other.check(SIGNED, Some(SIGNATURE)),
            Err(TrustError::UntrustedKey {
                key_id: signer.key_id
            })
        );
        let info = signature_info(SIGNATURE).unwrap();
        assert_eq!(info.key_id, signer.key_id);
        let changed_comment = SIGNATURE.replace("trusted comment: test", "trusted comment: tost");
        assert!(matches!(
            policy.check(SIGNED, Some(&changed_comment)),
            Err(TrustError::BadSignature { .. })
        ));
    }

    #[test]
    fn key_ids_read_like_the_minisign_tool_shows_them() {
        let key = TrustedKey::decode(PUBLIC, "test.pub").unwrap();
        assert_eq!(key.id().to_string(), "7340C4A681F375F9");
        let bare = TrustedKey::decode(PUBLIC.lines().nth(1).unwrap(), "line").unwrap();
        assert_eq!(bare.id(), key.id());
        for bad in ["", "untrusted comment: x\n", "not base64 !!"] {
            assert!(TrustedKey::decode(bad, "bad").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn without_keys_nothing_is_required() {
        assert_eq!(TrustPolicy::default().check(b"anything", None), Ok(None));
        assert!(!TrustPolicy::default().is_enforced());
    }

    #[test]
    fn with_a_key_an_unsigned_manifest_is_refused() {
        let policy = TrustPolicy::new(vec![TrustedKey::decode(PUBLIC, "k").unwrap()]);
        assert_eq!(policy.check(b"x", None), Err(TrustError::Unsigned));
        assert!(matches!(
            policy.check(b"x", Some("garbage")),
            Err(TrustError::UnreadableSignature { .. })
        ));
    }
}
