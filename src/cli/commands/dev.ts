// `cvmflow dev`: the embedded stack in the foreground. It prints every address (the Temporal UI first) and the
// export lines another shell needs to run `cvmflow deploy` against it; Ctrl-C stops everything it started.
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { DevStackRunningError } from '../../dev/lock';
import { PortInUseError, pickPort } from '../../dev/ports';
// Types only: the stack (worker, bundler, simulator) is loaded when the command runs, so other commands start fast.
import type { DevStack } from '../../dev/stack';
import { DEFAULT_CODEC_SERVER_PORT } from '../../temporal/codec-server';
import type { Dashboard } from '../../ui/embedded';

const DEFAULT_DATA_DIR = '.data';
const DEFAULT_TIME_SCALE = 0.1;

import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { CommandFailure } from '../failure';
import { portFlag, positiveNumberFlag, shellQuote, untilSignal } from '../flags';
import { colorEnabled, createStyle, printJson, renderTable } from '../output';

interface DevFlags {
  dataDir: string;
  port: number;
  uiPort: number;
  simPort: number;
  codecPort: number;
  dashboardPort: number;
  timeScale: number;
  json?: boolean;
  /** commander's negated flag: false with --no-worker. */
  worker: boolean;
}

export const DEV_ENV_FILE = 'dev.env';

/** The export lines, grouped by what they configure. */
export function exportLines(env: Record<string, string>): string[] {
  const groups = [
    ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE'],
    ['CVMFLOW_CODEC_KEY_FILE'],
    ['PHALA_CLOUD_API_PREFIX', 'PHALA_CLOUD_API_KEY'],
    ['ETH_RPC_URL', 'ETH_CHAIN_ID', 'PRIVATE_KEY_FILE'],
  ];
  return groups
    .map((names) => names.filter((n) => env[n] !== undefined).map((n) => `${n}=${shellQuote(env[n]!)}`))
    .filter((pairs) => pairs.length > 0)
    .map((pairs) => `export ${pairs.join(' ')}`);
}

function describe(stack: DevStack, flags: DevFlags, startedMs: number, dashboardUrl: string): string[] {
  const style = createStyle(colorEnabled(process.stdout));
  const rel = (path: string) => {
    const r = relative(process.cwd(), path);
    return r.startsWith('..') ? path : r || '.';
  };
  const lines = [
    `${style.ok('cvmflow dev is ready')} in ${((Date.now() - startedMs) / 1000).toFixed(1)} s (data in ${rel(stack.dataDir)})`,
    '',
    ...renderTable([
      ['Temporal UI', style.bold(stack.temporal.uiUrl), 'shows decoded payloads through the codec server'],
      ['Dashboard', style.bold(dashboardUrl), 'apps, rollouts, blue-greens, power calendars (token in the #fragment)'],
      ['Codec server', stack.codecServer.url, `temporal … --codec-endpoint ${stack.codecServer.url}`],
      ['Temporal', stack.temporal.address, `namespace ${stack.namespace}, task queue ${stack.taskQueue}`],
      ['Phala API (sim)', stack.sim.url, `time ×${flags.timeScale}`],
      ['Sim admin API', stack.sim.adminUrl, `bearer token in ${rel(join(stack.dataDir, 'sim-keys.json'))}`],
      ['Chain (anvil)', stack.chain.rpcUrl, `chain ${stack.chain.chainId}`],
      ['DstackKms', stack.chain.kmsAddress, ''],
      stack.hasWorker
        ? ['Worker', 'in this process', `polling ${stack.taskQueue}`]
        : ['Worker', 'none (--no-worker)', `run your own: cvmflow worker (task queue ${stack.taskQueue})`],
    ]).map((l) => `  ${l}`),
    '',
    'From another shell:',
    ...exportLines(stack.env).map((l) => `  ${l}`),
    ...(stack.hasWorker ? [] : ['  cvmflow worker                 # one or more, each in its own shell']),
    '  cvmflow deploy -f examples/hello.yaml --wait',
    `(the same lines are in ${rel(join(stack.dataDir, DEV_ENV_FILE))}: source it)`,
    '',
    'Ctrl-C stops everything.',
  ];
  return lines;
}

