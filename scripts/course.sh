#!/usr/bin/env bash
# The main job: build the tiny models, regenerate release/ and solutions/ from source/, autograde a
# reference and a blank submission of every lab with nbgrader and the hidden graders, print the grades.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"   # nbgrader calls the venv's alembic script
exec .venv/bin/python -m autograder course-check "$@"
