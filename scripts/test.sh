#!/usr/bin/env bash
# The test suite (what CI runs). Extra arguments go to pytest, e.g. `bash scripts/test.sh -k engine`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"   # nbgrader calls the venv's alembic script
export PYTHONHASHSEED=0 MPLBACKEND=Agg TOKENIZERS_PARALLELISM=false
# Build the tiny models once up front (cached), so no test pays for it inside a timeout.
.venv/bin/python -c "from labkit.models import tiny_models; tiny_models()" 2>/dev/null \
    || echo "[test] labkit.models not available: model-dependent tests will say so"
# Two pytest workers (pytest-xdist): most tests wait on one single-threaded grading or kernel process, so two
# keep both cores busy. PYTEST_WORKERS=0 runs everything in one process.
exec .venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-2}" "$@"
