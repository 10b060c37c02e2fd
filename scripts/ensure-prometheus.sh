#!/usr/bin/env bash
# Makes sure the Prometheus server the metric-analysis tests start is installed: Debian's own `prometheus` package,
# through apt, and nothing downloaded from anywhere else. Idempotent: a machine that already has `prometheus` on PATH
# is left as it is. The package's service is not needed (the tests start their own server on loopback), so it is
# stopped where systemd runs it.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-prometheus: no prometheus on PATH and no apt-get here; install your distribution's prometheus package" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-prometheus: installing prometheus needs root (or sudo): apt-get install -y prometheus" >&2
    exit 1
  fi
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v prometheus >/dev/null
