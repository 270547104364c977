#!/usr/bin/env bash
# Headless Chromium for the web app's browser tests (`make test`): installs
# Debian's chromium package when it is missing, then prints its path.
set -euo pipefail

log() { printf 'chromium.sh: %s\n' "$*" >&2; }

if ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian's chromium"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "not root and no sudo: install chromium yourself"; exit 1; }
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v chromium
