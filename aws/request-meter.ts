/**
 * Counts the AWS requests a process sends, as its SDK clients send them: one middleware on every
 * client `aws/clients.ts` creates, the same code locally and on AWS. For each service and
 * operation it keeps the attempts (a retried request is sent, and mostly billed, again), the
 * failures, the bytes sent and received, and DynamoDB's consumed capacity, which it asks DynamoDB to
 * return (`ReturnConsumedCapacity: TOTAL`) on every operation that can. What a run costs is then
 * counted from the requests it really made (`npm run bench:cost`), not guessed.
 *
 * @example
 * ```ts
 * requestMeter.reset();
 * await runSomething();
 * for (const row of requestMeter.tally()) console.log(row.service, row.operation, row.requests);
 * const own = await requestMeter.unmetered(() => writeTheUsersItems()); // not counted
 * ```
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The requests of one operation of one service. */
export interface RequestTally {
  /** The SDK client's service: `DynamoDB`, `S3`, `SFN`, ... */
  readonly service: string;
  /** The operation: `BatchGetItem`, `PutObject`, ... */
  readonly operation: string;
  /** Attempts sent, each retry counted again. */
  readonly requests: number;
  /** Attempts that failed (throttled, refused, or never answered). */
  readonly failed: number;
  /** DynamoDB read capacity (request) units consumed. */
  readonly readUnits: number;
  /** DynamoDB write capacity (request) units consumed. */
  readonly writeUnits: number;
  /**
   * Items (a batch's statements) an operation that accepts `ReturnConsumedCapacity` touched without
   * the service reporting what they consumed (DynamoDB Local reports none for PartiQL batches).
   */
  readonly unreportedItems: number;
  /** Bytes of the request bodies sent (`Content-Length`). */
  readonly bytesSent: number;
  /** Bytes of the response bodies received (`Content-Length`). */
  readonly bytesReceived: number;
}

/** The counts a tally adds up, attempt by attempt. */
const COUNTS = ['failed', 'readUnits', 'writeUnits', 'unreportedItems', 'bytesSent', 'bytesReceived'] as const;

/** A tally of nothing yet, for `service`'s `operation`. */
export const emptyTally = (service: string, operation: string): RequestTally => ({
  service,
  operation,
  requests: 0,
  ...(Object.fromEntries(COUNTS.map((name) => [name, 0])) as Record<(typeof COUNTS)[number], number>),
});

/** The name the meter's middleware has in a client's stack. */
export const REQUEST_METER_MIDDLEWARE = 'ddbFaissRequestMeter';

/** DynamoDB operations that accept `ReturnConsumedCapacity`, and whether they read or write. */
const CAPACITY_OPERATIONS: Readonly<Record<string, 'read' | 'write'>> = {
  GetItem: 'read',
  BatchGetItem: 'read',
  Query: 'read',
  Scan: 'read',
  TransactGetItems: 'read',
  PutItem: 'write',
  UpdateItem: 'write',
  DeleteItem: 'write',
  BatchWriteItem: 'write',
  TransactWriteItems: 'write',
  ExecuteStatement: 'read',
  BatchExecuteStatement: 'write',
  ExecuteTransaction: 'write',
};

interface ConsumedCapacity {
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
}

