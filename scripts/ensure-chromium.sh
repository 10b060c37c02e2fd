#!/usr/bin/env bash
# Makes sure the browser the codec-UI test drives is installed: Debian's own `chromium` package, through apt, and
# nothing downloaded from anywhere else (the test drives it with playwright-core, which fetches no browser). Idempotent:
# a machine that already has `chromium` on PATH is left as it is, so CI pays for the install once per image.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
apt_install chromium
command -v chromium >/dev/null
