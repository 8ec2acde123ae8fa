#!/usr/bin/env bash
# The main job on the embedded default (CPU, minutes):
#   1. set up .venv;
#   2. generate the synthetic temporal video benchmark and its still images;
#   3. pre-train a small CLIP-style image ViT on the stills with mmpretrain
#      (`mim train mmpretrain`) and export its backbone: the "pre-trained
#      image model";
#   4. freeze it and adapt it to video with ZeroI2V (STDHA + linear adapters)
#      using `mim train mmaction`; MergeAdaptersHook folds the adapters into
#      the frozen weights at the end and checks merged == unmerged;
#   5. `mim test` the best unmerged checkpoint and the merged model;
#   6. export the merged model to int8 ONNX (onnxruntime static quantization,
#      calibrated on 32 training clips read by the test pipeline) and verify
#      it against PyTorch on the 200 validation clips (accuracy, agreement,
#      latency against the float32 ONNX file);
#   7. print the summary table (also in $WORK_DIR/summary.md), with the
#      wall time of the whole run and of each stage.
# Reruns reuse what exists (dataset, image model, video training); delete a
# work dir to redo its step.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
STAGES=()
stage_start=$start
# stage NAME: record the seconds since the previous stage ended.
stage() {
    local now
    now=$(date +%s)
    STAGES+=("$1=$(( now - stage_start ))")
    stage_start=$now
}
# --export: onnx and onnxruntime for the int8 stage (requirements-export.txt)
bash tools/setup_env.sh --export
stage set-up
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"

DATA=data/synthetic
PRETRAIN_CONFIG=configs/demo/pretrain_image_synthetic.py
PRETRAIN_DIR=work_dirs/pretrain_image_synthetic
IMAGE_MODEL=$PRETRAIN_DIR/pretrained_image_vit.pth
CONFIG=configs/demo/zeroi2v_synthetic.py
MERGED_CONFIG=configs/demo/zeroi2v_synthetic_merged.py
WORK_DIR=work_dirs/zeroi2v_synthetic

# The generator returns at once when $DATA already holds this dataset.
python tools/data/make_synthetic_videos.py --out "$DATA" \
    --images-per-class 120
stage "synthetic data"

if [[ ! -f "$IMAGE_MODEL" ]]; then
    # --resume: an interrupted run goes on from its last checkpoint
    mim train mmpretrain "$PRETRAIN_CONFIG" --work-dir "$PRETRAIN_DIR" --resume
    python tools/demo/export_image_backbone.py "$PRETRAIN_DIR" "$IMAGE_MODEL"
else
    echo "reusing the image model $IMAGE_MODEL"
fi
stage "image pretraining (mmpretrain) and export"

merged=$WORK_DIR/zeroi2v_synthetic_merged.pth
if [[ ! -f "$merged" ]]; then
    mim train mmaction "$CONFIG" --work-dir "$WORK_DIR" --resume
else
    echo "reusing the trained and merged model $merged"
fi
stage "video training (ZeroI2V) and merge"

best=$(ls -t "$WORK_DIR"/best_*.pth | head -n 1)
mim test mmaction "$CONFIG" --checkpoint "$best" \
    --work-dir "$WORK_DIR/test_unmerged"
mim test mmaction "$MERGED_CONFIG" --checkpoint "$merged" \
    --work-dir "$WORK_DIR/test_merged"
stage "mim test, unmerged and merged"

# int8: refused (exit 1, nothing written) below 99 % top-1 agreement with the
# PyTorch model on the validation clips.
INT8=$WORK_DIR/deploy/zeroi2v_synthetic_int8.onnx
mkdir -p "$WORK_DIR/deploy"
python tools/deployment/export_onnx.py "$CONFIG" "$merged" --out "$INT8" \
    --force --quantize int8 --calib-ann-file "$DATA/train_list.txt" \
    --calib-clips 32 --verify --verify-clips 200
stage "int8 export and verification"

python tools/demo/summarize.py "$WORK_DIR" --pretrain-dir "$PRETRAIN_DIR" \
    --int8-report "$INT8.report.json" \
    --seconds "$(( $(date +%s) - start ))" --stage "${STAGES[@]}" \
    --md "$WORK_DIR/summary.md"
echo "outputs in $WORK_DIR (summary: $WORK_DIR/summary.md)"
