#!/usr/bin/env bash
# Measures the template plugin's size (stripped, as `plugin-build` ships it) under release
# profile settings and for each target: the figures of docs/plugin-size.md. Not part of CI
# (each setting is a full release build of the dependencies: about half an hour on 2 cores).
#
#   scripts/plugin-size.sh            # every setting for amd64, then default and template per target
#   scripts/plugin-size.sh quick      # the template's profile for amd64 only
#   scripts/plugin-size.sh caps       # the template's profile for amd64, capabilities left out
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-full}

work=${PLUGIN_SIZE_DIR:-$root/target/plugin-size}
mkdir -p "$work"
cargo build --quiet -p plugrack-build --bin plugin-build
project=$work/size-probe
rm -rf "$project"
"$root/target/debug/plugin-build" new size-probe --path "$project" --sdk-path "$root" >/dev/null 2>&1
cp "$root/Cargo.lock" "$project/Cargo.lock"

export CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER=i686-linux-gnu-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc

# measure LABEL TRIPLE CRATE_TYPES KEY=VALUE... : one release build with these profile keys
# (the others as cargo's defaults), stripped like plugin-build does, in target-LABEL (or
# target-$SHARE).
measure() {
  local label=$1 triple=$2 crate_types=$3
  shift 3
  local flags=(--config 'profile.release.strip="symbols"')
  local key
  for key in lto codegen-units opt-level; do
    local value
    case $key in lto) value=false ;; codegen-units) value=16 ;; opt-level) value=3 ;; esac
    local kv
    for kv in "$@"; do
      if [ "${kv%%=*}" = "$key" ]; then value=${kv#*=}; fi
    done
    flags+=(--config "profile.release.$key=$value")
  done
  sed -i "s/^crate-type = .*/crate-type = $crate_types/" "$project/Cargo.toml"
  local start=$SECONDS
  (cd "$project" && cargo build --quiet --release --lib --target "$triple" \
    --target-dir "$work/target-${SHARE:-$label}" "${flags[@]}")
  local so=$work/target-${SHARE:-$label}/$triple/release/libsize_probe.so
  local bytes
  bytes=$(stat -c %s "$so")
  printf '%-26s %-32s %8d bytes %5d KiB %5ds\n' "$label" "$triple" "$bytes" $(( (bytes + 512) / 1024 )) $(( SECONDS - start ))
}

cdylib='["cdylib"]'
both='["cdylib", "rlib"]'
amd64=x86_64-unknown-linux-gnu
template=(lto=true codegen-units=1 'opt-level="s"')

if [ "$mode" = quick ]; then
  measure template "$amd64" "$cdylib" "${template[@]}"
  exit 0
fi

# without TRAIT... : the template's src/lib.rs without its tests and without the
# `impl TRAIT for TemplateInstance` blocks named (the greeting helper then goes unused).
without() {
  python3 - "$project/src/lib.rs" "$root/plugin-build/template/src/lib.rs" "$@" <<'PY'
import sys
out, src, traits = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3:]
src = src[: src.index("#[cfg(test)]")]
for trait in traits:
    start = src.index(f"impl {trait} for TemplateInstance {{")
    depth = 0
    for end in range(start, len(src)):
        depth += {"{": 1, "}": -1}.get(src[end], 0)
        if src[end] == "}" and depth == 0:
            break
    src = src[:start] + src[end + 1 :]
open(out, "w").write(src)
PY
}

if [ "$mode" = caps ]; then
  export RUSTFLAGS="${RUSTFLAGS:-} -A dead_code"
  for leave_out in "HttpHandler Configurer Executor Displayer" "HttpHandler Configurer Displayer" \
    Executor HttpHandler Configurer Displayer ""; do
    # shellcheck disable=SC2086 # one word per trait
    without $leave_out
    SHARE=caps measure "without:${leave_out// /,}" "$amd64" "$cdylib" "${template[@]}"
  done
  exit 0
fi

measure default "$amd64" "$cdylib"
measure codegen-units-1 "$amd64" "$cdylib" codegen-units=1
measure opt-s "$amd64" "$cdylib" 'opt-level="s"'
measure lto-thin "$amd64" "$cdylib" 'lto="thin"'
measure lto "$amd64" "$cdylib" lto=true
measure lto-cgu1 "$amd64" "$cdylib" lto=true codegen-units=1
measure template "$amd64" "$cdylib" "${template[@]}"
measure lto-cgu1-z "$amd64" "$cdylib" lto=true codegen-units=1 'opt-level="z"'
measure template-with-rlib "$amd64" "$both" "${template[@]}"

# What the code is: std alone (a cdylib that catches a panic and formats a number, no crates),
# and a plugin with no capability at all (the SDK, abi_stable and serde_json's fixed part).
full_project=$project
project=$work/floor
mkdir -p "$project/src"
cat >"$project/Cargo.toml" <<'TOML'
[package]
name = "size-probe"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[workspace]
TOML
cat >"$project/src/lib.rs" <<'RUST'
#[unsafe(no_mangle)]
pub extern "C" fn probe(x: i32) -> i32 {
    std::panic::catch_unwind(|| {
        if x == 42 {
            panic!("boom {x}")
        }
        format!("{x}").len() as i32
    })
    .unwrap_or(-1)
}
RUST
measure std-only "$amd64" "$cdylib" "${template[@]}"
project=$work/empty-plugin
rm -rf "$project"
cp -r "$full_project" "$project"
rm -rf "$project/target" "$project/build"
cat >"$project/src/lib.rs" <<'RUST'
use plugrack_sdk::prelude::*;

pub struct Empty;
pub struct EmptyInstance;

impl Plugin for Empty {
    type Instance = EmptyInstance;
    fn load(_services: &Services) -> Result<Self> {
        Ok(Empty)
    }
    fn new_instance(&self, _user: &User, _services: Services) -> Result<EmptyInstance> {
        Ok(EmptyInstance)
    }
}
impl Instance for EmptyInstance {}

plugrack_sdk::export_plugin!(Empty);
RUST
# Same dependencies and settings as `template`: its compiled dependencies are reused.
SHARE=template measure empty-plugin "$amd64" "$cdylib" "${template[@]}"
project=$full_project

for triple in i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu; do
  measure "default-${triple%%-*}" "$triple" "$cdylib"
  measure "template-${triple%%-*}" "$triple" "$cdylib" "${template[@]}"
done
