// Bad input to the commands of the operator's toolbox (dev, demo, status, watch, plan, --config), in-process: exit
// 2 and one line on stderr that names the flag or setting, before anything is started or contacted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';

const dir = mkdtempSync(join(tmpdir(), 'cvmflow-cli-'));

async function run(args: string[]) {
  const err: string[] = [];
  const out: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  try {
    const code = await main(['node', 'cvmflow', ...args]);
    return { code, stderr: err.join(''), stdout: out.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('bad input', () => {
  const secret = join(dir, 'secret.yaml');
  writeFileSync(secret, 'temporal:\n  apiKey: inline\n');
  it.each([
    [['dev', '--time-scale', '0'], '--time-scale'],
    [['dev', '--ui-port', '70000'], '--ui-port'],
    [['demo', '--time-scale', 'fast'], '--time-scale'],
    [['status', '--limit', '0'], '--limit'],
    [['status', "x' OR 1=1"], 'app:'],
    [['watch'], 'workflow-id'],
    [['watch', 'deploy-x', '--interval', 'soon'], '--interval'],
    [['plan', '-f', join(dir, 'missing.yaml')], 'missing.yaml'],
    [['plan', '--frobnicate'], '--frobnicate'],
    [['--config', join(dir, 'nope.yaml'), 'status'], '--config'],
    [['--config', secret, 'status'], 'temporal.apiKeyFile'],
    [['bluegreen', 'promote', 'webapp'], '--reason <text> is required'],
    [['bluegreen', 'abort', 'webapp', '--note', ' '], '--reason <text> is required'],
  ])('%j → exit 2 naming %s', async (args, mentions) => {
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('(run with --help'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(mentions);
  });
});

describe('help', () => {
  it('bluegreen control commands show --reason and --by; --note, the older name of --reason, stays hidden', async () => {
    for (const command of ['start', 'promote', 'abort', 'rollback', 'pause', 'resume', 'finish']) {
      const r = await run(['bluegreen', command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('--reason <text>');
      expect(r.stdout).toContain('--by <name>');
      expect(r.stdout).not.toContain('--note');
    }
  });

  it.each(['dev', 'demo', 'status', 'watch', 'plan'])('%s --help has an example and exits 0', async (command) => {
    const r = await run([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Example/);
    expect(r.stdout).toContain('cvmflow ');
  });
});
