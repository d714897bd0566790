/**
 * A bench's own local stack on free ports, with the default model published, copied to EFS by
 * the real bootstrap stage, and loaded: what the search and scale benches start from.
 */
import path from 'node:path';
import { loadEmbedder } from '../embedding/runtime.ts';
import { bootstrapModel } from '../indexer/bootstrap.ts';
import { startLocalStack } from '../local-stack/stack.ts';
import { freePortConfig, tempDir } from '../local-stack/scratch.ts';
import { ensureModelPublished, localStackProps } from '../workflow/local-stack-props.ts';

/** Starts the stack in a temporary folder; `close` stops it and removes the folder. */
export async function startBenchStack(prefix: string) {
  const dir = tempDir(prefix);
  const config = freePortConfig(dir.path);
  const stack = await startLocalStack(localStackProps(config));
  const close = async (): Promise<void> => {
    await stack.close();
    dir.remove();
  };
  try {
    await ensureModelPublished(stack.clients.s3, config);
    const context = { config, clients: stack.clients };
    const model = await bootstrapModel(context);
    const embedder = await loadEmbedder(path.join(config.efsRoot, model.dir));
    return { dir: dir.path, config, stack, context, model, embedder, close };
  } catch (error) {
    await close();
    throw error;
  }
}
