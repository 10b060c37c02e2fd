// The dashboard on an embedded stack (`cvmflow dev`, `cvmflow demo`): its own Temporal client and Phala client on the
// stack's addresses, and a token of this run (or CVMFLOW_UI_TOKEN) carried in the URL's #fragment.
import type { DevStack } from '../dev/stack';

export interface Dashboard {
  /** With the token in the #fragment: the address to open. */
  url: string;
  close(): Promise<void>;
}

/** The dashboard (`cvmflow ui`) on the stack, with its own client and a token of this run (or CVMFLOW_UI_TOKEN). */
export async function startStackDashboard(
  stack: DevStack,
  port: number,
  log: (line: string) => void,
): Promise<Dashboard> {
  const [{ connectClient }, { startUiServer }, { uiToken, openUrl }, { PhalaClient }] = await Promise.all([
    import('../temporal/connection'),
    import('./server'),
    import('./token'),
    import('../phala/client'),
  ]);
  const client = await connectClient({
    address: stack.temporal.address,
    namespace: stack.namespace,
    codecKeys: stack.codecKeys,
  });
  const phala = PhalaClient.fromEnv(stack.env);
  const { token } = uiToken(process.env);
  try {
    const server = await startUiServer({
      client,
      namespace: stack.namespace,
      phala,
      temporalUiUrl: stack.temporal.uiUrl,
      token,
      port,
      log,
    });
    return {
      url: openUrl(server.url, token),
      async close() {
        await server.close();
        await phala.close();
        await client.connection.close();
      },
    };
  } catch (err) {
    await phala.close();
    await client.connection.close();
    throw err;
  }
}
