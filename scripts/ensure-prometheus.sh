#!/usr/bin/env bash
# Makes sure the Prometheus server the metric-analysis tests start is installed: Debian's own `prometheus` package,
# through apt, and nothing downloaded from anywhere else. Idempotent: a machine that already has `prometheus` on PATH
# is left as it is. The package's service is not needed (the tests start their own server on loopback), so it is
# stopped where systemd runs it.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
apt_install prometheus
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $APT_SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v prometheus >/dev/null
