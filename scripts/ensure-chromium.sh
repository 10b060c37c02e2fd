#!/usr/bin/env bash
# Makes sure the browser the codec-UI test drives is installed: Debian's own `chromium` package, through apt, and
# nothing downloaded from anywhere else (the test drives it with playwright-core, which fetches no browser). Idempotent:
# a machine that already has `chromium` on PATH is left as it is, so CI pays for the install once per image.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no chromium on PATH and no apt-get here; install your distribution's chromium package" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-chromium: installing chromium needs root (or sudo): apt-get install -y chromium" >&2
    exit 1
  fi
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
