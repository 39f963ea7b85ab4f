#!/usr/bin/env bash
# The demo in one command: set up (or reuse) the environment, write the synthetic data if missing, train the
# Mask R-CNN ConvMAE demo on CPU, evaluate it with the COCO metric and draw its predictions to PNG.
#   bash tools/demo.sh [CONFIG] [train.py args]     # default CONFIG: configs/demo/mask_rcnn_convmae_demo.py
# Output: work_dirs/demo/ (logs, checkpoints, predictions.png, demo_summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
PY="${MMCONVMAE_VENV:-$ROOT/.venv}/bin/python"
export PYTHONWARNINGS=ignore
CONFIG=${1:-configs/demo/mask_rcnn_convmae_demo.py}
[ ! -f "$CONFIG" ] && CONFIG=configs/demo/mask_rcnn_convnextv2_demo.py
WORK_DIR=${WORK_DIR:-work_dirs/demo}
DATA=${MMCONVMAE_DATA:-data/synthetic}
if [ ! -f "$DATA/coco/annotations/instances_val2017.json" ]; then
    "$PY" tools/data/make_synthetic.py --out "$DATA"
fi
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --no-validate "${@:2}"  # tools/test.py evaluates below
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
rm -rf "$WORK_DIR/predictions"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" --show-dir "$WORK_DIR/predictions"
"$PY" tools/analysis/demo_report.py "$WORK_DIR" --show-dir "$WORK_DIR/predictions"
echo "demo finished in $(( $(date +%s) - start )) s (training + evaluation); results in $WORK_DIR"
