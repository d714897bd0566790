/**
 * The indexer state machine's name and ARNs in a stack, by name rather than by reference: the
 * functions it calls (the lease, the capture) name it, and a reference would be a cycle.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The indexer state machine's name in its stack. */
export const indexerName = (scope: Construct): string => `${Stack.of(scope).stackName}-indexer`;

const statesArn = (scope: Construct, resource: 'stateMachine' | 'execution', resourceName: string): string =>
  Stack.of(scope).formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

/** The indexer state machine's ARN. */
export const indexerArn = (scope: Construct): string => statesArn(scope, 'stateMachine', indexerName(scope));

/** The ARN of every execution of the indexer state machine. */
export const indexerExecutionsArn = (scope: Construct): string =>
  statesArn(scope, 'execution', `${indexerName(scope)}:*`);

/** The ARN of every child execution of the indexer's Map Runs (`execution:<machine>/<map run label>:<id>`). */
export const indexerMapRunExecutionsArn = (scope: Construct): string =>
  statesArn(scope, 'execution', `${indexerName(scope)}/*:*`);
