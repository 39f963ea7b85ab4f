# Sourced by the launchers (dist_*.sh, slurm_*.sh) after setting ROOT: PY is the project's Python, so that no
# environment has to be activated: $MMCONVMAE_VENV/bin/python, else $ROOT/.venv/bin/python (what
# tools/setup_env.sh makes), else the python on the PATH.
if [ -n "${MMCONVMAE_VENV:-}" ]; then
    PY="$MMCONVMAE_VENV/bin/python"
    [ -x "$PY" ] || { echo "MMCONVMAE_VENV=$MMCONVMAE_VENV has no bin/python" >&2; exit 1; }
elif [ -x "$ROOT/.venv/bin/python" ]; then
    PY="$ROOT/.venv/bin/python"
else
    PY="$(command -v python3 || command -v python)"
fi
