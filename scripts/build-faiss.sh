#!/usr/bin/env bash
# Builds faiss 1.7.3 (Debian's source, fetched and checked by scripts/faiss-source.sh) as a
# static library and caches it with its headers (include/faiss/ beside it); prints the
# library's path. The same build serves `npm ci` here
# and the Lambda image (infra/lambda-image/Dockerfile):
#
#   scripts/build-faiss.sh            # here: with AVX2 (flat search ~7x faster than Debian's
#                                     # generic libfaiss.a); exit 1, nothing printed, on CPUs
#                                     # without AVX2, with DDB_FAISS_GENERIC_FAISS=1, or when the
#                                     # source cannot be fetched: the caller links Debian's build
#   scripts/build-faiss.sh --lambda   # the Lambda image: AVX2 on x86_64 (every Lambda x86_64
#                                     # CPU has it), generic on arm64 (NEON is baseline there)
set -euo pipefail

log() { echo "ddb-faiss: $*" >&2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lambda=false
[[ "${1:-}" == "--lambda" ]] && lambda=true

if $lambda; then
  case "$(uname -m)" in
    x86_64) level=avx2 ;;
    aarch64) level=generic ;;
    *) log "no Lambda architecture is $(uname -m)"; exit 1 ;;
  esac
else
  [[ "${DDB_FAISS_GENERIC_FAISS:-}" == "1" ]] && exit 1
  grep -qw avx2 /proc/cpuinfo || { log "this CPU has no AVX2: using Debian's generic faiss"; exit 1; }
  level=avx2
fi
target=$([[ $level == avx2 ]] && echo faiss_avx2 || echo faiss)
cache="${DDB_FAISS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ddb-faiss}/faiss-1.7.3-$level"
lib="$cache/lib$target.a"
if [[ -f "$lib" ]]; then echo "$lib"; exit 0; fi
rm -rf "$cache/include"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
log "building faiss 1.7.3 (Debian's source) for $level, once (~2-3 min; DDB_FAISS_GENERIC_FAISS=1 skips)"
{
  if ! $lambda && ! { command -v cmake && command -v patch; } >/dev/null; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends cmake patch >/dev/null
  fi
  src=$(bash "$here/faiss-source.sh" "$work/source")
  cmake -S "$src" -B "$work/build" -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF -DBUILD_TESTING=OFF \
    -DFAISS_OPT_LEVEL="$level" -DCMAKE_BUILD_TYPE=Release -DBLA_VENDOR=OpenBLAS
  cmake --build "$work/build" --target "$target" -j "$(nproc)"
} > "$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; log "the faiss build failed"; exit 1; }
mkdir -p "$cache"
(cd "$src" && find faiss -name '*.h' -exec install -D -m 0644 {} "$cache/include/{}" \;)
cp "$work/build/faiss/lib$target.a" "$lib.tmp" && mv "$lib.tmp" "$lib"
log "faiss ($level) built in $(( $(date +%s) - started )) s"
echo "$lib"
