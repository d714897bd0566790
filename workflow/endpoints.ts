/**
 * Where the AWS services are for the configured target: a deployed stack's come from the settings
 * (the SDK's defaults where they are unset); the local stack's from what its `ddb-faiss up` wrote
 * (`local-stack/stack-info.ts`), loaded only for the local target, so a command run against AWS never
 * loads the emulator. Explicit endpoint settings win over both.
 *
 * @example
 * ```ts
 * const clients = createAwsClients(config, await resolveEndpoints(config));
 * ```
 */
import type { ServiceEndpoints } from '../aws/clients.ts';
import type { DdbFaissConfig } from '../config/config.ts';

/** Resolves the endpoints for the configured target. @throws {LocalStackNotRunningError} when none is up locally */
export async function resolveEndpoints(config: DdbFaissConfig): Promise<ServiceEndpoints> {
  if (config.target === 'aws') {
    return {
      dynamodb: config.dynamodbEndpoint,
      s3: config.s3Endpoint,
      stepFunctions: config.stepFunctionsEndpoint,
      http: config.searchUrl,
    };
  }
  const explicit = config.dynamodbEndpoint && config.s3Endpoint && config.stepFunctionsEndpoint;
  const { runningStackInfo } = await import('../local-stack/stack-info.ts');
  const info = explicit ? undefined : await runningStackInfo(config);
  return {
    dynamodb: config.dynamodbEndpoint ?? info?.endpoints.dynamodb,
    s3: config.s3Endpoint ?? info?.endpoints.s3,
    stepFunctions: config.stepFunctionsEndpoint ?? info?.endpoints.stepFunctions,
    http: info?.endpoints.http,
  };
}
