#!/usr/bin/env bash
# The Lambda image's native modules, built the way `npm ci` builds them here: faiss 1.7.3 from
# Debian's source checked by SHA-256 (scripts/build-faiss.sh --lambda: AVX2 on x86_64, generic
# on arm64), faiss-node compiled against it with C++ exceptions (scripts/faiss-node-binding.js,
# the code scripts/postinstall.js runs), and onnxruntime-node's prebuilt Linux binary, all at
# the project lockfile's versions and integrity (package.json and package-lock.json from
# infra/native-packages.ts) with no install scripts: faiss-node's would fetch a faiss of its
# own, onnxruntime-node's the CUDA add-on. Then what the image never loads is pruned and both
# modules are loaded once.
#
#   bash build-native.sh DIR   # DIR holds scripts/, prune-native.js, package.json, package-lock.json
set -euo pipefail
cd "${1:-.}"
lib=$(DDB_FAISS_CACHE_DIR="$PWD/cache" bash scripts/build-faiss.sh --lambda)
npm ci --ignore-scripts --no-audit --no-fund
node scripts/faiss-node-binding.js "$lib"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
esac
node prune-native.js node_modules "$arch"
node -e "
const faiss = require('faiss-node');
const index = new faiss.IndexFlatIP(2);
index.add([1, 0, 0, 1]);
if (index.search([1, 0], 1).labels[0] !== 0) throw new Error('faiss-node answers wrongly');
require('onnxruntime-node');
console.log('faiss-node and onnxruntime-node load');
"
