#!/usr/bin/env bash
# Set up .venv with the test requirements (tools/setup_env.sh --tests), run
# the linters (tools/lint.sh), build the docs (sphinx-build -W: a warning is
# an error) and run the whole test suite on CPU. The tests run even when a
# linter or the docs build fails (all results are shown); the script fails if
# any failed. LINT=0 skips the linters, DOCS=0 the docs build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh --tests
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
# One worker per core (at most 2: the suite is sized for 2-core machines);
# whole files go to one worker, so module fixtures (a trained tiny model)
# are built once. TEST_WORKERS=0 runs in this process.
workers=${TEST_WORKERS:-$(python3 -c 'import os; print(min(2, os.cpu_count() or 1))')}
if [ "$workers" -gt 0 ]; then
    set -- -n "$workers" --dist loadfile "$@"
fi
lint_status=0
if [ "${LINT:-1}" != 0 ]; then
    PYTHON=.venv/bin/python bash tools/lint.sh || lint_status=$?
fi
docs_status=0
if [ "${DOCS:-1}" != 0 ]; then
    # about 15 s; the HTML goes to work_dirs/docs (ignored, and outside
    # what the spelling check reads)
    .venv/bin/sphinx-build -W -q -b html docs/en work_dirs/docs/html \
        || docs_status=$?
fi
test_status=0
.venv/bin/python -m pytest tests -q "$@" || test_status=$?
if [ "$lint_status" -ne 0 ]; then
    echo "tools/lint.sh failed (see above); tests: exit $test_status" >&2
fi
if [ "$docs_status" -ne 0 ]; then
    echo "the docs build (sphinx-build -W docs/en) failed (see above)" >&2
fi
[ "$test_status" -eq 0 ] && [ "$lint_status" -eq 0 ] && [ "$docs_status" -eq 0 ]
