#!/usr/bin/env bash
# The main job on the embedded default: set up .venv, generate the synthetic
# temporal video benchmark, train ZeroI2V on it with `mim train` (CPU) and
# test the best checkpoint with `mim test`. Reruns reuse the data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
CONFIG=configs/demo/zeroi2v_synthetic.py
WORK_DIR=work_dirs/zeroi2v_synthetic
start=$(date +%s)
python tools/data/make_synthetic_videos.py --out data/synthetic
mim train mmaction "$CONFIG" --work-dir "$WORK_DIR"
best=$(ls -t "$WORK_DIR"/best_*.pth | head -n 1)
mim test mmaction "$CONFIG" --checkpoint "$best" --work-dir "$WORK_DIR"
echo "demo finished in $(( $(date +%s) - start )) s; outputs in $WORK_DIR"
