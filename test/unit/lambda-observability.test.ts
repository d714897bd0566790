/**
 * The Lambda handlers' observability: Powertools Tracer comes only with tracing on (its X-Ray
 * SDK slows every promise, so it must not load otherwise; test/integration/synth.test.ts checks
 * the bundle leaves it unloaded), and then every handler is traced by its middleware.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lambdaObservability, observeTask } from '../../tasks/observability.ts';

describe('lambdaObservability', () => {
  it('has no tracer with tracing off, and one middleware fewer per handler', async () => {
    // Act
    const off = await lambdaObservability('SILENT', false);
    // Assess
    assert.equal(off.traceHandler, undefined);
    assert.equal(observeTask(off, 'plan').length, 2);
  });

  it("with tracing on, wraps every handler in Powertools Tracer's middleware", async () => {
    // Act
    const on = await lambdaObservability('SILENT', true);
    // Assess
    assert.ok(on.traceHandler, 'a tracer');
    const middlewares = observeTask(on, 'plan');
    assert.equal(middlewares.length, 3);
    assert.equal(typeof middlewares[1]!.before, 'function', "the tracer's segment opens before the handler");
  });
});
