#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine.
# Idempotent and non-interactive: safe to run on every CI run.
set -euo pipefail

# `--demo` (scripts/demo.sh): skip what only the tests need (cargo-generate, the shells).
FOR_TESTS=1
if [ "${1:-}" = "--demo" ]; then FOR_TESTS=0; fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# Debian packages: cross linkers for the foreign targets and qemu-user to run their binaries.
# The libc6-dev-*-cross packages are only Recommends of the gcc cross packages, so name them.
# Chromium, its WebDriver and a font: plugin-server's browser test drives the page headless.
# The `cross` backend: podman with runc runs the build images that `plugin-build images` makes
# with debootstrap (crun refuses these machines' hybrid cgroup layout).
# minisign: the reference tool checks that plugin-build's signatures verify with it.
# gcc: the bundling tests compile a tiny C library (libgreet) for this machine too.
APT_PACKAGES=(gcc gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-i686-linux-gnu
  libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev-i386-cross qemu-user
  chromium chromium-driver fonts-dejavu-core curl
  podman runc debootstrap fuse-overlayfs slirp4netns uidmap minisign)
# Shells and man for the completion and man-page tests (plugin-build/tests/conventions.rs).
# libssl-dev and pkg-config: cargo-generate's git support links OpenSSL (installed below).
if [ "$FOR_TESTS" = 1 ]; then APT_PACKAGES+=(fish zsh man-db libssl-dev pkg-config); fi
# git: `plugin-build from-git` runs it, and its tests make repositories with it.
command -v git >/dev/null 2>&1 || APT_PACKAGES+=(git)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# The pinned toolchain (rust-toolchain.toml) and the four Linux targets.
TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$(dirname "$0")/../rust-toolchain.toml")
TARGETS=(x86_64-unknown-linux-gnu i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu)
installed=$(rustup target list --installed --toolchain "$TOOLCHAIN" 2>/dev/null || true)
for t in "${TARGETS[@]}"; do
  if ! grep -qx "$t" <<<"$installed"; then
    log "rustup target add $t (toolchain $TOOLCHAIN)"
    rustup target add --toolchain "$TOOLCHAIN" "$t"
  fi
done

# The container engine's settings for these machines, written only where missing (a setting
# already there is left as it is): containers start with lowered nofile/nproc limits (the
# sandbox withholds CAP_SYS_RESOURCE, so runc cannot raise them) and run with runc.
CONTAINERS_CONF=/etc/containers/containers.conf
conf_status=$($SUDO python3 - "$CONTAINERS_CONF" <<'PY'
import os, re, sys, tempfile, tomllib
path = sys.argv[1]
text = open(path).read() if os.path.exists(path) else ""
conf = tomllib.loads(text)
wanted = [("containers", "default_ulimits", '["nofile=8192:8192", "nproc=8192:8192"]'),
          ("engine", "runtime", '"runc"')]
added = []
for section, key, value in wanted:
    if key in conf.get(section, {}):
        continue
    line = f"{key} = {value}  # plugrack scripts/setup.sh"
    header = re.search(rf"^\[{section}\][ \t]*(#.*)?$", text, re.M)
    if header:
        text = text[:header.end()] + "\n" + line + text[header.end():]
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + f"[{section}]\n{line}\n"
    added.append(f"{section}.{key}")
if added:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(temp, 0o644)
    os.replace(temp, path)
print(", ".join(added))
PY
)
if [ -n "$conf_status" ]; then log "$CONTAINERS_CONF: set $conf_status"; else log "$CONTAINERS_CONF already set"; fi

# cargo-zigbuild and zig, from PyPI: the `zigbuild` backend; taplo. cargo-zigbuild finds zig as
# `python3 -m ziglang` when no `zig` is on PATH.
PY_PACKAGES=()
command -v cargo-zigbuild >/dev/null 2>&1 || PY_PACKAGES+=(cargo-zigbuild)
python3 -m ziglang version >/dev/null 2>&1 || command -v zig >/dev/null 2>&1 || PY_PACKAGES+=(ziglang)
# taplo (the TOML toolkit behind Even Better TOML): the schema test checks that it reads
# docs/schema/plugin.toml.json the way docs/schema.md tells authors to use it.
command -v taplo >/dev/null 2>&1 || PY_PACKAGES+=(taplo)
if [ "${#PY_PACKAGES[@]}" -gt 0 ]; then
  log "pip install ${PY_PACKAGES[*]}"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${PY_PACKAGES[@]}"
  hash -r
else
  log "cargo-zigbuild, zig and taplo present"
fi

# cross (the `cross` backend) from crates.io, built with the pinned toolchain (0.2.5 builds with
# it); cross also wants rust-src in the toolchain it mounts into the container.
CROSS_VERSION=0.2.5
if ! cross --version 2>/dev/null | grep -q "^cross $CROSS_VERSION"; then
  log "cargo install cross $CROSS_VERSION"
  cargo "+$TOOLCHAIN" install --locked --quiet cross --version "$CROSS_VERSION"
else
  log "cross $CROSS_VERSION present"
fi
if ! rustup component list --installed --toolchain "$TOOLCHAIN" 2>/dev/null | grep -qx "rust-src"; then
  log "rustup component add rust-src (toolchain $TOOLCHAIN)"
  rustup component add --toolchain "$TOOLCHAIN" rust-src
fi
# The build images themselves are made by the tests (`plugin-build images`, once per run, and
# kept in the engine's image store: a later run on the same machine reuses them).

# cargo-generate, from crates.io: a test renders plugin-build/template with it and loads the
# result (plugin-build/tests/published.rs). 0.23.14 is the newest release whose lockfile builds
# with the pinned rustc (0.24+ lock crates that need 1.96+). Without default features it uses
# the system's libgit2 when there is one (else libgit2-sys builds its bundled copy). Compiled
# once per machine, into ~/.cargo/bin.
CARGO_GENERATE_VERSION=0.23.14
if [ "$FOR_TESTS" = 1 ]; then
  if cargo generate --version 2>/dev/null | grep -qF " $CARGO_GENERATE_VERSION"; then
    log "cargo-generate $CARGO_GENERATE_VERSION present"
  else
    log "cargo install cargo-generate@$CARGO_GENERATE_VERSION (once; a few minutes)"
    cargo install --locked --quiet --no-default-features "cargo-generate@$CARGO_GENERATE_VERSION"
  fi
fi

# A second toolchain proves the ABI is stable across compilers. It cannot be downloaded
# here, so it must already be on the machine; say so loudly if it is not.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "warning: no nightly toolchain; the cross-compiler ABI test will fail (rustup toolchain install nightly)"
fi
log "setup done"
