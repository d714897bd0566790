/** Starts a local stack on free ports in a fresh temporary data directory. */
import { after, before } from 'node:test';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { freePortConfig, tempDir } from './scratch.ts';
import { type LocalStack, type LocalStackProps, startLocalStack } from '../../local-stack/stack.ts';

export { FREE_PORT_FLAGS, FREE_PORTS, tempDir } from './scratch.ts';

/**
 * A test stack's configuration: on free ports, and in flags mode unless the test asks for stream
 * mode, so that what a test writes is indexed by the runs it starts and by no captured run.
 */
export const testConfig = (dataDir: string, flags: Record<string, string> = {}) =>
  freePortConfig(dataDir, { 'change-capture': 'flags', ...flags });

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
export function useTestStack(props: Parameters<typeof startTestStack>[1] = {}): {
  readonly stack: LocalStack;
  readonly dataDir: string;
} {
  const used = useForDescribe('test stack', (dataDir) => startTestStack(dataDir, props));
  return {
    get stack(): LocalStack {
      return used.get();
    },
    dataDir: used.dataDir,
  };
}

/**
 * Something started in a fresh folder before a `describe` block's tests (`start`), closed and its
 * folder removed after them; `get` reads it inside a test.
 */
export function useForDescribe<T extends { close(): Promise<void> }>(
  what: string,
  start: (dataDir: string) => Promise<T>,
): { readonly get: () => T; readonly dataDir: string } {
  const dir = tempDir();
  let started: T | undefined;
  before(async () => {
    started = await start(dir.path);
  });
  after(async () => {
    await started?.close();
    dir.remove();
  });
  return {
    get: () => {
      if (!started) throw new Error(`the ${what} starts in before(): use it inside a test`);
      return started;
    },
    dataDir: dir.path,
  };
}

/** How many items a group holds in the stack's table (a consistent count). */
export async function groupItemCount(stack: LocalStack, group: string): Promise<number> {
  const { Count } = await stack.clients.dynamodb.send(
    new QueryCommand({
      TableName: stack.config.tableName,
      KeyConditionExpression: '#g = :g',
      ExpressionAttributeNames: { '#g': stack.config.groupAttribute },
      ExpressionAttributeValues: { ':g': { S: group } },
      Select: 'COUNT',
      ConsistentRead: true,
    }),
  );
  return Count ?? 0;
}
