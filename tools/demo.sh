#!/usr/bin/env bash
# The demo in one command: set up (or reuse) the environment, write the synthetic data if missing, train a demo
# config on the CPU, evaluate it and draw one report picture for its task.
#   bash tools/demo.sh [CONFIG] [train.py args]     # default CONFIG: configs/demo/mask_rcnn_convmae_demo.py
#   e.g. bash tools/demo.sh configs/demo/upernet_convmae_demo.py --cfg-options train_cfg.max_iters=20
# Output: $WORK_DIR (default work_dirs/demo/<config name>/): logs, the config, checkpoints, report.png and
# demo_summary.txt. Reports per task (tools/analysis/demo_report.py):
#   detection      box / mask mAP, ground truth | prediction for 8 validation images
#   segmentation   mIoU, ground truth | prediction for 8 validation images
#   classification top-1 / top-2 accuracy, 8 validation images with their predicted class
#   pretraining    loss curve, original / masked input / reconstruction for 4 images
# Environment: MMCONVMAE_DATA (data folder, default data/synthetic), MMCONVMAE_VENV (default ./.venv),
# MMCONVMAE_SKIP_SETUP=1 (use the environment as it is), MMCONVMAE_PYTHON (the interpreter, default the venv's),
# WORK_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CONFIG=${1:-configs/demo/mask_rcnn_convmae_demo.py}
if [ ! -f "$CONFIG" ]; then
    echo "demo.sh: config file '$CONFIG' does not exist. Demo configs:" >&2
    ls configs/demo/*.py >&2
    exit 2
fi
if [ -z "${MMCONVMAE_SKIP_SETUP:-}" ]; then
    bash tools/setup_env.sh
fi
PY="${MMCONVMAE_PYTHON:-${MMCONVMAE_VENV:-$ROOT/.venv}/bin/python}"
export PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
NAME="$(basename "$CONFIG" .py)"
WORK_DIR=${WORK_DIR:-work_dirs/demo/$NAME}
export MMCONVMAE_DATA=${MMCONVMAE_DATA:-data/synthetic}
if [ ! -f "$MMCONVMAE_DATA/coco/annotations/instances_val2017.json" ] || [ ! -d "$MMCONVMAE_DATA/ade" ] \
        || [ ! -f "$MMCONVMAE_DATA/imagenet/meta/val.txt" ]; then
    "$PY" tools/data/make_synthetic.py --out "$MMCONVMAE_DATA"
fi
# The terminal gets the progress lines; the config dump and the environment report go to the log in $WORK_DIR only.
# mawk (Debian/Ubuntu's default awk) reads a pipe in large blocks: -W interactive makes it pass each line on at once.
AWK=(awk)
if awk -W version 2>/dev/null | grep -q mawk; then AWK=(awk -W interactive); fi
quiet() {
    "${AWK[@]}" '/ - INFO - (Config:|Hooks will be executed in the following order:)?$/ {skip = 1; next}
         /Using env variable `MMCONVMAE_DATA`|"FileClient" will be deprecated|"HardDiskBackend" is the alias/ {next}
         skip && /^[0-9][0-9]\/[0-9][0-9] [0-9:]+ - / {skip = 0}
         !skip {print; fflush()}'
}
start=$(date +%s)
rm -rf "$WORK_DIR/show" "$WORK_DIR/test"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --no-validate "${@:2}" 2>&1 | quiet
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
CONFIG="$WORK_DIR/$(basename "$CONFIG")"  # the config as trained (with any --cfg-options), dumped by the runner
TASK="$("$PY" tools/analysis/demo_report.py "$WORK_DIR" --config "$CONFIG" --print-task 2>/dev/null | tail -n 1)"
if [ "$TASK" != pretraining ]; then  # self-supervised configs have no test loop: the report draws them itself
    OUT=()
    [ "$TASK" = detection ] && OUT=(--out "$WORK_DIR/test/predictions.pkl")
    "$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" --show-dir "$WORK_DIR/show" "${OUT[@]}" \
        2>&1 | quiet
fi
"$PY" tools/analysis/demo_report.py "$WORK_DIR" --config "$CONFIG" --checkpoint "$CKPT"
echo "demo finished in $(( $(date +%s) - start )) s (training + evaluation); results in $WORK_DIR"
