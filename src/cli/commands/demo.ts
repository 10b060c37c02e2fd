// `cvmflow demo` (npm run demo): a narrated tour on the embedded stack, in a temporary folder, in under two minutes.
import type { Command } from 'commander';
import { describeCommand } from '../command-table';
import { CommandFailure } from '../failure';
import { positiveNumberFlag, untilSignal } from '../flags';
import { printJson } from '../output';

interface DemoFlags {
  keep?: boolean;
  dataDir?: string;
  timeScale?: number;
  json?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(describeCommand('demo'))
    .option('--keep', 'keep the stack and its Temporal UI up after the tour, until Ctrl-C')
    .option('--data-dir <dir>', 'keep the stack data here instead of a temporary folder')
    .option(
      '--time-scale <f>',
      'simulator speed (default 0.01: a 30 s boot takes 0.3 s)',
      positiveNumberFlag('--time-scale', '0.01'),
    )
    .option('--json', 'narrate on stderr and print the summary as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  npm run demo
  cvmflow demo --keep          # then open the printed Temporal UI links`,
    )
    .action(async (flags: DemoFlags) => {
      // Loaded here so that other commands do not pay for the stack's imports.
      const { runDemo } = await import('../../demo/run');
      const rows = await runDemo({
        out: flags.json ? process.stderr : process.stdout,
        dataDir: flags.dataDir,
        timeScale: flags.timeScale,
        keepUntil: flags.keep ? untilSignal : undefined,
      });
      if (flags.json) printJson({ steps: rows });
      const failed = rows.filter((r) => !r.ok);
      if (failed.length)
        throw new CommandFailure(`demo: ${failed.map((r) => r.title).join(', ')} failed`, { jsonPrinted: flags.json });
    });
}
