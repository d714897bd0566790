/**
 * What `ddb-faiss deploy` needs before it hands over to the CDK CLI, checked at once so that a
 * missing piece is named with how to get it instead of failing minutes into a deploy:
 * AWS credentials (the SDK's default chain, as `cdk deploy` uses it) and a running Docker
 * engine (the functions ship as one container image).
 *
 * @example
 * ```ts
 * const missing = await deployPreflight({ region: config.region });
 * if (missing.length) console.error(missing.join('\n'));
 * ```
 */
import { spawnSync } from 'node:child_process';
import { SFNClient } from '@aws-sdk/client-sfn';
import { sdkClient } from '../aws/clients.ts';

/** Options of {@link deployPreflight}. */
export interface DeployPreflightProps {
  /** The region deployed to. */
  readonly region: string;
  /** The Docker CLI. @default 'docker' */
  readonly docker?: string;
}

/** Each missing piece, with how to get it; empty when the deploy can start. */
export async function deployPreflight(props: DeployPreflightProps): Promise<string[]> {
  const missing: string[] = [];
  const client = sdkClient(new SFNClient({ region: props.region }));
  try {
    await client.config.credentials();
  } catch (error) {
    missing.push(
      `AWS credentials: none found (${(error as Error).message}). Sign in the way the AWS CLI does: ` +
        '`aws configure` or `aws sso login` (then AWS_PROFILE=<profile>), or set AWS_ACCESS_KEY_ID and ' +
        'AWS_SECRET_ACCESS_KEY.',
    );
  } finally {
    client.destroy();
  }
  const docker = spawnSync(props.docker ?? 'docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (docker.error) {
    missing.push(
      'Docker: not installed. The functions are built as one container image: install Docker ' +
        '(https://docs.docker.com/engine/install/) and start it.',
    );
  } else if (docker.status !== 0) {
    const reason = (docker.stderr || docker.stdout).trim().split('\n').at(-1) ?? '';
    missing.push(
      `Docker: the engine is not reachable (docker info: ${reason}). Start it (\`sudo systemctl start docker\`, ` +
        'or Docker Desktop), or point DOCKER_HOST at one.',
    );
  }
  return missing;
}
