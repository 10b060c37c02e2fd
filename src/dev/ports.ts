// Ports the embedded stack binds: a fixed default is checked before anything starts, so a taken port is reported
// with the flag that chooses it rather than as a child process's log tail; 0 picks a free one.
import { createServer } from 'node:net';
import { freePort } from './free-port';

export class PortInUseError extends Error {
  readonly code = 'PORT_IN_USE';
  constructor(
    readonly option: string,
    readonly port: number,
  ) {
    super(
      `${option}: port ${port} on 127.0.0.1 is already in use; choose another with ${option} <n> (0 = any free port)`,
    );
  }
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The port to use for `option`: `wanted` when it is free, a free one for 0. */
export async function pickPort(option: string, wanted: number, host = '127.0.0.1'): Promise<number> {
  if (wanted === 0) return freePort(host);
  if (!(await canBind(wanted, host))) throw new PortInUseError(option, wanted);
  return wanted;
}
