/**
 * `ddb-faiss monitor`: serves the monitor page on 127.0.0.1 for any target. `up` already
 * serves it for the local stack; this is how to watch a deployed stack (`--target aws`):
 * the page's API reads through the AWS SDK, and `/search` is forwarded to the deployed API.
 */
import { createServer } from 'node:http';
import { resolveEndpoints } from '../endpoints.ts';
import { foreignHost, sendJson } from '../../local-http/guard.ts';
import { closeServer, listenLocal } from '../../local-http/listen.ts';
import { type Command, println, waitForShutdownSignal } from './command.ts';
import { SEARCH_ROUTES } from '../../tasks/search-routes.ts';

export const monitorCommand: Command = {
  name: 'monitor',
  summary: 'serve the live monitor page for the target (e.g. a deployed stack) on 127.0.0.1',
  settings: ['target', 'http-port'],
  examples: [{ run: 'ddb-faiss monitor --target aws', says: 'watch the deployed stack at http://127.0.0.1:8603/' }],
  async run({ config }, io) {
    const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
    const { resolveStateMachineArn } = await import('../indexer-client.ts');
    const { monitorApi } = await import('../monitor/api.ts');
    const { metricsSourceFor } = await import('../monitor/metrics-source.ts');
    const { callSearchApi } = await import('../search-api-client.ts');
    const endpoints = await resolveEndpoints(config);
    const clients = createAwsClients(config, endpoints);
    const stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions);
    const api = monitorApi({
      config,
      clients,
      stateMachineArn: () => stateMachineArn,
      metrics: metricsSourceFor(config),
    });
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      if (!(SEARCH_ROUTES as readonly string[]).includes(path) || !endpoints.http) {
        api(request, response);
        return;
      }
      const refused = foreignHost(request);
      if (refused) {
        sendJson(request, response, 403, { message: refused });
        return;
      }
      // The monitor's search box, proxied server-side: signed (or with the token) as the API requires.
      void callSearchApi(config, `${endpoints.http}${request.url}`, { method: 'GET' }).then(
        async (answer) =>
          response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()),
        (error: Error) =>
          response
            .writeHead(502, { 'content-type': 'application/json' })
            .end(JSON.stringify({ message: error.message })),
      );
    });
    const port = await listenLocal(server, config.httpPort, 'the monitor', 'http-port');
    println(io.stdout, `monitor of ${stateMachineArn} at http://127.0.0.1:${port}/`);
    const signal = await waitForShutdownSignal();
    println(io.stdout, `${signal}: stopping`);
    await closeServer(server);
    destroyAwsClients(clients);
    return 0;
  },
};
