#!/usr/bin/env bash
# Distributed testing with torchrun + MMEngine's pytorch launcher.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py args...]
set -euo pipefail
if [ $# -lt 3 ] || ! [[ "${3}" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py args...]" >&2
    echo "  NUM_PROCESSES: processes on this node (one per GPU; gloo on CPU)," >&2
    echo "  a positive integer; got: ${3:-nothing}" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
