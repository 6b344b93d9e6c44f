#!/usr/bin/env bash
# Install (if needed) and start Kaytoo. Without a display, run the headless demo turn instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/kaytoo gui "$@"
fi
echo "kaytoo: no display found; running the headless demo turn (question: assets/demo/what-time-is-it.wav)" >&2
exec .venv/bin/kaytoo turn --in assets/demo/what-time-is-it.wav --out kaytoo-demo-reply.wav "$@"
