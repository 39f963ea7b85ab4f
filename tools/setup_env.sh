#!/usr/bin/env bash
# Create or reuse the project virtual environment with the whole OpenMMLab stack.
#
#   tools/setup_env.sh            # creates ./.venv (or $MMCONVMAE_VENV) and installs everything
#
# A second run compares a stamp of the requirement files and returns in about a second.
# mmcv 2.1.0 has no wheels on PyPI: its sdist is built here with C++20 (torch >= 2.14 requires it)
# and the wheel is kept in $MMCONVMAE_WHEELHOUSE (default ~/.cache/mmconvmae/wheels) for reuse.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMCONVMAE_VENV:-$ROOT/.venv}"
WHEELHOUSE="${MMCONVMAE_WHEELHOUSE:-$HOME/.cache/mmconvmae/wheels}"
PYTHON="${PYTHON:-python3.11}"
MMCV_VERSION=2.1.0

STAMP_FILE="$VENV/.mmconvmae-stamp"
STAMP="$(cat "$ROOT"/requirements/*.txt "$ROOT/tools/setup_env.sh" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" ]]; then
    exit 0
fi

log() { echo "[setup_env $(date +%H:%M:%S)] $*"; }
start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
log "installing build requirements (torch, setuptools, ninja)"
"${PIP[@]}" install -r "$ROOT/requirements/build.txt"

if ! "$VENV/bin/python" -c "import mmcv, mmcv._ext; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    TORCH_TAG="$("$VENV/bin/python" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
    # CUDA ops are compiled when a GPU is visible or FORCE_CUDA=1 (needs nvcc matching torch's CUDA version)
    OPS="$("$VENV/bin/python" -c 'import os, torch; print("cuda" if torch.cuda.is_available() or os.environ.get("FORCE_CUDA") == "1" else "cpu")')"
    CACHE="$WHEELHOUSE/torch-$TORCH_TAG-$OPS"
    mkdir -p "$CACHE"
    if ! ls "$CACHE"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
        log "building mmcv $MMCV_VERSION with compiled $OPS ops (about 7 minutes on 2 CPU cores)"
        BUILD="$(mktemp -d)"
        "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation \
            -d "$BUILD" "mmcv==$MMCV_VERSION"
        tar -xzf "$BUILD"/mmcv-$MMCV_VERSION.tar.gz -C "$BUILD"
        # torch >= 2.14 headers refuse anything below C++20 (open-mmlab/mmcv#3341).
        sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        (cd "$BUILD/mmcv-$MMCV_VERSION" && CFLAGS="-g0" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$CACHE" .)
        rm -rf "$BUILD"
    fi
    "${PIP[@]}" install --no-deps "$CACHE"/mmcv-$MMCV_VERSION-*.whl
fi

log "installing OpenMMLab packages and test tools"
"${PIP[@]}" install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" "mmcv==$MMCV_VERSION"
log "installing mmconvmae (editable)"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
"$VENV/bin/python" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmseg, mmpretrain, mmengine, torch
import mmpretrain.models  # noqa: F401  (needs a working torchvision)
import mmconvmae
print(f'torch {torch.__version__}  mmcv {mmcv.__version__}  mmengine {mmengine.__version__}  '
      f'mmdet {mmdet.__version__}  mmseg {mmseg.__version__}  mmpretrain {mmpretrain.__version__}')
PY
echo "$STAMP" > "$STAMP_FILE"
log "environment ready in $(( $(date +%s) - start )) s: $VENV"
