// `cvmflow sim`: URL on the first stdout line, admin URL on the second, clean exit on SIGTERM, and bad flags
// reported in one line that names the flag, with exit code 2.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerSimCommand, runSim } from '../../src/cli/commands/sim';
import { UsageError } from '../../src/cli/errors';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON bodies
type Json = any;
const json = async (res: Response | Promise<Response>): Promise<Json> => (await res).json();

const dir = mkdtempSync(join(tmpdir(), 'cvmflow-sim-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Runs the command the way the cvmflow binary does (tsx, commander), in a child process.
const SCRIPT = `
import { Command } from 'commander';
import { registerSimCommand } from ${JSON.stringify(join(process.cwd(), 'src/cli/commands/sim.ts'))};
const program = new Command('cvmflow');
registerSimCommand(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;

function startCli(args: string[]) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', 'sim', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return { child, exited, out: () => stdout, err: () => stderr };
}

function parseInProcess(args: string[]) {
  const program = new Command('cvmflow').exitOverride().configureOutput({ writeErr: () => undefined });
  registerSimCommand(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program.parseAsync(['sim', ...args], { from: 'user' });
}

describe('cvmflow sim', () => {
  it('prints the base URL first and the admin URL second, serves, and exits cleanly on SIGTERM', async () => {
    const cli = startCli([
      '--api-key',
      'k-one',
      '--api-key',
      'k-two',
      '--port',
      '0',
      '--time-scale',
      '0.01',
      '--admin-token',
      'adm-token',
    ]);
    await expect.poll(() => cli.out().split('\n').length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    const [url, adminUrl] = cli.out().split('\n');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
    expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const me = await fetch(`${url}/auth/me`, { headers: { 'X-API-Key': 'k-two' } });
    expect((await json(me)).user.username).toBe('sim-user-2');
    const state = await fetch(`${adminUrl}/admin/state`, { headers: { Authorization: 'Bearer adm-token' } });
    expect(await json(state)).toMatchObject({ timeScale: 0.01, apiKeyIds: [expect.any(String), expect.any(String)] });
    cli.child.kill('SIGTERM');
    const [code] = await cli.exited;
    expect(code).toBe(0);
    expect(cli.out().trim().split('\n')).toHaveLength(2);
  });

  it('exits 2 with a one-line error naming the flag', async () => {
    const cli = startCli(['--api-key', 'k', '--time-scale', '-1']);
    const [code] = await cli.exited;
    expect(code).toBe(2);
    expect(cli.err().trim().split('\n')).toHaveLength(1);
    expect(cli.err()).toContain('--time-scale');
  });

  it('rejects bad values, a missing key and a bad fault profile as usage errors', async () => {
    await expect(parseInProcess(['--api-key', 'k', '--port', '70000'])).rejects.toSatisfy(
      (e) => e instanceof CommanderError && e.message.includes('--port') && e.exitCode === 2,
    );
    await expect(parseInProcess([])).rejects.toSatisfy(
      (e) => e instanceof CommanderError && e.message.includes('--api-key'),
    );
    const profile = join(dir, 'bad-faults.json');
    writeFileSync(profile, JSON.stringify({ routes: [{ path: '/cvms', status: 200 }] }));
    const flags = {
      host: '127.0.0.1',
      port: 0,
      adminPort: 0,
      apiKey: ['k'],
      timeScale: 1,
      faults: profile,
      sseStreamsPerKey: 5,
    };
    await expect(runSim(flags)).rejects.toSatisfy(
      (e) => e instanceof UsageError && e.message.startsWith('--faults:') && e.message.includes('routes.0.status'),
    );
  });
});
