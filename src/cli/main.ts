import { Command, CommanderError } from 'commander';
import { registerBlueGreenCommand } from './commands/bluegreen';
import { registerCodecCommand } from './commands/codec';
import { registerDemoCommand } from './commands/demo';
import { registerDeployCommand } from './commands/deploy';
import { registerDevCommand } from './commands/dev';
import { registerPlanCommand } from './commands/plan';
import { registerPowerCommand } from './commands/power';
import { registerRolloutCommand } from './commands/rollout';
import { registerServeCommand } from './commands/serve';
import { registerSimCommand } from './commands/sim';
import { registerStatusCommand } from './commands/status';
import { registerWatchCommand } from './commands/watch';
import { registerWorkerCommand } from './commands/worker';
import { applyConfigFile } from './config-file';
import { EXIT_BAD_INPUT, EXIT_OK, errorCodeOf, exitCodeFor, messageFor } from './errors';
import { CommandFailure } from './failure';
import { printJson } from './output';

export function buildProgram(): Command {
  const program = new Command('cvmflow')
    .description('Durable deployment pipelines for Phala Cloud confidential VMs, on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .option('--config <file>', 'settings file (default ./cvmflow.config.yaml); environment variables win')
    .hook('preAction', () => void applyConfigFile(program.opts<{ config?: string }>().config))
    .exitOverride();
  registerDeployCommand(program);
  registerPowerCommand(program);
  registerRolloutCommand(program);
  registerBlueGreenCommand(program);
  registerServeCommand(program);
  registerWorkerCommand(program);
  registerSimCommand(program);
  registerCodecCommand(program);
  registerDevCommand(program);
  registerStatusCommand(program);
  registerWatchCommand(program);
  registerPlanCommand(program);
  registerDemoCommand(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** `--json` anywhere before a `--`: the caller's automation reads stdout, so an error is JSON there too. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs the CLI and returns the process exit code (0 ok, 1 failure, 2 bad input). The entry point sets it as the
 * process's exit status; commands never set process.exitCode themselves — they throw (UsageError, CommandFailure).
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    let code: number;
    let message: string;
    if (err instanceof CommanderError) {
      // Commander already printed the message; help and version are not failures.
      if (err.exitCode === 0) return EXIT_OK;
      code = EXIT_BAD_INPUT;
      message = err.message.replace(/^error: /, '');
    } else {
      code = exitCodeFor(err);
      message = messageFor(err);
      process.stderr.write(`cvmflow: ${message}\n`);
    }
    if (wantsJson(argv) && !(err instanceof CommandFailure && err.jsonPrinted))
      printJson({ error: { code: errorCodeOf(err), message }, exitCode: code });
    return code;
  }
}
