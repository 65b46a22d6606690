#!/usr/bin/env bash
# Runs the fuzz targets at the lowest priority, each bounded: `fuzz/run.sh [SECONDS] [TARGET...]`
# (default 600 s, every target, all at once). Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Prints each target's executions and any crash; a crashing input
# lands in fuzz/artifacts/<target>/ and belongs in fuzz/regressions/<target>/ once fixed.
# FUZZ_SANITIZER=none runs without AddressSanitizer: our readers are safe Rust, so the sanitizer
# adds little but costs several times the executions; the default stays cargo-fuzz's (address).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(manifest package preflight section lockfile)
mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  nice -n 19 cargo +nightly fuzz run --sanitizer "${FUZZ_SANITIZER:-address}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 >"logs/$t.log" 2>&1 &
done
wait || true
for t in "${targets[@]}"; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
  crash=$(grep -c -E "^==[0-9]+==ERROR|panicked at|deadly signal" "logs/$t.log" || true)
  echo "$t: ${runs:-?} executions, ${crash} crash reports (logs/$t.log)"
done
