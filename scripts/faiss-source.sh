#!/usr/bin/env bash
# Fetches the faiss source ddb-faiss builds, everywhere (`npm ci` here, the Lambda image):
# Debian's faiss 1.7.3-2, that is upstream's 1.7.3 tarball plus Debian's patches, each file
# checked against the SHA-256 of Debian's source package (faiss_1.7.3-2.dsc). Unpacks it into
# DEST, applies the patches in Debian's order, and prints the source folder.
#
#   scripts/faiss-source.sh DEST
set -euo pipefail

dest="${1:?usage: faiss-source.sh DEST}"
pool="${DDB_FAISS_DEBIAN_MIRROR:-https://deb.debian.org/debian}/pool/main/f/faiss"
# name sha256 (from faiss_1.7.3-2.dsc, Checksums-Sha256)
files=(
  "faiss_1.7.3.orig.tar.gz 3e4fac26d8c9e9008ecea4ae5fc414c658998fce4ba75835058b1a71d3516002"
  "faiss_1.7.3-2.debian.tar.xz a351977533afa5575b21de74a58cacb66d846006b1ef971bed85e01e66eb7f94"
)

mkdir -p "$dest"
for entry in "${files[@]}"; do
  read -r name sum <<<"$entry"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$dest/$name" "$pool/$name"
  else
    wget -q -O "$dest/$name" "$pool/$name"
  fi
  echo "$sum  $dest/$name" | sha256sum -c --quiet - || {
    echo "ddb-faiss: $name does not match its pinned SHA-256" >&2
    exit 1
  }
done
tar -xzf "$dest/faiss_1.7.3.orig.tar.gz" -C "$dest"
src="$dest/faiss-1.7.3"
tar -xJf "$dest/faiss_1.7.3-2.debian.tar.xz" -C "$src"
while read -r patch; do
  [[ -z "$patch" || "$patch" == \#* ]] && continue
  patch -d "$src" -p1 --quiet --forward < "$src/debian/patches/$patch"
done < "$src/debian/patches/series"
echo "$src"
