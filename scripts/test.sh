#!/usr/bin/env bash
# Install (if needed) and run the whole test suite. Tests start their own virtual sound server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export QT_QPA_PLATFORM=offscreen
# A test stuck for 5 minutes has every thread's stack dumped into the log (it keeps running).
exec .venv/bin/python -m pytest -q -p no:cacheprovider -o faulthandler_timeout=300 "$@"
