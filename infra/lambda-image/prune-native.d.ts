/** Whether a path under node_modules (relative, with `/`) stays in the image built for `arch`. */
export function keptInImage(relative: string, arch: 'x64' | 'arm64'): boolean;
/** Removes from `nodeModules` what {@link keptInImage} does not keep; returns the paths removed. */
export function pruneNative(nodeModules: string, arch: 'x64' | 'arm64'): string[];