interface HttpMessage {
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

type MiddlewareArgs = { input: object; request?: unknown };
type MiddlewareResult = { output: object; response?: unknown };
type Middleware = (
  next: (args: MiddlewareArgs) => Promise<MiddlewareResult>,
  context: { clientName?: string; commandName?: string },
) => (args: MiddlewareArgs) => Promise<MiddlewareResult>;

/** A middleware host: what every SDK v3 client is. */
export interface MeteredClient {
  readonly middlewareStack: { identify(): string[] };
}

/**
 * The two overloads of a client's `middlewareStack.add` the meter calls; each SDK client types its
 * stack by its own inputs and outputs, which the meter reads only as plain objects.
 */
interface MiddlewareStack {
  add(middleware: Middleware, options: { step: 'initialize'; name: string; override: boolean }): void;
  add(
    middleware: Middleware,
    options: { step: 'finalizeRequest'; priority: 'low'; name: string; override: boolean },
  ): void;
}

const operationOf = (context: { commandName?: string }): string =>
  (context.commandName ?? 'Unknown').replace(/Command$/, '');

/** Whether the operation reads or writes DynamoDB capacity; undefined for any other. */
const capacityKindOf = (context: { clientName?: string; commandName?: string }): 'read' | 'write' | undefined =>
  context.clientName === 'DynamoDBClient' ? CAPACITY_OPERATIONS[operationOf(context)] : undefined;

const contentLength = (message: unknown): number => {
  const value = (message as HttpMessage | undefined)?.headers?.['content-length'];
  const bytes = value === undefined ? 0 : Number(value);
  return Number.isFinite(bytes) ? bytes : 0;
};

/** Read and write units of a DynamoDB output (one entry, or one per table of a batch). */
function capacityOf(output: object, kind: 'read' | 'write'): { read: number; write: number } | undefined {
  const consumed = (output as { ConsumedCapacity?: ConsumedCapacity | readonly ConsumedCapacity[] }).ConsumedCapacity;
  if (consumed === undefined) return undefined;
  let read = 0;
  let write = 0;
  for (const entry of Array.isArray(consumed) ? consumed : [consumed]) {
    const split = entry as ConsumedCapacity;
    if (split.ReadCapacityUnits !== undefined || split.WriteCapacityUnits !== undefined) {
      read += split.ReadCapacityUnits ?? 0;
      write += split.WriteCapacityUnits ?? 0;
    } else if (kind === 'read') read += split.CapacityUnits ?? 0;
    else write += split.CapacityUnits ?? 0;
  }
  return { read, write };
}

/** The requests a process sends, by service and operation. */
export class RequestMeter {
  private readonly rows = new Map<string, { -readonly [K in keyof RequestTally]: RequestTally[K] }>();
  private readonly scope = new AsyncLocalStorage<'unmetered'>();

  /** Counts one attempt: its service and operation, and what it adds to each count. */
  record(attempt: Omit<RequestTally, 'requests'>): void {
    if (this.scope.getStore() === 'unmetered') return;
    const key = `${attempt.service}.${attempt.operation}`;
    const row = this.rows.get(key) ?? { ...emptyTally(attempt.service, attempt.operation) };
    row.requests += 1;
    for (const name of COUNTS) row[name] += attempt[name];
    this.rows.set(key, row);
  }

  /** The counts since the last reset, by service then operation. */
  tally(): RequestTally[] {
    return [...this.rows.values()]
      .map((row) => ({ ...row }))
      .sort((a, b) => a.service.localeCompare(b.service) || a.operation.localeCompare(b.operation));
  }

  /** Forgets every count. */
  reset(): void {
    this.rows.clear();
  }

  /** Runs `work` with its requests left uncounted (what a user's own code sends). */
  unmetered<T>(work: () => Promise<T>): Promise<T> {
    return this.scope.run('unmetered', work);
  }

  /**
   * Adds the counting middleware to `client` (once: adding it again replaces it). Placed after the
   * SDK's retry middleware, so each attempt is counted.
   */
  attach<C extends MeteredClient>(client: C): C {
    const stack = client.middlewareStack as unknown as MiddlewareStack;
    // Asked for before the input is serialized; counted per attempt, after the retry middleware.
    stack.add(
      (next, context) => async (args) =>
        capacityKindOf(context) &&
        (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity === undefined
          ? next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } })
          : next(args),
      { step: 'initialize', name: `${REQUEST_METER_MIDDLEWARE}Capacity`, override: true },
    );
    stack.add(
      (next, context) => async (args) => {
        const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
        const operation = operationOf(context);
        const kind = capacityKindOf(context);
        const sent = { ...emptyTally(service, operation), bytesSent: contentLength(args.request) };
        try {
          const result = await next(args);
          const units = kind ? capacityOf(result.output, kind) : undefined;
          const statements = (args.input as { Statements?: readonly unknown[] }).Statements;
          this.record({
            ...sent,
            readUnits: units?.read ?? 0,
            writeUnits: units?.write ?? 0,
            unreportedItems: kind && !units ? (statements?.length ?? 1) : 0,
            bytesReceived: contentLength(result.response),
          });
          return result;
        } catch (error) {
          this.record({
            ...sent,
            failed: 1,
            bytesReceived: contentLength((error as { $response?: unknown }).$response),
          });
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: REQUEST_METER_MIDDLEWARE, override: true },
    );
    return client;
  }
}

/** The meter of this process: every client `aws/clients.ts` creates reports to it. */
export const requestMeter = new RequestMeter();

/** Whether `client` reports to a meter. */
export const isMetered = (client: MeteredClient): boolean =>
  client.middlewareStack.identify().some((entry) => entry.startsWith(`${REQUEST_METER_MIDDLEWARE} `));
