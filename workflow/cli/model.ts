/** `ddb-faiss model build-default | fetch <repo> | publish <bundle>`. */
import { resolveEndpoints } from '../../local-stack/stack-info.ts';
import { type Command, println, UsageError } from './command.ts';

export const modelCommand: Command = {
  name: 'model',
  summary: 'model bundles: build-default, fetch <huggingface-repo>, publish <bundle>',
  usage:
    'ddb-faiss model build-default [--out DIR] | fetch <owner/name> [--hub-url URL] [--revision R] [--out DIR] | ' +
    'publish <bundle dir or name> [--name NAME]',
  positionals: true,
  options: {
    out: { type: 'string' },
    'hub-url': { type: 'string' },
    revision: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ config, values, positionals }, io) {
    const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
    const { buildDefaultBundle, ensureDefaultBundle } = await import('../../models/default-model/build.ts');
    const { fetchHuggingFaceModel, publishBundle, resolveModel } = await import('../../models/registry.ts');
    const log = (line: string): void => println(io.stderr, line);
    const [action, argument] = positionals;
    const out = values['out'] as string | undefined;
    switch (action) {
      case 'build-default': {
        if (out) await buildDefaultBundle(out, log);
        const dir = out ?? (await ensureDefaultBundle(log));
        println(io.stdout, dir);
        return 0;
      }
      case 'fetch': {
        if (!argument)
          throw new UsageError(
            'model fetch needs a Hugging Face repository id, e.g. sentence-transformers/all-MiniLM-L6-v2',
          );
        const manifest = await fetchHuggingFaceModel(argument, {
          ...(values['hub-url'] ? { baseUrl: String(values['hub-url']) } : {}),
          ...(values['revision'] ? { revision: String(values['revision']) } : {}),
          ...(out ? { outDir: out } : {}),
          log,
        });
        println(
          io.stdout,
          values['json']
            ? JSON.stringify(manifest)
            : `${manifest.name} ${manifest.dimensions} dimensions, checksum ${manifest.checksum}`,
        );
        return 0;
      }
      case 'publish': {
        if (!argument) throw new UsageError('model publish needs a bundle folder or model name');
        const dir = await resolveModel(argument, log);
        const clients = createAwsClients(config, await resolveEndpoints(config));
        try {
          const { key, manifest } = await publishBundle(
            clients.s3,
            config.bucketName,
            config.modelPrefix,
            dir,
            values['name'] as string | undefined,
          );
          println(
            io.stdout,
            values['json']
              ? JSON.stringify({ bucket: config.bucketName, key, checksum: manifest.checksum })
              : `published s3://${config.bucketName}/${key} (checksum ${manifest.checksum})`,
          );
        } finally {
          destroyAwsClients(clients);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown model action "${action ?? ''}"`);
    }
  },
};
