// s3rver ships no TypeScript types; this declares the part ddb-faiss uses.
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  interface S3rverOptions {
    directory: string;
    silent?: boolean;
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's request listener. */
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
  }
}
