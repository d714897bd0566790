/**
 * How the local engine runs Task states: each Task's Lambda function name (from its
 * Resource ARN, or `FunctionName` of the `lambda:invoke` integration) maps to a handler in
 * `tasks/`, called in-process with a Lambda-like context, as Lambda would call it.
 */
import type { TaskHandlerRegistry } from '../../tasks/handler.ts';
import { invalid } from './errors.ts';
import { localLambdaContext } from '../../lambda-host/lambda-context.ts';

type JsonObject = { [key: string]: unknown };

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(:[^:]+)?$/;
const LAMBDA_INVOKE = /^arn:aws[a-z-]*:states:::lambda:invoke(\.waitForTaskToken)?$/;

/** The Lambda function a Task state calls, or undefined when it calls some other service. */
function functionNameOf(state: JsonObject): { name: string; viaIntegration: boolean } | undefined {
  const resource = String(state['Resource'] ?? '');
  const direct = LAMBDA_ARN.exec(resource);
  if (direct?.[1]) return { name: direct[1], viaIntegration: false };
  if (LAMBDA_INVOKE.test(resource)) {
    const parameters = (state['Parameters'] ?? {}) as JsonObject;
    const target = String(parameters['FunctionName'] ?? '');
    return { name: LAMBDA_ARN.exec(target)?.[1] ?? target, viaIntegration: true };
  }
  return undefined;
}

/** Every state of a definition, including those nested in Map and Parallel states. */
export function* walkStates(definition: JsonObject): Generator<[string, JsonObject]> {
  const states = (definition['States'] ?? {}) as Record<string, JsonObject>;
  for (const [name, state] of Object.entries(states)) {
    yield [name, state];
    const nested = (state['ItemProcessor'] ?? state['Iterator']) as JsonObject | undefined;
    if (nested) yield* walkStates(nested);
    for (const branch of (state['Branches'] ?? []) as JsonObject[]) yield* walkStates(branch);
  }
}

/**
 * Called with each Task's input before its handler runs and its result after: it throws (and
 * ends the execution) when the data breaks a service limit, before the engine moves on.
 */
export type StateDataCheck = (state: string, which: 'input' | 'output', value: unknown) => void;

/** Lambda's default timeout when a Task names none; the engine's own default is 60 s. */
const DEFAULT_TIMEOUT_SECONDS = 60;

/**
 * Builds aws-local-stepfunctions' per-state-name overrides. Every Task must resolve to a
 * registered handler: the engine would otherwise invoke a real Lambda over the network.
 * Each call is kept in `inFlight` until it settles: aborting an execution does not stop a call
 * already made (as in Lambda), and the stack must not close its databases under one.
 * @throws {StepFunctionsApiError} InvalidDefinition naming the Task and function
 */
export function bindTaskHandlers(
  definition: JsonObject,
  registry: TaskHandlerRegistry,
  inFlight: Set<Promise<unknown>> = new Set(),
  checkStateData: StateDataCheck = () => undefined,
): Record<string, (input: unknown) => Promise<unknown>> {
  const bound: Record<string, (input: unknown) => Promise<unknown>> = {};
  const problems: string[] = [];
  for (const [stateName, state] of walkStates(definition)) {
    if (state['Type'] !== 'Task') continue;
    const target = functionNameOf(state);
    const handler = target ? registry.get(target.name) : undefined;
    if (!target || !handler) {
      const calls = target ? `function "${target.name}"` : String(state['Resource']);
      const known = [...registry.keys()].join(', ') || 'none';
      problems.push(`Task state "${stateName}" calls ${calls}, which has no local handler (known: ${known})`);
      continue;
    }
    const timeoutMs = Number(state['TimeoutSeconds'] ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
    bound[stateName] = async (input: unknown) => {
      checkStateData(stateName, 'input', input);
      const event = target.viaIntegration ? (input as JsonObject)['Payload'] : input;
      const call = handler(event, localLambdaContext(target.name, timeoutMs));
      inFlight.add(call);
      const result = await call.finally(() => inFlight.delete(call));
      const output = target.viaIntegration ? { StatusCode: 200, Payload: result ?? null } : (result ?? null);
      checkStateData(stateName, 'output', output);
      return output;
    };
  }
  if (problems.length > 0) throw invalid('InvalidDefinition', problems.join('; '));
  return bound;
}
