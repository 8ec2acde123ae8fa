#!/usr/bin/env bash
# Distributed training with torchrun + MMEngine's pytorch launcher.
#   bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args...]
# One process per GPU (NCCL); on a machine without GPUs the processes train
# on the CPU with gloo. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
if [ $# -lt 2 ] || ! [[ "${2}" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args...]" >&2
    echo "  NUM_PROCESSES: processes on this node (one per GPU; gloo on CPU)," >&2
    echo "  a positive integer; got: ${2:-nothing}" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
