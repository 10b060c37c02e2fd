// `cvmflow sim`: the Phala Cloud API simulator as a standalone server for demos, manual runs and other processes.
// stdout line 1 is the API base URL (scripts read it), line 2 the admin URL; it runs until SIGINT/SIGTERM.
import { type Command, InvalidArgumentError } from 'commander';
import { FaultProfileError, SimulatorConfigError, type SimulatorHandle, startSimulator } from '../../simulator';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { untilSignal } from '../flags';

/** Exit code 2 even when the command runs outside `cvmflow`'s main (which maps every usage error to 2). */
function badFlag(message: string): InvalidArgumentError {
  const err = new InvalidArgumentError(message);
  err.exitCode = 2;
  return err;
}

function parsePort(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > 65535) throw badFlag(`${flag} must be an integer 0-65535 (0 = free port)`);
    return n;
  };
}

function parseTimeScale(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw badFlag('--time-scale must be a number > 0 (0.01 = 100× faster)');
  return n;
}

function parsePositiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1) throw badFlag(`${flag} must be an integer >= 1`);
    return n;
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface SimFlags {
  host: string;
  port: number;
  adminPort: number;
  apiKey: string[];
  timeScale: number;
  faults?: string;
  adminToken?: string;
  sseStreamsPerKey: number;
}

export async function runSim(flags: SimFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(flags.host)) {
    process.stderr.write(`cvmflow sim: warning: --host ${flags.host} is not loopback; the simulator has no TLS\n`);
  }
  let sim: SimulatorHandle;
  try {
    sim = await startSimulator({
      host: flags.host,
      port: flags.port,
      adminPort: flags.adminPort,
      apiKeys: flags.apiKey,
      timeScale: flags.timeScale,
      faults: flags.faults,
      adminToken: flags.adminToken,
      sseStreamsPerKey: flags.sseStreamsPerKey,
    });
  } catch (err) {
    if (err instanceof FaultProfileError) throw new UsageError(`--faults: ${err.message}`);
    if (err instanceof SimulatorConfigError) throw new UsageError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`--port: ${(err as Error).message}`);
    throw err;
  }
  out.write(`${sim.url}\n${sim.adminUrl}\n`);
  if (!flags.adminToken) out.write(`admin token: ${sim.adminToken}\n`);
  await untilSignal();
  await sim.close();
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description(describeCommand('sim'))
    .showHelpAfterError(false)
    // Standalone (outside cvmflow's main, which overrides this) bad flags still exit 2, not commander's 1.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .requiredOption('--api-key <key>', 'accepted X-API-Key; repeat for more keys (one workspace each)', collect)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <n>', 'API port (0 = a free port)', parsePort('--port'), 0)
    .option('--admin-port <n>', 'admin API port (0 = a free port)', parsePort('--admin-port'), 0)
    .option('--time-scale <f>', 'multiplies every delay: 0.01 makes a 30 s boot take 300 ms', parseTimeScale, 1)
    .option('--faults <file>', 'JSON fault profile {routes:[…], cvms:[…]} applied at start')
    .option('--admin-token <t>', 'bearer token of the admin API (default: random, printed)')
    .option(
      '--sse-streams-per-key <n>',
      'concurrent SSE streams per API key before 429',
      parsePositiveInt('--sse-streams-per-key'),
      5,
    )
    .addHelpText(
      'after',
      `
Point the official clients at it:
  PHALA_CLOUD_API_PREFIX=<printed URL> PHALA_CLOUD_API_KEY=<key> phala cvms list
The admin API (Authorization: Bearer <admin token>): GET /admin/cvms, GET /admin/requests,
POST|GET|DELETE /admin/faults, POST /admin/reset; GET /admin/apps and POST|DELETE /admin/apps/rules set what
the CVMs' apps answer (health, latency, the error rate of their /metrics traffic): see docs/simulator.md.`,
    )
    .action(async (flags: SimFlags) => {
      await runSim(flags);
    });
}
