# Sourced by the ensure-*.sh scripts: `apt_install <package>` installs Debian's own package through apt (as root, or
# with sudo) and nothing from anywhere else; it exits with a message saying what to do where it cannot. $APT_SUDO is
# left set ("sudo" or empty) for what the caller does as root after it.
apt_install() {
  local pkg=$1 me
  me=$(basename "$0" .sh)
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$me: no $pkg on PATH and no apt-get here; install your distribution's $pkg package" >&2
    exit 1
  fi
  APT_SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "$me: installing $pkg needs root (or sudo): apt-get install -y $pkg" >&2
      exit 1
    fi
    APT_SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $APT_SUDO apt-get update -qq
  $APT_SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}
