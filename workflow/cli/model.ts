/** `ddb-faiss model build-default | fetch <repo> | publish <bundle>`. */
import { resolveEndpoints } from '../endpoints.ts';
import { type Command, JSON_OPTION, println, UsageError } from './command.ts';

export const modelCommand: Command = {
  name: 'model',
  summary: 'model bundles: build-default, fetch <huggingface-repo>, publish <bundle>',
  arguments: 'build-default | fetch <owner/name> | publish <bundle dir or name>',
  options: {
    out: { type: 'string', value: 'DIR', description: 'build-default, fetch: write the bundle into this folder' },
    'hub-url': { type: 'string', value: 'URL', description: 'fetch: the Hugging Face hub (or a mirror) to fetch from' },
    revision: { type: 'string', value: 'R', description: 'fetch: the repository revision (a branch, tag or commit)' },
    name: { type: 'string', value: 'NAME', description: 'publish: the name to publish the bundle under' },
    json: JSON_OPTION,
  },
  settings: ['model', 'bucket'],
  examples: [
    {
      run: 'ddb-faiss model publish default',
      says: 'publish the default model (built on first use) as the active one',
    },
    { run: 'ddb-faiss model build-default --out ./bundle', says: 'build the default model into a folder' },
    { run: 'ddb-faiss model publish ./my-bundle --name mine', says: 'publish a bundle of your own as "mine"' },
  ],
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
