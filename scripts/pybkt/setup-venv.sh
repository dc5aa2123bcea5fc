#!/usr/bin/env bash
# Creates target/pybkt-venv with pyBKT built from source, so that its C++ engine is used
# (the prebuilt wheel falls back to a much slower pure-Python engine).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${PYBKT_VENV:-target/pybkt-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import pyBKT.fit.E_step, numpy, pandas, sklearn' 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --upgrade pip setuptools wheel
    "$VENV/bin/pip" install numpy==2.3.5 pandas scikit-learn==1.7.2
    # pyBKT's setup.py imports numpy for its headers and silently falls back to the pure
    # Python engine when that fails, which it does in pip's isolated build environment:
    # build it against the numpy installed above instead.
    "$VENV/bin/pip" uninstall --yes pybkt >/dev/null 2>&1 || true
    "$VENV/bin/pip" install --no-binary pybkt --no-build-isolation --no-cache-dir pybkt==1.4.3
fi
"$VENV/bin/python" - <<'PY'
import pyBKT.models, importlib
try:
    importlib.import_module("pyBKT.fit.E_step")
    print("pyBKT C++ engine: yes")
except Exception as e:  # the pure-Python fallback would make the comparison meaningless
    print("pyBKT C++ engine: NO (%s)" % e)
PY
