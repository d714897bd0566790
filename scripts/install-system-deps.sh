#!/usr/bin/env bash
# Installs the Debian packages ddb-faiss needs and a fresh machine lacks.
# Idempotent: a package already installed is left alone, and apt is not touched at all
# when nothing is missing. Used by `npm install` (postinstall) and by CI.
#
#   scripts/install-system-deps.sh            # libfaiss-dev, libopenblas-dev (build faiss-node);
#                                             # openjdk-17-jre-headless when no Java 17+ is on the PATH
#                                             # (the local stack's DynamoDB is AWS's DynamoDB Local, a jar)
#   scripts/install-system-deps.sh --browser  # also chromium (browser tests)
set -euo pipefail

packages=(libfaiss-dev libopenblas-dev)
if [[ "${1:-}" == "--browser" ]]; then
  packages+=(chromium)
fi

# Any Java 17 or later will do (Debian's, or one of the user's own on the PATH).
java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -1 |
    awk '{ print ($1 == 1 ? $2 : $1) }'
}
if ! command -v java >/dev/null 2>&1 || [[ "$(java_major)" -lt 17 ]]; then
  packages+=(openjdk-17-jre-headless)
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
# Debian's slim images lack the man folder openjdk's postinst links into.
"${sudo[@]}" mkdir -p /usr/share/man/man1
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
