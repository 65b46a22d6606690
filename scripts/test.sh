#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, unit, end-to-end and CLI tests.
# Installs what the tests need first (scripts/setup.sh is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "==> cargo test --workspace"
cargo test --workspace --all-targets --no-fail-fast
cargo test --workspace --doc

# The API docs build without a warning (broken links, missing docs), as docs.rs would build them.
echo "==> cargo doc --no-deps (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Every published crate (no `publish = false`) packages, and its .crate builds on its own:
# cargo verifies each against the others' .crate files, so what crates.io would get compiles.
# After the tests, the verification reuses their compiled dependencies (docs/releasing.md).
echo "==> cargo package (the published crates, verified)"
published=$(cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys
print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"] if p["publish"] is None))')
# cargo takes a registry crate of a given name and version to be immutable: the temporary
# registry's unpacked sources (~/.cargo/registry/src/-HASH/NAME-VERSION) and what was compiled
# from them in target/ are reused even after the .crate changed. Drop both for our crates, so a
# second run on the same machine verifies today's sources (nothing to drop on a fresh machine).
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/plugrack-* target/package/tmp-registry
# shellcheck disable=SC2086 # one word per flag
cargo clean --quiet $published
# shellcheck disable=SC2086
cargo package --locked --allow-dirty $published
