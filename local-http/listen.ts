/** Binding servers to 127.0.0.1 with errors a person can act on. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserFacingError } from '../config/errors.ts';

/** Thrown when a port the local stack needs is taken. */
export class PortInUseError extends UserFacingError {
  override readonly name = 'PortInUseError';
  readonly code = 'port-in-use';
  constructor(
    readonly service: string,
    readonly port: number,
    readonly flag: string,
  ) {
    super(
      `port ${port} for ${service} is already in use on 127.0.0.1: stop whatever holds it, ` +
        `or pass --${flag} <port> (0 = any free port)`,
    );
  }
}

/** Listens on 127.0.0.1:port and resolves with the port actually bound. */
export function listenLocal(server: Server, port: number, service: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(service, port, flag) : error);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes a server, ending idle keep-alive connections so shutdown is prompt. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
