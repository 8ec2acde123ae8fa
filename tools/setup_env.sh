#!/usr/bin/env bash
# Create .venv at the repository root with the pinned stack (requirements.txt)
# and install zeroi2v_mm into it (editable). Safe to rerun: pip skips what is
# already there.
#   bash tools/setup_env.sh            # the stack: mim train / test, merge
#   bash tools/setup_env.sh --export   # and the ONNX export extra
#                                      # (requirements-export.txt; the demo,
#                                      # tools/run_demo.sh, exports int8)
#   bash tools/setup_env.sh --tests    # and requirements-test.txt: pytest,
#                                      # open_clip, the linters, the export
#                                      # extra (tools/run_tests.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
requirements=(-r requirements.txt)
case "${1:-}" in
    --tests) requirements+=(-r requirements-test.txt) ;;
    --export) requirements+=(-r requirements-export.txt) ;;
    "") ;;
    *) echo "usage: bash tools/setup_env.sh [--tests | --export]" >&2; exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# torch is named with its version (requirements.txt) so pip takes the local
# wheels instead of pulling a multi-GB build; setuptools<81 keeps openmim's
# pkg_resources import working. pip byte-compiles what it installs (about
# 40 s of one core): skipping that (--no-compile) made every later process
# compile torch, MMEngine and MMAction2 again where PYTHONDONTWRITEBYTECODE is
# set (nothing gets cached), doubling each mim train in the tests.
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "${requirements[@]}"
.venv/bin/python -m pip install -q --disable-pip-version-check \
    --no-build-isolation --no-deps -e .
.venv/bin/python -c "import zeroi2v_mm, mmaction, mim; print('zeroi2v_mm', zeroi2v_mm.__version__, 'ready in .venv')"
