/**
 * The stack `ddb-faiss deploy` deploys: the {@link DdbFaiss} construct and the outputs the CLI reads
 * (`--target aws` takes the state machine, API, bucket, table and failure queue from them).
 * Environment-agnostic: account and region come from the deploy environment.
 *
 * The construct's id is `Default`, which the CDK leaves out of logical IDs: the resources keep the
 * IDs they had when the stack built them itself, so stacks deployed before update in place.
 *
 * @example
 * ```ts
 * new DdbFaissStack(app, 'DdbFaiss', {
 *   scheduleMinutes: 30,
 *   settings: { batchSize: 250, indexLayout: 'per-group' },
 *   existingTableName: 'my-items', // optional: it must have the sparse GSI
 * });
 * ```
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DdbFaiss, type DdbFaissProps } from './ddb-faiss.ts';

export {
  DdbFaiss,
  type DdbFaissProps,
  DdbFaissPropsError,
  DEFAULT_SCHEDULE_MINUTES,
  LAMBDA_ARCHITECTURES,
  type LambdaArchitecture,
  validateProps,
} from './ddb-faiss.ts';

/** Properties of {@link DdbFaissStack}: the construct's and the stack's own. */
export interface DdbFaissStackProps extends StackProps, DdbFaissProps {}

/** Whom the search API answers, as the `ApiAuthorization` output describes it. */
const CALLERS = {
  iam: () => 'callers of the search API sign their requests with SigV4 (IAM: execute-api:Invoke)',
  jwt: (issuer: string | undefined) => `callers of the search API send a JWT from ${issuer ?? ''}`,
  none: () => 'PUBLIC: the search API takes no authorization; anyone with its URL reads the hits',
} as const;

/** The construct in a stack of its own, with the outputs `ddb-faiss deploy` records. */
export class DdbFaissStack extends Stack {
  readonly ddbFaiss: DdbFaiss;

  constructor(scope: Construct, id: string, props: DdbFaissStackProps = {}) {
    super(scope, id, props);
    const system = new DdbFaiss(this, 'Default', props);
    this.ddbFaiss = system;
    const { apiAuthorization, jwtIssuer } = system.settings;
    new CfnOutput(this, 'StateMachineArn', { value: system.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ApiUrl', { value: system.api.apiEndpoint });
    new CfnOutput(this, 'ApiAuthorization', {
      value: apiAuthorization,
      description: CALLERS[apiAuthorization](jwtIssuer),
    });
    new CfnOutput(this, 'BucketName', { value: system.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: system.table.tableName });
    new CfnOutput(this, 'FileSystemId', { value: system.fileSystem.fileSystemId });
    if (system.captureFailures)
      new CfnOutput(this, 'CaptureFailureQueueUrl', {
        value: system.captureFailures.queueUrl,
        description: 'stream records the capture step could not take: `ddb-faiss capture redrive` tries them again',
      });
  }
}
