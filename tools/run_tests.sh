#!/usr/bin/env bash
# Set up (or reuse) the environment, then run the test suite. Extra arguments go to pytest.
#   bash tools/run_tests.sh              # the default suite (what CI runs)
#   bash tools/run_tests.sh -m slow      # only the slow tests
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
VENV="${MMCONVMAE_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/ruff" check --quiet .   # lint (ruff.toml); a finding fails the run before any test
exec "$VENV/bin/python" -m pytest "$@"
