// The `cvmflow` program: global options, the command table, exit status. Only the command being run is loaded
// (src/cli/command-table.ts); the others are listed by name and description for the help.
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './command-table';
import { EXIT_BAD_INPUT, EXIT_OK, errorCodeOf, exitCodeFor, messageFor } from './errors';
import { CommandFailure } from './failure';
import { printJson } from './output';

/** The top-level command an argv runs (after the global --config), or the one `help <command>` asks about. */
function invokedCommand(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg === 'help' ? args[i + 1] : arg;
  }
  return undefined;
}

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('cvmflow')
    .description('Durable deployment pipelines for Phala Cloud confidential VMs, on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .option('--config <file>', 'settings file (default ./cvmflow.config.yaml); environment variables win')
    .hook('preAction', async () => {
      const { applyConfigFile } = await import('./config-file');
      applyConfigFile(program.opts<{ config?: string }>().config);
    })
    .exitOverride();
  const invoked = invokedCommand(argv.slice(2));
  for (const entry of COMMANDS) {
    if (entry.usage.split(' ')[0] === invoked) (await entry.load())(program);
    else program.command(entry.usage).description(entry.description);
  }
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
  try {
    const program = await buildProgram(argv);
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
