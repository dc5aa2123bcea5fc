#!/usr/bin/env bash
# Compares `huddle kt fit`/`kt cv` with pyBKT's C++ engine on ~1,000,000 simulated rows
# (10 skills x 5,000 students x ~20 opportunities), same number of random restarts.
# Usage: scripts/pybkt/run.sh [--restarts N] [--runs N] ...   (extra flags go to compare.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
bash scripts/pybkt/setup-venv.sh
cargo build --release --quiet
HUDDLE="$CARGO_TARGET_DIR/release/huddle"
DATA=target/kt-bench
if [ ! -f "$DATA/kt.csv" ]; then
    "$HUDDLE" simulate --students 5000 --days 21 --skills 10 --seed 7 --out "$DATA" --kt-csv
fi
echo "nproc: $(nproc)"
target/pybkt-venv/bin/python scripts/pybkt/compare.py --csv "$DATA/kt.csv" --huddle "$HUDDLE" "$@"
