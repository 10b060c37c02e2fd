// `cvmflow serve`: the HTTP trigger server for CI and webhooks (src/trigger), and — with --local-router — the local
// reverse proxy the specs' `router: {type: local}` points at. Runs until SIGINT/SIGTERM.
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { LocalProxy, type LocalProxyApp } from '../../router/local-proxy';
import { createTriggerHandler, TriggerSpecs } from '../../trigger/handler';
import { startTriggerServer } from '../../trigger/server';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { withClient } from '../temporal';

interface ServeFlags {
  spec: string[];
  host: string;
  port: string;
  localRouter?: boolean;
  ui?: boolean;
  uiPort: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const log = (line: string) => process.stderr.write(`cvmflow serve: ${line}\n`);
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** One proxy per control URL, serving the apps whose specs name it. */
async function startProxies(specs: TriggerSpecs, env: NodeJS.ProcessEnv): Promise<LocalProxy[]> {
  const groups = new Map<
    string,
    { port: number; host: string; secretEnv: string; apps: Record<string, LocalProxyApp> }
  >();
  for (const app of specs.apps()) {
    const r = specs.resolve(app).router;
    if (r.type !== 'local') continue;
    const url = new URL(r.controlUrl);
    if (!LOOPBACK.test(url.hostname))
      throw new UsageError(`${app}: router.controlUrl ${r.controlUrl} is not a loopback address`);
    const group = groups.get(url.origin) ?? {
      port: Number(url.port || 80),
      host: url.hostname.replace(/^\[|\]$/g, ''),
      secretEnv: r.secretFromEnv,
      apps: {},
    };
    if (group.secretEnv !== r.secretFromEnv)
      throw new UsageError(`${app}: apps sharing ${url.origin} must use the same router.secretFromEnv`);
    group.apps[app] = { activePort: r.activePort, previewPort: r.previewPort };
    groups.set(url.origin, group);
  }
  const proxies: LocalProxy[] = [];
  for (const [origin, g] of groups) {
    const secret = env[g.secretEnv];
    if (!secret)
      throw new UsageError(`--local-router: set ${g.secretEnv} (the key route tables to ${origin} are signed with)`);
    const proxy = await LocalProxy.start({ host: g.host, controlPort: g.port, secret, apps: g.apps });
    proxies.push(proxy);
    for (const app of Object.keys(g.apps)) {
      const u = proxy.urls(app);
      log(`local router for ${app}: active ${u.active}, preview ${u.preview} (control ${proxy.controlUrl})`);
    }
  }
  return proxies;
}

/** `--ui`: the dashboard (`cvmflow ui`) beside the trigger endpoint, on the same interface, with its own token. */
async function startDashboard(
  client: Client,
  namespace: string,
  flags: ServeFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ close(): Promise<void> }> {
  const port = Number(flags.uiPort);
  if (!/^\d+$/.test(flags.uiPort) || port > 65535)
    throw new UsageError('--ui-port must be an integer 0-65535 (0 = free port)');
  const [{ startUiServer }, { uiToken, openUrl, UI_TOKEN_ENV }, { PhalaClient }] = await Promise.all([
    import('../../ui/server'),
    import('../../ui/token'),
    import('../../phala/client'),
  ]);
  const { token, generated } = uiToken(env);
  if (generated && !LOOPBACK.test(flags.host))
    throw new UsageError(`--ui on ${flags.host}, which is not loopback: set ${UI_TOKEN_ENV} to the dashboard's token`);
  const phala = env.PHALA_CLOUD_API_KEY ? PhalaClient.fromEnv(env) : undefined;
  const server = await startUiServer({
    client,
    namespace,
    token,
    host: flags.host,
    port,
    ...(phala ? { phala } : {}),
    ...(env.CVMFLOW_TEMPORAL_UI_URL ? { temporalUiUrl: env.CVMFLOW_TEMPORAL_UI_URL.replace(/\/$/, '') } : {}),
    log: (line) => log(`dashboard: ${line}`),
  });
  log(`dashboard at ${generated ? openUrl(server.url, token) : server.url}`);
  return {
    async close() {
      await server.close();
      await phala?.close();
    },
  };
}

export async function runServe(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!flags.spec?.length) throw new UsageError('--spec <file> is required (one per app; repeat it for several)');
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port) || port > 65535)
    throw new UsageError('--port must be an integer 0-65535 (0 = free port)');
  const token = env.CVMFLOW_TRIGGER_TOKEN;
  const hmacSecret = env.CVMFLOW_TRIGGER_SECRET;
  if (!token && !hmacSecret)
    throw new UsageError(
      'set CVMFLOW_TRIGGER_TOKEN (bearer token) and/or CVMFLOW_TRIGGER_SECRET (HMAC key): triggers must be authenticated',
    );
  const specs = TriggerSpecs.load(flags.spec);
  await withClient(async (client, config) => {
    const proxies = flags.localRouter ? await startProxies(specs, env) : [];
    const dashboard = flags.ui ? await startDashboard(client, config.namespace, flags, env) : undefined;
    const server = await startTriggerServer({
      host: flags.host,
      port,
      auth: { token, hmacSecret },
      apps: specs.apps(),
      handle: createTriggerHandler({ client, taskQueue: config.taskQueue, specs, codecKeys: config.codecKeys, env }),
      log,
    });
    process.stdout.write(`${server.url}/v1/bluegreen/<app>\n`);
    log(
      `accepting triggers for ${specs.apps().join(', ')} (${[token ? 'bearer token' : '', hmacSecret ? 'HMAC signature' : ''].filter(Boolean).join(', ')})`,
    );
    await untilSignal();
    await server.close();
    await dashboard?.close();
    for (const p of proxies) await p.close();
  }, env);
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(describeCommand('serve'))
    .option('--spec <file>', 'a BlueGreen spec this server may deploy (repeatable)', collect, [])
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = free port)', '8470')
    .option('--local-router', 'also run the local reverse proxy for specs with router.type local')
    .option('--ui', 'also serve the web dashboard (`cvmflow ui`; token CVMFLOW_UI_TOKEN)')
    .option('--ui-port <port>', "the dashboard's port (0 = free port)", '8480')
    .addHelpText(
      'after',
      `
Environment:
  CVMFLOW_UI_TOKEN, CVMFLOW_TEMPORAL_UI_URL   with --ui: the dashboard's token and the Temporal UI it links to
  CVMFLOW_TRIGGER_TOKEN    accept "Authorization: Bearer <token>"
  CVMFLOW_TRIGGER_SECRET   accept bodies signed with "X-Hub-Signature-256: sha256=<HMAC-SHA256 hex>" (GitHub style)
  TEMPORAL_ADDRESS, …      where the workflows run (as for every command)

A trigger:
  curl -X POST http://127.0.0.1:8470/v1/bluegreen/web \\
    -H "Authorization: Bearer $CVMFLOW_TRIGGER_TOKEN" -H "X-Cvmflow-Delivery: build-1234" \\
    -d '{"compose": "services: …", "reason": "release 1.4", "by": "ci"}'
answers 202 with the workflow id. The same delivery id again answers the same run and starts nothing; a new one
while a deployment runs is rejected (409) or supersedes it, as the spec's onTrigger says. Only the compose text
comes from the request; env sources and everything else come from the server's spec file.`,
    )
    .action((flags: ServeFlags) => runServe(flags));
}
