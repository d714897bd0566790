/**
 * The shape of every ddb-faiss Lambda handler, owned here: Lambda calls it, and so do the
 * local engine and the local API gateway. middy's handlers fit it as they are.
 */
import type { Context } from 'aws-lambda';

/** A Lambda handler that returns a promise (middy-wrapped handlers are). */
export type TaskHandler<TEvent = unknown, TResult = unknown> = (event: TEvent, context: Context) => Promise<TResult>;

/** Handlers by Lambda function name, as the local engine looks them up. */
export type TaskHandlerRegistry = ReadonlyMap<string, TaskHandler>;
