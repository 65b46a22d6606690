//! The plugin id: `[A-Za-z0-9._-]+`, compared case-insensitively.
//!
//! The id names the plugin's folder in a plugins folder and its log file, so it may not be
//! empty, hold separators or spaces, or start with a dot (a hidden folder, which the host skips).

/// The rule in words, for messages.
pub const RULE: &str = "letters, digits, `.`, `_` and `-` only, not starting with `.`";

/// True when `id` follows the id syntax.
///
/// ```
/// assert!(plugrack_descriptor::id::is_valid("com.example.notify"));
/// assert!(!plugrack_descriptor::id::is_valid("my plugin"));
/// ```
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether two ids name the same plugin (ids compare case-insensitively).
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_syntax() {
        for ok in ["a", "com.example.x", "A_b-9", "x.."] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "a b", "ü", "x/y", "a:b", ".hidden", "..", "a\\b"] {
            assert!(!is_valid(bad), "{bad}");
        }
        assert!(same("Showcase", "showcase"));
    }
}
