//! `plugin-host call`'s user options: who the plugin instance is created for.
//!
//! A host keeps one instance, one storage file (`<storage>/<plugin>/user-<ID>.bin`) and one
//! stored configuration (`user-<ID>.config`) per user *id*, as the API's `User::id` says; the
//! name is what the plugin shows. So the command line must choose the id: `--user-id N` names
//! it (the id a host application, such as plugin-server, gave that user, to work on the same
//! storage), and without it the id is derived from `--user NAME`, stably, so two names are two
//! users and the same name is the same user on every run.

use plugrack_host::User;
use sha2::{Digest, Sha256};

/// The user the instance is created for.
#[derive(Debug, Clone, clap::Args)]
pub struct UserArgs {
    /// The user's name, as the plugin sees it. Without --user-id, the user's id is derived
    /// from it: each name is its own user, with its own instance, storage and configuration.
    #[arg(long, value_name = "NAME", default_value = "cli")]
    user: String,
    /// The user's id: instances, storage (`user-<ID>.bin`) and configuration are kept per id.
    /// Give the id a host application such as plugin-server uses, to share its storage folder.
    /// Default: derived from --user's name (a number at or above 2^63, apart from the small
    /// ids a user database hands out).
    #[arg(long, value_name = "N")]
    user_id: Option<u64>,
    /// The user is an administrator (the plugin sees `admin = true`).
    #[arg(long)]
    admin: bool,
}

impl UserArgs {
    /// The API's user for these options.
    pub fn user(&self) -> User {
        let mut user = User::new(
            self.user_id.unwrap_or_else(|| id_for_name(&self.user)),
            &self.user,
        );
        user.admin = self.admin;
        user
    }
}

/// The id a user name stands for without `--user-id`: the first 8 bytes of the name's
/// SHA-256, with the top bit set (so it never meets a database's ids 1, 2, 3, ...).
pub fn id_for_name(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let first: [u8; 8] = digest[..8].try_into().expect("a SHA-256 has 32 bytes");
    u64::from_be_bytes(first) | (1 << 63)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_has_its_own_stable_id() {
        let cli = id_for_name("cli");
        assert_eq!(id_for_name("cli"), cli, "the same on every run");
        assert_ne!(id_for_name("bo"), cli);
        assert_ne!(id_for_name("Cli"), cli, "names are compared exactly");
        assert!(cli >= 1 << 63 && id_for_name("bo") >= 1 << 63);
        // Pinned (computed independently): storage written by one version is found by the next.
        assert_eq!(cli, 11_077_597_517_297_386_638);
        assert_eq!(id_for_name("bo"), 13_621_591_236_042_267_915);
    }
}
