#!/usr/bin/env bash
# The linters of .pre-commit-config.yaml, checking only (nothing is
# rewritten): flake8, isort --check, yapf --diff, codespell; settings in
# setup.cfg, versions pinned in requirements-test.txt. Exits non-zero when any
# of them finds something (all four run, so one run shows everything).
# Fix formatting with: isort PATHS && yapf -i -r PATHS
#
#   bash tools/lint.sh [PATHS...]      (default: the whole repository)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
spelling=("$@")
if [ "$#" -eq 0 ]; then
    set -- zeroi2v_mm tools tests configs setup.py
    spelling=("$@" README.md docs)
fi
status=0
run() {
    echo "== $*"
    "$PY" -m "$@" || status=1
}
run flake8 "$@"
run isort --check-only --diff "$@"
# yapf prints a diff and exits 1 when it would change a file
run yapf --diff --recursive --parallel "$@"
run codespell_lib "${spelling[@]}"
exit $status
