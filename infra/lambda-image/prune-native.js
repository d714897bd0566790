// What the Lambda image keeps of the native packages it installs: everything but
// onnxruntime-node's binaries for other platforms (about 245 MB of the package's 288 MB).
// The Dockerfile runs it on the image's node_modules, and the image layout test builds its
// copy with the same rule.
//
//   node prune-native.js /build/node_modules x64|arm64
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ONNX_BINARIES = 'onnxruntime-node/bin/napi-v6';

/**
 * Whether a file or folder under node_modules (its path relative to node_modules, with `/`)
 * stays in the image built for `arch` (`x64` or `arm64`).
 * @param {string} relative
 * @param {'x64' | 'arm64'} arch
 */
export function keptInImage(relative, arch) {
  if (!relative.startsWith(`${ONNX_BINARIES}/`)) return true;
  const [platform, cpu] = relative.slice(ONNX_BINARIES.length + 1).split('/');
  return platform === 'linux' && (cpu === undefined || cpu === arch);
}

/**
 * Removes what {@link keptInImage} does not keep. Returns the paths removed.
 * @param {string} nodeModules
 * @param {'x64' | 'arm64'} arch
 */
export function pruneNative(nodeModules, arch) {
  const removed = [];
  const root = path.join(nodeModules, ONNX_BINARIES);
  for (const platform of readdirSync(root)) {
    for (const cpu of readdirSync(path.join(root, platform))) {
      const relative = `${ONNX_BINARIES}/${platform}/${cpu}`;
      if (keptInImage(relative, arch)) continue;
      rmSync(path.join(nodeModules, relative), { recursive: true, force: true });
      removed.push(relative);
    }
  }
  return removed;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [nodeModules, arch] = process.argv.slice(2);
  if (!nodeModules || (arch !== 'x64' && arch !== 'arm64')) {
    console.error('usage: node prune-native.js <node_modules> x64|arm64');
    process.exit(2);
  }
  for (const removed of pruneNative(nodeModules, arch)) console.log(`removed ${removed}`);
}
