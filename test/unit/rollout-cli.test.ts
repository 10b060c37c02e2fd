// `cvmflow rollout …` refuses bad input with exit code 2 before it reaches Temporal, naming what to fix.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';

const example = fileURLToPath(new URL('../../examples/rollout.yaml', import.meta.url));
const deployExample = fileURLToPath(new URL('../../examples/deploy.yaml', import.meta.url));

async function run(...args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await main(['node', 'cvmflow', 'rollout', ...args]), err };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('cvmflow rollout: bad input exits 2', () => {
  it.each([
    [['start'], /--file <rollout.yaml> is required/],
    [['start', '-f', deployExample], /kind: expected one of Rollout, got "Deployment"/],
    [['abort', 'web-fleet'], /--reason <text> is required: say why/],
    [['abort', 'web-fleet', '--note', ' ', '--by', 'ops'], /--reason <text> is required/],
    [['lift-freeze', 'web-fleet', '--reason', 'why'], /--until <time> is required/],
    [['skip-window', 'web-fleet'], /--reason <text> is required/],
    [['schedule', 'create', '-f', example], /give --cron or --calendar/],
    [
      ['schedule', 'create', '-f', example, '--cron', '0 9 * * TUE', '--overlap', 'always'],
      /--overlap: expected skip or buffer-one/,
    ],
    [
      ['schedule', 'create', '-f', example, '--cron', '0 9 * * TUE', '--catchup-window', 'soon'],
      /--catchup-window: expected a duration/,
    ],
    [['schedule', 'create', '-f', example, '--calendar', '{hour: 9'], /--calendar: not JSON/],
    [['schedule', 'pause', 'nightly'], /--reason <text> is required/],
    [
      ['schedule', 'backfill', 'nightly', '--start', '2026-03-02T00:00Z', '--end', '2026-03-01T00:00Z'],
      /--end must be after --start/,
    ],
    [['bogus'], /unknown command/],
  ])('%j', async (args, message) => {
    const { code, err } = await run(...args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });

  it('help is not a failure', async () => {
    expect((await run('--help')).code).toBe(0);
  });

  it.each(['pause', 'resume', 'promote', 'abort', 'skip-window', 'lift-freeze'])(
    '%s --help shows --reason and --by; --note stays a hidden alias',
    async (command) => {
      let out = '';
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        out += String(chunk);
        return true;
      });
      expect(await main(['node', 'cvmflow', 'rollout', command, '--help'])).toBe(0);
      expect(out).toMatch(/--reason <text>/);
      expect(out).toMatch(/--by <name> +who asks \(default: your user name\)/);
      expect(out).not.toMatch(/--note/);
    },
  );
});
