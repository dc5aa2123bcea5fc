#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/: event, batch, roster) with cargo-fuzz and libFuzzer, each for a
# fixed time; fails on any panic, which libFuzzer saves under fuzz/artifacts/TARGET/ (replay it
# with `cargo fuzz run TARGET FILE`).
#
# Usage: scripts/fuzz/run.sh [SECONDS_PER_TARGET (default 60)] [TARGET…]
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (sanitizer, coverage).
# Without a sanitizer (FUZZ_SANITIZER=none) the build is quicker; address is the default.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(event batch roster)
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
for target in "${TARGETS[@]}"; do
  # A few valid inputs to start from, so the fuzzer begins inside the grammar.
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  case $target in
    event) printf '%s' '{"event_id":"0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c11","occurred_at":"2026-11-20T09:15:03Z","student_id":"stu-0042","class_id":"class-5b","skill_id":"fractions.add-unlike","item_id":"frac-add-017","outcome":"correct","attempt":2,"response_ms":5400,"hints_used":1,"hint_bottom_out":false,"session_id":"s-1","skill_name":"Adding fractions","tool":"tutor"}' >"$corpus/seed-1" ;;
    batch) printf '%s' '{"events":[{"event_id":"0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c11","occurred_at":"2026-11-20T09:15:03Z","student_id":"stu-0042","class_id":"class-5b","skill_id":"fractions.add-unlike","item_id":"frac-add-017","outcome":"correct"},{"event_id":"0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c11","occurred_at":"2026-11-20T09:15:03+01:00","student_id":"stu-1","class_id":"c","skill_id":"s","item_id":"i","outcome":"skipped"}]}' >"$corpus/seed-1" ;;
    roster)
      printf '%s' '{"students":[{"student_id":"stu-0042","display_name":"Maya L.","class_id":"class-5b","group":"g1","school_id":"school-north","school_name":"North"}]}' >"$corpus/seed-1"
      printf 'student_id,name,class_id,group,school_id,school_name\nstu-1,"Ana, B.",class-5b,g,school-n,North\n' >"$corpus/seed-2" ;;
  esac
  echo "==> fuzzing $target for ${SECONDS_PER_TARGET} s"
  cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 -rss_limit_mb=2048
done
echo "no panic in ${TARGETS[*]}"
