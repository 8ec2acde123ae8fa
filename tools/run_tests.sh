#!/usr/bin/env bash
# Set up .venv (tools/setup_env.sh) and run the whole test suite on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
# One worker per core (at most 2: the suite is sized for 2-core machines);
# whole files go to one worker, so module fixtures (a trained tiny model)
# are built once. TEST_WORKERS=0 runs in this process.
workers=${TEST_WORKERS:-$(python3 -c 'import os; print(min(2, os.cpu_count() or 1))')}
if [ "$workers" -gt 0 ]; then
    set -- -n "$workers" --dist loadfile "$@"
fi
exec .venv/bin/python -m pytest tests -q "$@"
