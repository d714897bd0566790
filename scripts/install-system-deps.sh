#!/usr/bin/env bash
# Installs the Debian packages ddb-faiss needs and a fresh machine lacks.
# Idempotent: a package already installed is left alone, and apt is not touched at all
# when nothing is missing. Used by `npm install` (postinstall) and by CI.
#
#   scripts/install-system-deps.sh            # libfaiss-dev, libopenblas-dev (build faiss-node)
#   scripts/install-system-deps.sh --browser  # also chromium (browser tests)
set -euo pipefail

packages=(libfaiss-dev libopenblas-dev)
if [[ "${1:-}" == "--browser" ]]; then
  packages+=(chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo -n)
else
  echo "ddb-faiss: missing Debian packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "ddb-faiss: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
