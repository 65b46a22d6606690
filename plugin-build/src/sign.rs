//! `plugin-build keygen` and the signing half of `package --sign`: Ed25519 keys and
//! signatures in minisign's format, so that the `minisign` tool reads both
//! (`minisign -V -p KEY.pub -m plugin.toml`).
//!
//! Keys are unencrypted unless `--password` asks for a passphrase, so CI can sign without a
//! terminal. The passphrase is read from `PLUGIN_BUILD_KEY_PASSWORD` when it is set, else asked
//! for on the terminal. Verifying is the host's ([`plugrack_host::trust`]), so a package this
//! tool signs is checked by the same code in `deploy` and in every host.

use std::{
    io::{Cursor, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox};

/// The environment variable that holds the secret key's passphrase (keygen with `--password`,
/// and signing with an encrypted key).
pub const PASSWORD_VARIABLE: &str = "PLUGIN_BUILD_KEY_PASSWORD";

/// Arguments of `plugin-build keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (mode 0600; keep it out of version control).
    #[arg(long, value_name = "FILE")]
    pub secret_key: PathBuf,
    /// Where to write the public key (give it to hosts: `--trusted-key FILE`).
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,
    /// Protect the secret key with a passphrase (from PLUGIN_BUILD_KEY_PASSWORD, else asked).
    #[arg(long)]
    pub password: bool,
    /// Overwrite existing key files.
    #[arg(long)]
    pub force: bool,
}

/// Why keygen or signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key file exists and `--force` was not given.
    #[error("`{}` already exists; choose another file or pass `--force` to replace the key", .path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A key file cannot be read or written.
    #[error("cannot {action} `{}`", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The secret key cannot be used.
    #[error("cannot use secret key `{}`: {reason}\n  hint: make one with `plugin-build keygen --secret-key FILE --public-key FILE.pub`{}", .path.display(), if *.encrypted { "; an encrypted key needs its passphrase in PLUGIN_BUILD_KEY_PASSWORD" } else { "" })]
    BadSecretKey {
        /// The file.
        path: PathBuf,
        /// minisign's reason.
        reason: String,
        /// Whether the key is passphrase-protected.
        encrypted: bool,
    },
    /// minisign failed (key generation, signing).
    #[error("{action} failed: {reason}")]
    Minisign {
        /// What was being done.
        action: &'static str,
        /// minisign's reason.
        reason: String,
    },
}

/// A key pair made by [`keygen`].
#[derive(Debug, Clone)]
pub struct Generated {
    /// The key id, as minisign shows it.
    pub key_id: String,
    /// Whether the secret key is passphrase-protected.
    pub encrypted: bool,
}

fn minisign_error(action: &'static str) -> impl Fn(minisign::PError) -> SignError {
    move |e| SignError::Minisign {
        action,
        reason: e.to_string(),
    }
}

/// Runs `keygen` from the command line.
pub fn run(args: &KeygenArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let generated = keygen(args)?;
    eprintln!(
        "{:>12} key {} ({}): secret key {}, public key {}",
        "Generated",
        generated.key_id,
        if generated.encrypted {
            "passphrase-protected"
        } else {
            "unencrypted"
        },
        args.secret_key.display(),
        args.public_key.display()
    );
    eprintln!(
        "{:>12} sign with `plugin-build package --sign {}`; hosts trust it with `--trusted-key {}`",
        "Note",
        args.secret_key.display(),
        args.public_key.display()
    );
    println!("{}", generated.key_id);
    Ok(ExitCode::SUCCESS)
}

/// Makes a key pair and writes both files (the secret key with mode 0600), refusing to replace
/// existing files unless `args.force`.
pub fn keygen(args: &KeygenArgs) -> Result<Generated, SignError> {
    if !args.force {
        for path in [&args.secret_key, &args.public_key] {
            if path.exists() {
                return Err(SignError::Exists { path: path.clone() });
            }
        }
    }
    let KeyPair { pk, sk } = if args.password {
        let password = std::env::var(PASSWORD_VARIABLE).ok();
        KeyPair::generate_encrypted_keypair(password)
            .map_err(minisign_error("generating a key pair"))?
    } else {
        KeyPair::generate_unencrypted_keypair().map_err(minisign_error("generating a key pair"))?
    };
    let key_id = key_id(&pk);
    let public = pk
        .to_box()
        .map_err(minisign_error("encoding the public key"))?
        .to_string();
    let secret = sk
        .to_box(Some(&format!("plugrack secret key {key_id}")))
        .map_err(minisign_error("encoding the secret key"))?
        .to_string();
    write_private(&args.secret_key, secret.as_bytes())?;
    crate::fsutil::write_atomic(&args.public_key, public.as_bytes()).map_err(|source| {
        SignError::Io {
            action: "write",
            path: args.public_key.clone(),
            source,
        }
    })?;
    Ok(Generated {
        key_id,
        encrypted: args.password,
    })
}

