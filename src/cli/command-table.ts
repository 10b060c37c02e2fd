// Every top-level command: its name (with arguments), what it does, and how to load it. `cvmflow --help` lists
// them from this table alone, and a run loads only the module of the command it runs — so `--help` and a refused
// spec never pay for the Temporal SDK, viem or the simulator (issue 19: start-up in well under a second).
import type { Command } from 'commander';

export interface CommandEntry {
  /** As commander takes it: the name and its arguments. */
  usage: string;
  description: string;
  load(): Promise<(program: Command) => void>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    usage: 'deploy',
    description: 'deploy or update an app from a spec file (create if new, update compose/env if it exists)',
    load: async () => (await import('./commands/deploy')).registerDeployCommand,
  },
  {
    usage: 'power',
    description: 'maintenance-window power schedules: keep CVMs running or stopped by a calendar',
    load: async () => (await import('./commands/power')).registerPowerCommand,
  },
  {
    usage: 'rollout',
    description: 'roll a new version across a fleet of CVMs in waves, within deploy windows, with a failure budget',
    load: async () => (await import('./commands/rollout')).registerRolloutCommand,
  },
  {
    usage: 'bluegreen',
    description: 'blue-green deployments: green beside blue, health gate, promote, keep blue warm, retire it',
    load: async () => (await import('./commands/bluegreen')).registerBlueGreenCommand,
  },
  {
    usage: 'serve',
    description: 'HTTP trigger server for CI and webhooks (blue-green deployments), and optionally the local router',
    load: async () => (await import('./commands/serve')).registerServeCommand,
  },
  {
    usage: 'ui',
    description: 'the web dashboard: apps and CVMs, rollouts, blue-greens and power calendars, live, with actions',
    load: async () => (await import('./commands/ui')).registerUiCommand,
  },
  {
    usage: 'worker',
    description: 'run a cvmflow worker: it executes deploy pipelines, rollouts and power schedules',
    load: async () => (await import('./commands/worker')).registerWorkerCommand,
  },
  {
    usage: 'sim',
    description: 'run the Phala Cloud API simulator (prints the API base URL, then the admin URL)',
    load: async () => (await import('./commands/sim')).registerSimCommand,
  },
  {
    usage: 'codec',
    description:
      'payload encryption keys (secrets never reach Temporal history in plaintext), and the codec server the Temporal UI decodes them with',
    load: async () => (await import('./commands/codec')).registerCodecCommand,
  },
  {
    usage: 'dev',
    description:
      'run the embedded stack: Temporal (+ Web UI and its codec server), the Phala Cloud simulator, a local chain and a worker',
    load: async () => (await import('./commands/dev')).registerDevCommand,
  },
  {
    usage: 'status [app]',
    description: "running cvmflow workflows (all apps, or one app's): kind, phase and CVMs",
    load: async () => (await import('./commands/status')).registerStatusCommand,
  },
  {
    usage: 'watch <workflow-id>',
    description: 'follow a cvmflow workflow live until it ends (exit 0 if it succeeded, 1 if not)',
    load: async () => (await import('./commands/watch')).registerWatchCommand,
  },
  {
    usage: 'plan',
    description: "compare a deployment spec with the app's actual state in Phala Cloud; changes nothing",
    load: async () => (await import('./commands/plan')).registerPlanCommand,
  },
  {
    usage: 'demo',
    description: 'a narrated tour of cvmflow on the embedded stack: deploy, update, power schedule (about a minute)',
    load: async () => (await import('./commands/demo')).registerDemoCommand,
  },
];

/** The description of a top-level command, for its own module to use: one text in one place. */
export function describeCommand(name: string): string {
  const entry = COMMANDS.find((c) => c.usage.split(' ')[0] === name);
  if (!entry) throw new Error(`no command ${name} in the command table`);
  return entry.description;
}
