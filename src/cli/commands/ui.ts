// `cvmflow ui`: the web dashboard (src/ui) on loopback by default — apps and CVMs, rollouts, blue-greens and power
// calendars, live, with the operator's actions. Runs until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { portFlag, positiveIntFlag, untilSignal } from '../flags';
import { withClient } from '../temporal';

interface UiFlags {
  host: string;
  port: number;
  temporalUi?: string;
  refreshMs: number;
}

const log = (line: string) => process.stderr.write(`cvmflow ui: ${line}\n`);
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export async function runUi(given: UiFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const flags = { ...given, temporalUi: given.temporalUi ?? env.CVMFLOW_TEMPORAL_UI_URL };
  if (flags.temporalUi !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(flags.temporalUi))
    throw new UsageError(
      `--temporal-ui: ${JSON.stringify(flags.temporalUi)} is not an http(s) URL, e.g. http://127.0.0.1:8233`,
    );
  const [{ startUiServer }, { uiToken, openUrl, UI_TOKEN_ENV }, { PhalaClient }] = await Promise.all([
    import('../../ui/server'),
    import('../../ui/token'),
    import('../../phala/client'),
  ]);
  const { token, generated } = uiToken(env);
  if (!LOOPBACK.test(flags.host) && generated)
    throw new UsageError(`--host ${flags.host} is not loopback: set ${UI_TOKEN_ENV} to the token operators will use`);
  const phala = env.PHALA_CLOUD_API_KEY ? PhalaClient.fromEnv(env) : undefined;
  await withClient(async (client, config) => {
    const server = await startUiServer({
      client,
      namespace: config.namespace,
      token,
      host: flags.host,
      port: flags.port,
      refreshMs: flags.refreshMs,
      ...(phala ? { phala } : {}),
      ...(flags.temporalUi ? { temporalUiUrl: flags.temporalUi.replace(/\/$/, '') } : {}),
      log,
    });
    process.stdout.write(`${generated ? openUrl(server.url, token) : server.url}\n`);
    if (!phala) log('PHALA_CLOUD_API_KEY is not set: apps are listed from the workflows only, without their CVMs');
    await untilSignal();
    await server.close();
    await phala?.close();
  }, env);
}

export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description(describeCommand('ui'))
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0 = any free port)', portFlag('--port'), 8480)
    .option(
      '--temporal-ui <url>',
      "the Temporal Web UI's address, for links to each workflow (or CVMFLOW_TEMPORAL_UI_URL)",
    )
    .option(
      '--refresh-ms <n>',
      'how often the fleet is re-read while a page is open',
      positiveIntFlag('--refresh-ms'),
      1000,
    )
    .addHelpText(
      'after',
      `
Environment:
  CVMFLOW_UI_TOKEN         the bearer token the page must send (default: a new one each run, printed in the URL's
                           #fragment, which the browser never sends anywhere)
  PHALA_CLOUD_API_KEY, …   to list the fleet's CVMs; TEMPORAL_ADDRESS, … for the workflows (as for every command)

Actions (promote, abort, rollback, pause, resume, skip-window, power overrides) go through the same validated
Updates as the CLI, each with a reason; a refusal is shown as the workflow worded it.`,
    )
    .action((flags: UiFlags) => runUi(flags));
}
