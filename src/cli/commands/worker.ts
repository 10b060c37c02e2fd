import type { Command } from 'commander';
import { runWorker } from '../../worker/main';
import { describeCommand } from '../command-table';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(describeCommand('worker'))
    .addHelpText(
      'after',
      `
Configuration comes from the environment (see the README's table):
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TLS / TEMPORAL_API_KEY for Temporal Cloud,
  CVMFLOW_CODEC_KEY (payload encryption), PHALA_CLOUD_API_KEY and PHALA_CLOUD_API_PREFIX (the Phala Cloud API).
Stop it with Ctrl-C or SIGTERM: running activities get CVMFLOW_SHUTDOWN_GRACE (default 30s) to finish.

Example (against a local simulator and dev server):
  PHALA_CLOUD_API_PREFIX=http://127.0.0.1:8787/api/v1 PHALA_CLOUD_API_KEY=k CVMFLOW_CODEC_KEY=$(cvmflow codec keygen) cvmflow worker`,
    )
    .action(async () => {
      await runWorker();
    });
}
