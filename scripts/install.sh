#!/usr/bin/env bash
# Installs everything Kaytoo needs on a fresh Debian/Ubuntu machine: system packages, .venv, pip.
# Idempotent and quick when nothing changed (a stamp records what was installed).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv espeak-ng ffmpeg libportaudio2 libsndfile1
  pulseaudio pulseaudio-utils libasound2-plugins          # virtual sound devices for tests/headless
  xvfb imagemagick fonts-dejavu-core libxtst6             # a real window without a screen (XTest: hotkey tests)
  libegl1 libgl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libdbus-1-3 libfontconfig1
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "kaytoo: installing system packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
if [ "$(cat .venv/.kaytoo-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "kaytoo: installing Python packages into .venv (first time: several minutes)" >&2
  log=.venv/pip-install.log
  pip() { .venv/bin/python -m pip install -q "$@" >>"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }; }
  pip --upgrade pip
  # torch, torchaudio and torchcodec first, as one consistent set (see pyproject.toml).
  pip torch==2.9.1 'torchaudio==2.9.*' 'torchcodec==0.8.*'
  pip -e '.[test]'
  echo "$stamp" > .venv/.kaytoo-stamp
fi
