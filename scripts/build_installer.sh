#!/usr/bin/env bash
# Builds the packaged app with PyInstaller (one folder: dist/kaytoo/) and a Debian package from it
# (dist/kaytoo_<version>_<arch>.deb). Linux only here; the spec also builds on Windows and macOS
# runners (see docs/installer.md). Needs dpkg-deb (Debian/Ubuntu) for the .deb step.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v dpkg-deb >/dev/null || { echo "build_installer: dpkg-deb is missing (Debian/Ubuntu only)" >&2; exit 1; }
bash scripts/install.sh                                  # system packages and .venv (quick when done)
.venv/bin/python -m pip install -q -e '.[build]'          # pyinstaller, imageio-ffmpeg

start=$(date +%s)
.venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installers/kaytoo.spec
built=$(date +%s)

# A quick look before packaging: the frozen app must find its bundled models (no network used).
check_home=$(mktemp -d)
trap 'rm -rf "$check_home"' EXIT
KAYTOO_HOME="$check_home" dist/kaytoo/kaytoo models list --json \
  | .venv/bin/python -c 'import json,sys; m={x["name"]: x for x in json.load(sys.stdin)["models"]}; assert m["tiny.en"]["bundled"], "tiny.en not bundled"'

# The XTTS ONNX graphs (no weights) and onnx (the INT8 quantizer at conversion) must be in the bundle.
for f in gpt.onnx hifigan.onnx speaker.onnx conditioning.onnx manifest.json reference.npz; do
  test -f "dist/kaytoo/_internal/app/engines/xtts_onnx/graphs/$f" || { echo "XTTS graph $f not bundled" >&2; exit 1; }
done
test -d dist/kaytoo/_internal/onnx || { echo "onnx not bundled (XTTS INT8 conversion needs it)" >&2; exit 1; }

deb=$(.venv/bin/python installers/make_deb.py --app dist/kaytoo --out dist)
done_at=$(date +%s)
echo "build_installer: app dist/kaytoo/ ($(du -sh dist/kaytoo | cut -f1), PyInstaller $((built - start)) s)"
echo "build_installer: package $deb ($(du -h "$deb" | cut -f1), $((done_at - start)) s in all)"
