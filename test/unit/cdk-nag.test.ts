/**
 * AWS best practices (cdk-nag's AwsSolutions rules) over the synthesized stack: no finding
 * stays unaddressed. Each one left is acknowledged in infra/nag.ts with its evidence;
 * a new finding fails synthesis and this test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DdbFaissStack, type DdbFaissStackProps } from '../../infra/stack.ts';

/** Synthesizes the stack under AwsSolutionsChecks; the error names every open finding. */
function synthWithNag(props: DdbFaissStackProps, outdir: string): void {
  const app = new App({ outdir });
  new DdbFaissStack(app, 'Nag', { dataRemovalPolicy: RemovalPolicy.DESTROY, ...props });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
}

describe('cdk-nag AwsSolutions checks', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-nag-'));
  after(() => rmSync(outdir, { recursive: true, force: true }));

  for (const [name, props] of [
    ['the default stack (stream mode: the capture function, its event source mapping and failure queue)', {}],
    [
      'with tracing, a per-group layout, a model prefix of its own, an existing table and warm search instances',
      {
        tracing: true,
        searchProvisionedConcurrency: 2,
        existingTableName: 'my-items',
        settings: { indexLayout: 'per-group' as const, modelPrefix: 'bundles/', changeCapture: 'flags' as const },
      },
    ],
    ['in flags mode (no stream, no capture function)', { settings: { changeCapture: 'flags' as const } }],
    [
      'in stream mode over an existing table',
      {
        existingTableName: 'my-items',
        existingTableStreamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/my-items/stream/2026-12-06T00:00:00.000',
        settings: { changeCapture: 'stream' as const },
      },
    ],
  ] as const) {
    it(`leave no unacknowledged finding: ${name}`, () => {
      // Act and assess: synthesis fails with a validation report on any open finding
      assert.doesNotThrow(() => synthWithNag(props, path.join(outdir, name.replace(/\W+/g, '-'))));
    });
  }

  it('passes the API Gateway rules without acknowledging any, unless the API is made public', () => {
    // Prepare: the rules a stack acknowledges, as the construct metadata records them
    const acknowledged = (props: DdbFaissStackProps): string[] => {
      const app = new App({ outdir: path.join(outdir, 'acknowledged') });
      const stack = new DdbFaissStack(app, 'Nag', { dataRemovalPolicy: RemovalPolicy.DESTROY, ...props });
      return stack.node
        .findAll()
        .flatMap((construct) => construct.node.metadata)
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.keys(entry.data as Record<string, string>));
    };
    // Act
    const signed = acknowledged({});
    const open = acknowledged({ settings: { apiAuthorization: 'none' } });
    // Assess
    assert.ok(signed.length > 0, 'the stack acknowledges other findings');
    assert.deepEqual(
      signed.filter((rule) => rule.includes('APIG')),
      [],
    );
    assert.deepEqual(
      open.filter((rule) => rule.includes('APIG')),
      ['AwsSolutions::AwsSolutions-APIG4'],
    );
  });
});
