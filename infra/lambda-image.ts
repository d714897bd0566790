/**
 * The functions' container image. Its build context is made by the CDK's asset bundling, into the
 * cloud assembly (never into the checkout): the esbuild bundle of the handlers (`bundle.ts`), the
 * native packages' manifest and lockfile (`native-packages.ts`), and the files the Dockerfile copies,
 * at the paths the Dockerfile names. A stack the CDK leaves out of bundling (`cdk deploy
 * --exclusively` of another stack, or the `aws:cdk:bundling-stacks` context) skips it.
 *
 * @example
 * ```ts
 * const image = lambdaImage(this, 'x86_64');
 * new lambda.DockerImageFunction(this, 'Search', { code: image('search') });
 * ```
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AssetHashType, AssetStaging, DockerImage } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { PROJECT_ROOT } from '../config/project.ts';
import { bundleLambdas } from './bundle.ts';
import { writeNativePackages } from './native-packages.ts';

/** The processors the Lambda image is built for. */
export const LAMBDA_ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type LambdaArchitecture = (typeof LAMBDA_ARCHITECTURES)[number];

/** The Dockerfile, relative to the build context (which mirrors the repository's layout). */
export const DOCKERFILE = 'infra/lambda-image/Dockerfile';
/** What the build writes into the context rather than copying from the checkout. */
const GENERATED = { bundle: 'infra/lambda-image/dist', nativePackages: 'infra/lambda-image/native' } as const;

/** The checkout's files the Dockerfile copies: the sources of its `COPY` lines that are not generated. */
export function copiedSources(dockerfile = readFileSync(path.join(PROJECT_ROOT, DOCKERFILE), 'utf8')): string[] {
  const generated = Object.values(GENERATED).map((dir) => `${dir}/`);
  return dockerfile
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([instruction, first]) => instruction === 'COPY' && !first?.startsWith('--from'))
    .flatMap((words) => words.slice(1, -1))
    .filter((source) => !generated.includes(source));
}

/**
 * Writes the image's build context into `dir`: the Dockerfile, the files it copies, the handlers'
 * bundle and the native packages' manifest and lockfile. @returns the bundle's size in bytes
 */
export function stageImageContext(dir: string): number {
  for (const source of [DOCKERFILE, ...copiedSources()]) {
    mkdirSync(path.dirname(path.join(dir, source)), { recursive: true });
    copyFileSync(path.join(PROJECT_ROOT, source), path.join(dir, source));
  }
  writeNativePackages(path.join(dir, GENERATED.nativePackages));
  return bundleLambdas(path.join(dir, GENERATED.bundle, 'lambda.mjs')).bytes;
}

/**
 * The image, one per scope and architecture; each function selects its handler with `CMD`.
 * @returns a function giving the code of the function that runs `handler`
 */
export function lambdaImage(
  scope: Construct,
  architecture: LambdaArchitecture,
): (handler: string) => lambda.DockerImageCode {
  const context = new AssetStaging(scope, 'LambdaImageContext', {
    // Skipped bundling stages the checkout itself, where the Dockerfile sits at the same path.
    sourcePath: PROJECT_ROOT,
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('unused'), // local bundling always succeeds: no Docker at synth
      local: {
        tryBundle(outputDir: string): boolean {
          stageImageContext(outputDir);
          return true;
        },
      },
    },
  });
  return (handler) =>
    lambda.DockerImageCode.fromImageAsset(context.absoluteStagedPath, {
      file: DOCKERFILE,
      cmd: [`lambda.${handler}`],
      platform: architecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      exclude: ['node_modules', '.git', '.ddb-faiss', 'cdk.out', '.cache', 'bench/results.json', 'test-artifacts'],
    });
}
