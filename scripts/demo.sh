#!/usr/bin/env bash
# The main job, end to end. First the plugin author's workflow: a new plugin from the
# template, capped to this workspace's Cargo.lock, built for this machine and for arm64,
# packaged, verified and deployed into a plugins folder, listed and called by the host; a
# tampered package is refused. Then the host's side: the example plugins in a folder next to
# files that are not valid plugins, listed, called and refused. Last, plugin-server runs the
# deployed plugin on 127.0.0.1: its API and its webhook are called with curl, then it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh --demo >/dev/null

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

step "Building the plugin-build, plugin-host and plugin-server tools"
cargo build --release -p plugrack-build -p plugrack-host -p plugrack-server --bins
# Builds go to the workspace's target folder (or $CARGO_TARGET_DIR), the new plugin's too, so
# the crates it shares with the workspace compile once.
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target PATH="$target/release:$PATH"
pb=plugin-build
host=plugin-host
work=$(mktemp -d "${TMPDIR:-/tmp}/plugin-demo.XXXXXX")
deployed=$(mktemp -d "${TMPDIR:-/tmp}/deployed.XXXXXX")
plugins=$(mktemp -d "${TMPDIR:-/tmp}/plugins.XXXXXX")
data=$(mktemp -d "${TMPDIR:-/tmp}/server-data.XXXXXX")
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work" "$deployed" "$plugins" "$data"' EXIT

step "1. plugin-build new: a plugin project from the template (offline, embedded in the tool)"
cd "$work"
run "$pb" new hello-plugin --id org.example.hello
cd hello-plugin
find . -type f | sort
sed -n '/^\[package.metadata.plugin\]/,/^$/p;/^\[dependencies\]/,/^$/p' Cargo.toml

step "2. cargo test: the template's unit tests run the plugin in process, no shared library"
run cargo test --quiet 2>&1 | grep -E '^(running|test result)'

step "3. plugin-build cap: pin the shared crates to the host's Cargo.lock (here: this workspace's)"
run "$pb" cap --from "$root/Cargo.lock"

step "4. plugin-build: build for this machine and for arm64"
run "$pb" --target amd64,arm64 --backend cargo

step "5. plugin-build package: one reproducible archive with plugin.toml and both .so files"
run "$pb" package
first=$(sha256sum build/org.example.hello-0.1.0.plg)
"$pb" package 2>/dev/null >/dev/null
[ "$first" = "$(sha256sum build/org.example.hello-0.1.0.plg)" ] && echo "packaged twice: identical bytes ($first)"
run "$pb" inspect build/org.example.hello-0.1.0.plg

step "6. plugin-build deploy: verify every checksum, install this machine's build atomically"
run "$pb" deploy --to "$deployed"
find "$deployed" | sort
run "$pb" deploy --to "$deployed"

step "7. a tampered package is refused and the plugins folder is left as it was"
cp build/org.example.hello-0.1.0.plg "$work/tampered.plg"
size=$(stat -c %s "$work/tampered.plg")
printf '\x00' | dd of="$work/tampered.plg" bs=1 seek=$((size / 2)) conv=notrunc status=none
set +e
run "$pb" deploy "$work/tampered.plg" --to "$deployed"
echo "exit code: $?"
run "$pb" deploy --to "$deployed" --target 386
echo "exit code: $?"
set -e

step "8. plugin-host list and call: the deployed plugin is active and answers"
run "$host" list --plugins-dir "$deployed"
run "$host" call --plugins-dir "$deployed" org.example.hello hello name=Ada
cd "$root"

step "The host's side: the example plugins next to files that must be refused"

cargo build --release -p showcase -p panicky -p plugin-template -p not-a-plugin --lib
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build --release -p showcase --target aarch64-unknown-linux-gnu

step "A plugins folder: three plugins, five files that must be refused, and a README that is skipped"
cp "$target"/release/libshowcase.so "$plugins/showcase.so"
cp "$target"/release/libpanicky.so "$plugins/panicky.so"
cp "$target"/release/libplugin_template.so "$plugins/template.so"
cp "$target"/release/libnot_a_plugin.so "$plugins/not-a-plugin.so"
cp "$target"/aarch64-unknown-linux-gnu/release/libshowcase.so "$plugins/showcase-arm64.so"
: > "$plugins/empty.so"
echo "just some notes, named like a plugin" > "$plugins/notes.so"
echo "Plugins go in this folder." > "$plugins/README.txt"
head -c 200000 "$target"/release/libshowcase.so > "$plugins/truncated.so"
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

step "9. plugin-server: the plugin deployed in step 6, behind a REST API and its webhook"
password=demo-password-1
PLUGIN_SERVER_ADMIN_PASSWORD=$password plugin-server --plugins-dir "$deployed" --data-dir "$data" \
  --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^plugin-server listening on //p' "$work/server.out")
[ -n "$base" ] || { cat "$work/server.log"; exit 1; }
echo "plugin-server (pid $server_pid) listens on $base; the first administrator is admin / $password"
api() { curl -sS -u "admin:$password" "$@"; echo; }
run curl -sS "$base/health"; echo
run api "$base/api/plugins/org.example.hello"
run api -X POST "$base/api/plugins/org.example.hello/enable"
webhook=$(api "$base/api/plugins/org.example.hello" | python3 -c 'import json, sys; print(json.load(sys.stdin)["webhook_url"])')
echo "the webhook needs no credentials: its token names admin's instance"
run curl -sS -X POST --data 'deployed by demo.sh' "${webhook}webhook"; echo
run api "$base/api/messages"
echo "a configuration the plugin refuses (400, the current one stays), then one it accepts:"
run api -X PUT --data '{"greeting": " "}' "$base/api/plugins/org.example.hello/config"
run api -X PUT --data '{"greeting": "Howdy"}' "$base/api/plugins/org.example.hello/config"
run curl -sS -X POST --data 'again' "${webhook}webhook"; echo
run api "$base/api/plugins/org.example.hello/display"
run curl -sS -o /dev/null -w 'without credentials: HTTP %{http_code}\n' "$base/api/plugins"
echo "Prometheus metrics of the plugin:"
api "$base/metrics" | grep -E '^plugin_(calls|errors|panics)_total\{plugin="org.example.hello"\}'
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
echo "plugin-server stopped on SIGTERM, exit code $status:"
grep -E 'SIGTERM|unloaded' "$work/server.log"
[ "$status" -eq 0 ]
echo "To keep a server running and open its page, see docs/server.md (plugin-server --plugins-dir DIR --data-dir DIR, then http://127.0.0.1:8080/)."
