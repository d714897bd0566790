/** Starts a local stack on free ports in a fresh temporary data directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { type DdbFaissConfig, loadConfig } from '../../config/config.ts';
import { type LocalStack, type LocalStackProps, startLocalStack } from '../../local-stack/stack.ts';

export const FREE_PORTS = { 'dynamodb-port': '0', 's3-port': '0', 'sfn-port': '0', 'http-port': '0' } as const;

export function tempDir(prefix = 'ddb-faiss-test-'): { path: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testConfig(dataDir: string, flags: Record<string, string> = {}): DdbFaissConfig {
  return loadConfig({ flags: { ...FREE_PORTS, 'data-dir': dataDir, ...flags }, env: {} });
}

export async function startTestStack(
  dataDir: string,
  props: Partial<Omit<LocalStackProps, 'config'>> & { flags?: Record<string, string> } = {},
): Promise<LocalStack> {
  const { flags, ...rest } = props;
  return startLocalStack({ handlers: new Map(), ...rest, config: testConfig(dataDir, flags) });
}

/**
 * A local stack for one `describe` block, on free ports in a fresh folder: started before its
 * tests, closed and its folder removed after them.
 */
export function useTestStack(props: Parameters<typeof startTestStack>[1] = {}): { readonly stack: LocalStack; readonly dataDir: string } {
  const dir = tempDir();
  let stack: LocalStack | undefined;
  before(async () => {
    stack = await startTestStack(dir.path, props);
  });
  after(async () => {
    await stack?.close();
    dir.remove();
  });
  return {
    get stack(): LocalStack {
      if (!stack) throw new Error('the test stack starts in before(): use it inside a test');
      return stack;
    },
    dataDir: dir.path,
  };
}
