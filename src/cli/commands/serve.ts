// `cvmflow serve`: the HTTP trigger server for CI and webhooks (src/trigger), and — with --local-router — the local
// reverse proxy the specs' `router: {type: local}` points at. Runs until SIGINT/SIGTERM.
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
    .addHelpText(
      'after',
      `
Environment:
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
