#!/usr/bin/env bash
# The GPU efficiency check, ready to run on a machine with one CUDA GPU and
# the pinned stack in .venv (bash tools/setup_env.sh). Writes
# docs/en/advanced_guides/benchmark_gpu.{md,json} (override with OUT_DIR=...) with the GPU's
# name, and, unless RUN_DEMO=0, times the README's first command there.
#
#   bash tools/benchmark_gpu.sh            # about 5-10 min on an H100/H200
#   COMPILE=0 RUN_DEMO=0 bash tools/benchmark_gpu.sh   # the quickest pass
#
# What it measures, in one tools/benchmark.py run (so that every ratio is of
# numbers taken in the same interleaved rounds on the same card), with AMP
# (fp16 autocast; GradScaler for training):
#   * batch-1 latency of 8 frames x 3 views (K400 test views) of the plain
#     CLIP ViT-B/16, merged ZeroI2V, AIM, ST-Adapter, merged LoRA and full
#     fine-tuning; 16 x 3 x 4 views for InTI_{5,7} and ZeroI2V+InTI (merged)
#     against the naive 16-frame ViT (the plain model of their size);
#   * throughput (views/s, largest batch that fits), training step time and
#     peak memory at 8 clips per step (ZeroI2V / full fine-tuning memory);
#   * STDHA attention vs plain attention, and which SDPA kernels ran in each
#     (flash / memory-efficient / cuDNN / math, from torch.profiler);
#   * with COMPILE=1 (default): torch.compile (Inductor) vs eager latency;
#   * fp32 vs fp16 ONNX in onnxruntime's CUDA provider (when installed).
# Paper figures to put the ratios next to (ZeroI2V, V100, AMP, batch 1,
# 8x3 views): ViT-B 28.72 ms, ZeroI2V 28.89 ms (x1.006); InTI: -35 %.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT_DIR=${OUT_DIR:-docs/en/advanced_guides}
COMPILE=${COMPILE:-1}
RUN_DEMO=${RUN_DEMO:-1}
mkdir -p "$OUT_DIR"

if ! "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    echo "tools/benchmark_gpu.sh: no CUDA device visible to $PYTHON" >&2
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
    | tee "$OUT_DIR/benchmark_gpu_device.txt"

EXTRA=()
if [ "$COMPILE" = 1 ]; then
    EXTRA+=(--compile)
fi
"$PYTHON" tools/benchmark.py \
    configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py \
    configs/recognition/aim/aim_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py \
    configs/recognition/st_adapter/st-adapter_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py \
    configs/recognition/lora/lora-r96-all_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py \
    configs/recognition/full_finetune/full-finetune_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py \
    configs/recognition/inti/inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py \
    configs/recognition/zeroi2v/zeroi2v-inti_clip-vit-base-p16_16x8x1-40e_kinetics400-rgb.py \
    --device cuda --train-batch 8 "${EXTRA[@]}" \
    --json "$OUT_DIR/benchmark_gpu.json" --md "$OUT_DIR/benchmark_gpu.md"

# fp32 vs fp16 ONNX of merged ZeroI2V and the plain ViT-B/16 (8 frames, one
# view, batch 1) in onnxruntime's CUDA provider, in the same interleaved rounds
# (tools/deployment/benchmark_onnx.py; the fp16 graph is what
# `export_onnx.py --quantize fp16` writes). Needs the onnxruntime-gpu build of
# the pinned onnxruntime version in place of the CPU one.
if "$PYTHON" -c 'import onnxruntime, sys; sys.exit("CUDAExecutionProvider" not in onnxruntime.get_available_providers())'; then
    "$PYTHON" tools/deployment/benchmark_onnx.py \
        configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.py \
        --provider cuda --precisions fp32 fp16 --no-pytorch --rounds 20 \
        --warmup 5 --json "$OUT_DIR/benchmark_gpu_onnx_fp16.json"
else
    echo "tools/benchmark_gpu.sh: onnxruntime has no CUDA provider (pip" \
        "install onnxruntime-gpu==$("$PYTHON" -c 'import onnxruntime; print(onnxruntime.__version__)')" \
        "in place of onnxruntime); fp16 ONNX not timed" >&2
fi

if [ "$RUN_DEMO" = 1 ]; then
    # The README's first command, timed from empty data/ and work_dirs/
    # folders; earlier outputs are never deleted here: move them away first.
    for path in data/synthetic work_dirs/pretrain_image_synthetic \
            work_dirs/zeroi2v_synthetic; do
        if [ -e "$path" ]; then
            echo "tools/benchmark_gpu.sh: $path exists; move it away to time" \
                "the demo from scratch (or RUN_DEMO=0). Demo not timed." >&2
            exit 1
        fi
    done
    start=$(date +%s)
    bash tools/run_demo.sh 2>&1 | tee "$OUT_DIR/benchmark_gpu_demo.log"
    echo "README command 1: $(( $(date +%s) - start )) s" \
        | tee -a "$OUT_DIR/benchmark_gpu_demo.log"
fi
