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
