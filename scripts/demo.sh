#!/usr/bin/env bash
# The main job, end to end: build the example plugins, put them in a plugins folder next to
# files that are not valid plugins, and show the host listing, calling and refusing them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the example plugins and the plugin-host tool"
cargo build --release -p showcase -p panicky -p plugin-template -p not-a-plugin --lib
cargo build --release -p plugin-host --bin plugin-host
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build --release -p showcase --target aarch64-unknown-linux-gnu

host=target/release/plugin-host
plugins=$(mktemp -d "${TMPDIR:-/tmp}/plugins.XXXXXX")
trap 'rm -rf "$plugins"' EXIT

step "A plugins folder: three plugins and five files that must be refused"
cp target/release/libshowcase.so "$plugins/showcase.so"
cp target/release/libpanicky.so "$plugins/panicky.so"
cp target/release/libplugin_template.so "$plugins/template.so"
cp target/release/libnot_a_plugin.so "$plugins/not-a-plugin.so"
cp target/aarch64-unknown-linux-gnu/release/libshowcase.so "$plugins/showcase-arm64.so"
: > "$plugins/empty.so"
echo "just some notes" > "$plugins/notes.txt"
head -c 200000 target/release/libshowcase.so > "$plugins/truncated.so"
ls -l "$plugins"

step "plugin-host list"
"$host" list --plugins-dir "$plugins"

step "plugin-host call showcase (describe)"
"$host" call --plugins-dir "$plugins" showcase

step "plugin-host call showcase greet name=World"
"$host" call --plugins-dir "$plugins" showcase greet name=World

step "plugin-host call showcase notify (messenger service)"
"$host" call --plugins-dir "$plugins" showcase notify title=Backup message=done priority:=5

step "plugin-host call plugin-template hello"
"$host" call --plugins-dir "$plugins" plugin-template hello name=Ada

step "plugin-host call panicky boom: the plugin panics, the host reports it and exits cleanly"
set +e
"$host" call --plugins-dir "$plugins" panicky boom
echo "exit code: $? (1 = the call failed; the host did not crash)"
set -e

step "plugin-host list --json (first entry)"
"$host" list --plugins-dir "$plugins" --json | head -n 20
