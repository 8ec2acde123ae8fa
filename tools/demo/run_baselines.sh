#!/usr/bin/env bash
# The synthetic benchmark's accuracy table: every method of
# configs/demo/ and configs/recognition/*/*_synthetic-rgb.py trained the same way (same data, same
# frozen-or-not image model from tools/run_demo.sh, same 20 epochs) with
# `mim train mmaction`, then parameters and GFLOPs per view from
# tools/benchmark.py --counts-only with each method's best validation top-1.
#
#   bash tools/run_demo.sh                        # data + image model first
#   bash tools/demo/run_baselines.sh              # all methods (~1 h, CPU)
#   bash tools/demo/run_baselines.sh naive_synthetic aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb   # some
#
# A method whose work dir already holds its final epoch is not retrained.
# Results: work_dirs/synthetic_baselines/{accuracy.json,table.md,
# table_accuracy.png}.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
OUT=work_dirs/synthetic_baselines
mkdir -p "$OUT"

declare -A CONFIGS=(
    [zeroi2v_synthetic]=configs/demo/zeroi2v_synthetic.py
    [naive_synthetic]=configs/demo/naive_synthetic.py
    [finetune_synthetic]=configs/demo/finetune_synthetic.py
    [zeroi2v_inti_synthetic]=configs/demo/zeroi2v_inti_synthetic.py
    [inti_synthetic]=configs/demo/inti_synthetic.py
    [full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/full_finetune/full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
    [linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/linear_probe/linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
    [temporal-heads_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/temporal_heads/temporal-heads_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
    [lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/lora/lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
    [gelu-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/gelu_adapter/gelu-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
    [st-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/st_adapter/st-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
    [aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb]=configs/recognition/aim/aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py
)
ORDER=(zeroi2v_synthetic naive_synthetic finetune_synthetic
       full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb st-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb
       lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb gelu-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb temporal-heads_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb
       linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb zeroi2v_inti_synthetic inti_synthetic)
if (( $# )); then ORDER=("$@"); fi

for name in "${ORDER[@]}"; do
    config=${CONFIGS[$name]:-}
    if [[ -z "$config" ]]; then
        echo "unknown method $name; known: ${!CONFIGS[*]}" >&2
        exit 2
    fi
    work_dir=$OUT/$name
    # The demo's own run counts as the ZeroI2V row when it exists.
    if [[ $name == zeroi2v_synthetic && -d work_dirs/zeroi2v_synthetic ]]; then
        work_dir=work_dirs/zeroi2v_synthetic
    fi
    epochs=$(python -c "from mmengine import Config; \
print(Config.fromfile('$config').train_cfg.max_epochs)")
    if [[ -f "$work_dir/epoch_$epochs.pth" ]]; then
        echo "$name: reusing $work_dir"
    else
        mim train mmaction "$config" --work-dir "$work_dir"
    fi
done

# Best validation top-1 (%) of each trained method, from MMEngine's logs.
python - "$OUT" "${ORDER[@]}" <<'EOF'
import glob, json, os.path as osp, sys
out, names = sys.argv[1], sys.argv[2:]
accuracy = {}
for name in names:
    work_dir = osp.join(out, name)
    if name == 'zeroi2v_synthetic' and osp.isdir('work_dirs/zeroi2v_synthetic'):
        work_dir = 'work_dirs/zeroi2v_synthetic'
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')),
                  key=osp.getmtime)
    values = [json.loads(line).get('acc/top1') for log in logs for line in open(log)]
    values = [v for v in values if v is not None]
    if not values:
        sys.exit(f'{work_dir}: no validation acc/top1 in {logs}')
    accuracy[name] = round(100 * max(values), 2)
path = osp.join(out, 'accuracy.json')
previous = json.load(open(path)) if osp.isfile(path) else {}
previous.update(accuracy)
json.dump(previous, open(path, 'w'), indent=2, sort_keys=True)
print(json.dumps(previous, indent=2, sort_keys=True))
EOF

configs=()
for name in "${ORDER[@]}"; do configs+=("${CONFIGS[$name]}"); done
python tools/benchmark.py "${configs[@]}" --counts-only \
    --accuracy "$OUT/accuracy.json" --md "$OUT/table.md" \
    --json "$OUT/table.json"
cat "$OUT/table.md"
