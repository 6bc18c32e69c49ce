#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for SECONDS (default 60),
# FUZZ_JOBS of them at once (default: the number of cores); exits non-zero
# when any crashed, leaving the input in fuzz/artifacts/<target>/. Usage: fuzz/run.sh [seconds] [target…]
#
# cargo-fuzz needs nightly-only rustc flags (-Z sanitizer, -C passes of
# SanitizerCoverage); on the stable toolchain RUSTC_BOOTSTRAP=1 allows
# them. The seeds in fuzz/corpus/<target>/ stay as committed: libFuzzer
# writes what it finds into fuzz/corpus-run/<target>/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
shift || true
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi

TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
  mapfile -t TARGETS < <(cargo fuzz list)
fi

# -O: optimised, as fuzzing wants; -a: with debug assertions, so an
# arithmetic overflow is a crash too. AddressSanitizer (the default).
FLAGS=(-O -a)
cargo fuzz build "${FLAGS[@]}"

# One target after another would take targets × SECONDS; they run
# FUZZ_JOBS at a time instead (default: one per core), each still for its
# full SECONDS, each libFuzzer single-threaded.
JOBS="${FUZZ_JOBS:-$(nproc)}"

run_one() {
  local target="$1" log="fuzz/corpus-run/$1.log" rc=0
  mkdir -p "fuzz/corpus-run/$target"
  cargo fuzz run "${FLAGS[@]}" "$target" "fuzz/corpus-run/$target" "fuzz/corpus/$target" \
    -- -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  echo "$rc" >"fuzz/corpus-run/$target.rc"
  return "$rc"
}

rm -f fuzz/corpus-run/*.rc
echo "== fuzz ${#TARGETS[@]} targets, ${SECONDS_EACH} s each, $JOBS at a time"
for target in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_one "$target" &
done
wait || true

failed=0
for target in "${TARGETS[@]}"; do
  log="fuzz/corpus-run/$target.log"
  rc="$(cat "fuzz/corpus-run/$target.rc" 2>/dev/null || echo 1)"
  echo "== fuzz $target (${SECONDS_EACH} s)"
  if [ "$rc" -ne 0 ]; then
    tail -n 80 "$log" >&2
    echo "fuzz target $target failed (exit $rc); the input is in fuzz/artifacts/$target/" >&2
    failed=1
    continue
  fi
  # The last status line (runs, coverage, corpus) and the final stats.
  grep -E '^#[0-9]+' "$log" | tail -n 1
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
done
exit "$failed"
