import type { Command } from 'commander';
import { generateCodecKey } from '../../temporal/codec';
import { describeCommand } from '../command-table';

export function registerCodecCommand(program: Command): void {
  const codec = program.command('codec').description(describeCommand('codec'));
  codec
    .command('keygen')
    .description('print a new random AES-256 key for CVMFLOW_CODEC_KEY')
    .option('--id <id>', 'key id to prefix (e.g. the month you rotate in: 2026-11)')
    .addHelpText(
      'after',
      '\nRotation: put the new key first and keep the old ones after it, comma-separated:\n  CVMFLOW_CODEC_KEY="2026-11:<new>,2026-05:<old>"\nThe first key encrypts; every listed key decrypts.',
    )
    .action((opts: { id?: string }) => {
      const key = generateCodecKey();
      process.stdout.write(`${opts.id ? `${opts.id}:` : ''}${key}\n`);
    });
}
