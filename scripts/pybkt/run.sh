#!/usr/bin/env bash
# Runs huddle kt and pyBKT's C++ engine side by side on one CSV (one shared student split,
# one scorer) and writes a table.
# Usage: scripts/pybkt/run.sh [--csv FILE[.gz]] [--restarts N] [--folds N] [--out TABLE.md] ...
# Without --csv: ~1,000,000 simulated rows (10 skills x 5,000 students x ~20 opportunities).
# Extra flags go to compare.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="${PYBKT_VENV:-target/pybkt-venv}"
PYBKT_VENV="$VENV" bash scripts/pybkt/setup-venv.sh
cargo build --release --quiet
HUDDLE="$CARGO_TARGET_DIR/release/huddle"
if [[ " $* " != *" --csv "* ]]; then
    DATA=target/kt-bench
    if [ ! -f "$DATA/kt.csv" ]; then
        "$HUDDLE" simulate --students 5000 --days 21 --skills 10 --seed 7 --out "$DATA" --kt-csv
    fi
    set -- --csv "$DATA/kt.csv" "$@"
fi
echo "nproc: $(nproc)"
"$VENV/bin/python" scripts/pybkt/compare.py --huddle "$HUDDLE" "$@"
