#!/usr/bin/env bash
# Builds Debian's own faiss 1.7.3 source with AVX2 (flat search ~7x faster than Debian's
# generic libfaiss.a) and caches the static library. Prints the library's path on success.
# Skipped (exit 1, nothing printed) on CPUs without AVX2, when DDB_FAISS_GENERIC_FAISS=1, or
# when the source cannot be fetched: the caller then links Debian's generic build.
set -euo pipefail

cache="${DDB_FAISS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ddb-faiss}/faiss-1.7.3-avx2"
lib="$cache/libfaiss_avx2.a"
log() { echo "ddb-faiss: $*" >&2; }

[[ "${DDB_FAISS_GENERIC_FAISS:-}" == "1" ]] && exit 1
grep -qw avx2 /proc/cpuinfo || { log "this CPU has no AVX2: using Debian's generic faiss"; exit 1; }
if [[ -f "$lib" ]]; then echo "$lib"; exit 0; fi

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
log "building faiss 1.7.3 (Debian's source) with AVX2, once (~2-3 min; DDB_FAISS_GENERIC_FAISS=1 skips)"
{
  if ! grep -rqs "^Types: deb-src" /etc/apt/sources.list.d/ && ! grep -qs "^deb-src" /etc/apt/sources.list; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | "${sudo[@]}" tee /etc/apt/sources.list.d/ddb-faiss-src.sources >/dev/null
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends dpkg-dev cmake >/dev/null
  (cd "$work" && apt-get source -qq faiss=1.7.3-2)
  src=$(find "$work" -maxdepth 1 -type d -name 'faiss-1.7.3*' | head -1)
  cmake -S "$src" -B "$work/build" -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF -DBUILD_TESTING=OFF \
    -DFAISS_OPT_LEVEL=avx2 -DCMAKE_BUILD_TYPE=Release -DBLA_VENDOR=OpenBLAS
  cmake --build "$work/build" --target faiss_avx2 -j "$(nproc)"
} > "$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; log "the AVX2 build failed: using Debian's generic faiss"; exit 1; }
mkdir -p "$cache"
cp "$work/build/faiss/libfaiss_avx2.a" "$lib.tmp" && mv "$lib.tmp" "$lib"
log "faiss with AVX2 built in $(( $(date +%s) - started )) s"
echo "$lib"