export async function runDev(flags: DevFlags): Promise<void> {
  const startedMs = Date.now();
  const { startDevStack } = await import('../../dev/stack');
  let stack: DevStack;
  let dashboardPort: number;
  try {
    // Checked before the stack starts, like the stack's own ports: a taken port is the user's to fix (exit 2).
    dashboardPort = await pickPort('--dashboard-port', flags.dashboardPort);
    stack = await startDevStack({
      dataDir: flags.dataDir,
      temporalPort: flags.port,
      uiPort: flags.uiPort,
      simPort: flags.simPort,
      codecPort: flags.codecPort,
      timeScale: flags.timeScale,
      worker: flags.worker,
      log: (line) => process.stderr.write(`cvmflow dev: ${line}\n`),
    });
  } catch (err) {
    if (err instanceof PortInUseError) throw new UsageError(err.message);
    if (err instanceof DevStackRunningError) throw new CommandFailure(err.message);
    throw err;
  }
  const signal = untilSignal();
  let failure: string | undefined;
  let dashboard: Dashboard | undefined;
  try {
    const { startStackDashboard } = await import('../../ui/embedded');
    dashboard = await startStackDashboard(stack, dashboardPort, (line) =>
      process.stderr.write(`cvmflow dev: dashboard: ${line}\n`),
    );
    writeFileSync(join(stack.dataDir, DEV_ENV_FILE), `${exportLines(stack.env).join('\n')}\n`, { mode: 0o600 });
    if (flags.json) {
      printJson({
        temporalUiUrl: stack.temporal.uiUrl,
        temporalAddress: stack.temporal.address,
        codecServerUrl: stack.codecServer.url,
        dashboardUrl: dashboard.url,
        namespace: stack.namespace,
        taskQueue: stack.taskQueue,
        phalaApiUrl: stack.sim.url,
        simAdminUrl: stack.sim.adminUrl,
        chain: stack.chain,
        dataDir: stack.dataDir,
        env: stack.env,
      });
    } else process.stdout.write(`${describe(stack, flags, startedMs, dashboard.url).join('\n')}\n`);
    const outcome = await Promise.race([
      signal.then((s) => ({ signal: s })),
      stack.workerExited.then(
        () => ({ error: 'the worker stopped' }),
        (err: Error) => ({ error: `the worker failed: ${err.message}` }),
      ),
    ]);
    if ('error' in outcome) failure = `${outcome.error}; the stack was stopped`;
    else process.stderr.write(`cvmflow dev: ${outcome.signal}, stopping…\n`);
  } finally {
    await dashboard?.close();
    await stack.close();
  }
  if (failure) throw new CommandFailure(failure, { jsonPrinted: flags.json });
  process.stderr.write('cvmflow dev: stopped\n');
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description(describeCommand('dev'))
    .option('--data-dir <dir>', 'Temporal database, keys and lock; state survives a restart', DEFAULT_DATA_DIR)
    .option('--port <n>', 'Temporal frontend port (0 = any free port)', portFlag('--port'), 7233)
    .option('--ui-port <n>', 'Temporal Web UI port (0 = any free port)', portFlag('--ui-port'), 8233)
    .option('--sim-port <n>', 'simulator API port (0 = any free port)', portFlag('--sim-port'), 8787)
    .option(
      '--codec-port <n>',
      'codec server port, which the Temporal UI decodes payloads with (0 = any free port)',
      portFlag('--codec-port'),
      DEFAULT_CODEC_SERVER_PORT,
    )
    .option(
      '--dashboard-port <n>',
      'the cvmflow dashboard (`cvmflow ui`) port (0 = any free port)',
      portFlag('--dashboard-port'),
      8480,
    )
    .option(
      '--time-scale <f>',
      'simulator speed: multiplies every CVM delay (1 = real time)',
      positiveNumberFlag('--time-scale', '0.1 turns a 30 s boot into 3 s'),
      DEFAULT_TIME_SCALE,
    )
    .option('--no-worker', 'start no worker: run your own with `cvmflow worker` (one or several) and the printed env')
    .option('--json', 'print the addresses and env as one JSON object once ready')
    .addHelpText(
      'after',
      `
Everything binds to 127.0.0.1. The codec key is generated into the data folder unless CVMFLOW_CODEC_KEY or
CVMFLOW_CODEC_KEY_FILE is set; the Temporal database lives there too, so workflows survive a restart. The simulator
and the chain start empty each time.

Example:
  cvmflow dev                          # then, in another shell:
  source .data/dev.env && cvmflow deploy -f examples/hello.yaml --wait`,
    )
    .action(async (flags: DevFlags) => {
      await runDev(flags);
    });
}
