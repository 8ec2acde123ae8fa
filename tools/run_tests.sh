#!/usr/bin/env bash
# Set up .venv (tools/setup_env.sh) and run the whole test suite on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
exec .venv/bin/python -m pytest tests -q "$@"