/// Writes a file readable by its owner only, through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SignError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |action: &'static str| {
        move |source| SignError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // tempfile creates the file with mode 0600 already.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("create a file beside"))?;
    file.write_all(bytes).map_err(io("write"))?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io("set the permissions of"))?;
    file.as_file().sync_all().map_err(io("write"))?;
    file.persist(path).map_err(|e| io("write")(e.error))?;
    Ok(())
}

/// A key id as minisign shows it (16 upper-case hex digits).
fn key_id(pk: &PublicKey) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(&pk.keynum()[..8]);
    format!("{:016X}", u64::from_le_bytes(id))
}

/// A secret key read from its file, with its key id.
pub struct SigningKey {
    secret: SecretKey,
    public: PublicKey,
    /// The key id.
    pub key_id: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Reads a secret key file; an encrypted key takes its passphrase from
/// `PLUGIN_BUILD_KEY_PASSWORD`, or asks for it on the terminal.
pub fn load_secret_key(path: &Path) -> Result<SigningKey, SignError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let bad = |reason: String, encrypted: bool| SignError::BadSecretKey {
        path: path.to_owned(),
        reason,
        encrypted,
    };
    let sk_box = SecretKeyBox::from_string(&text).map_err(|e| bad(e.to_string(), false))?;
    let secret = match SecretKey::from_unencrypted_box(sk_box.clone()) {
        Ok(secret) => secret,
        Err(_) => {
            let password = std::env::var(PASSWORD_VARIABLE).ok();
            SecretKey::from_box(sk_box, password).map_err(|e| bad(e.to_string(), true))?
        }
    };
    let public = PublicKey::from_secret_key(&secret).map_err(|e| bad(e.to_string(), false))?;
    let key_id = key_id(&public);
    Ok(SigningKey {
        secret,
        public,
        key_id,
    })
}

/// Signs `manifest` (the exact bytes of `plugin.toml`) and returns the text of
/// `plugin.toml.minisig`. The trusted comment names the plugin and version (and is signed too).
pub fn sign_manifest(
    key: &SigningKey,
    manifest: &[u8],
    id: &str,
    version: &str,
) -> Result<String, SignError> {
    let trusted = format!("plugrack plugin.toml of {id} {version}");
    let untrusted = format!("signature from plugrack key {}", key.key_id);
    let signature = minisign::sign(
        Some(&key.public),
        &key.secret,
        Cursor::new(manifest),
        Some(&trusted),
        Some(&untrusted),
    )
    .map_err(minisign_error("signing plugin.toml"))?;
    Ok(signature.to_string())
}

#[cfg(test)]
mod tests {
    use plugrack_host::trust::{TrustPolicy, TrustedKey};

    use super::*;

    #[test]
    fn a_generated_key_signs_what_the_host_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let args = KeygenArgs {
            secret_key: dir.path().join("k.key"),
            public_key: dir.path().join("k.pub"),
            password: false,
            force: false,
        };
        let made = keygen(&args).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&args.secret_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(keygen(&args), Err(SignError::Exists { .. })));

        let key = load_secret_key(&args.secret_key).unwrap();
        assert_eq!(key.key_id, made.key_id);
        let signature = sign_manifest(&key, b"format = 1\n", "p", "1.0.0").unwrap();
        let trusted = TrustedKey::from_file(&args.public_key).unwrap();
        assert_eq!(trusted.id().to_string(), made.key_id);
        let policy = TrustPolicy::new(vec![trusted]);
        let signer = policy
            .check(b"format = 1\n", Some(&signature))
            .unwrap()
            .unwrap();
        assert_eq!(signer.trusted_comment, "plugrack plugin.toml of p 1.0.0");
        assert!(policy.check(b"format = 2\n", Some(&signature)).is_err());
    }
}
