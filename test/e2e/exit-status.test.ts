// What a user's automation reads, from outside: the real `cvmflow` binary as a subprocess against `cvmflow dev
// --no-worker` with its own `cvmflow worker` process (and `cvmflow serve --local-router` for blue-green). For each
// command that starts or waits on a workflow: the exit status (0 ok, 1 failed / cancelled / refused, 2 bad input)
// and that `--json` output parses, for success, workflow failure, cancellation, refusal and bad input.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/dev/free-port';
import { type Background, type CliResult, cleanEnv, DEV_ARGS, parseExports, runCli, runInBackground } from './cli';

const ROUTER_SECRET = 'exit-status-router-secret-0123456789';

let work: string;
let dataDir: string;
let dev: Background;
let worker: Background;
let serve: Background | undefined;
let env: NodeJS.ProcessEnv;

const compose = (image: string) => `  inline: |\n    services:\n      web:\n        image: ${image}\n`;

function writeFile(name: string, body: string): string {
  const path = join(work, name);
  writeFileSync(path, body);
  return path;
}

const deploySpec = (app: string, extra = '') =>
  writeFile(
    `${app}.yaml`,
    `apiVersion: cvmflow/v1\nkind: Deployment\nname: ${app}\ncompose:\n${compose('nginx:1.27-alpine')}${extra}`,
  );

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const { adminToken } = JSON.parse(readFileSync(join(dataDir, 'sim-keys.json'), 'utf8')) as { adminToken: string };
  const adminUrl = /Sim admin API\s+(\S+)/.exec(dev.stdout())![1]!;
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.ok, `${method} ${path}: ${res.status}`).toBe(true);
  return res.json();
}

/** stdout parsed as one JSON document; the test fails with the whole output if it is not one. */
function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const cli = (args: string[], timeoutMs = 90_000) => runCli(args, { env, timeoutMs });

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cvmflow-exit-'));
  dataDir = join(work, 'data');
  dev = runInBackground(['dev', '--no-worker', '--data-dir', dataDir, ...DEV_ARGS]);
  await dev.waitFor('Ctrl-C stops everything');
  env = cleanEnv({ ...parseExports(dev.stdout()), CVMFLOW_ROUTER_SECRET: ROUTER_SECRET });
  worker = runInBackground(['worker'], { env });
  await worker.waitFor('cvmflow worker: polling task queue', 60_000, 'stderr');
});

afterAll(async () => {
  for (const p of [serve, worker, dev]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGINT');
      await p.exited;
    }
  }
  rmSync(work, { recursive: true, force: true });
});

describe('exit status and --json of the real binary', { timeout: 180_000 }, () => {
  it('`cvmflow dev --no-worker` starts no worker and exports what the user’s own worker needs', () => {
    const exported = parseExports(dev.stdout());
    expect(dev.stdout()).toMatch(/Worker\s+none \(--no-worker\)/);
    expect(exported.PRIVATE_KEY_FILE).toBe(join(dataDir, 'chain-dev.key'));
    expect(exported.ETH_CHAIN_ID).toMatch(/^\d+$/);
    expect(readFileSync(exported.PRIVATE_KEY_FILE!, 'utf8').trim()).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('deploy: 0 and the result on success; status and cancel --json parse; cancel of a finished deploy is 1', async () => {
    const app = 'exit-ok';
    const ok = await cli(['deploy', '-f', deploySpec(app, 'replicas: 2\n'), '--wait', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(json<{ cvms: unknown[] }>(ok).cvms).toHaveLength(2);
    // The deployment ran on the user's own worker process, which registered on-chain support from the exports.
    expect(worker.stderr()).toContain('on-chain KMS enabled');

    const status = await cli(['deploy', 'status', app, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({ status: 'COMPLETED', phase: 'done' });

    const cancel = await cli(['deploy', 'cancel', app, '--json']);
    expect(cancel.code).toBe(1);
    expect(json(cancel)).toMatchObject({ exitCode: 1, error: { code: 'COMMAND_FAILED' } });
    expect(cancel.stderr).toMatch(/no deployment of exit-ok is running: the latest .* ended completed/);
    const plain = await cli(['deploy', 'cancel', 'never-deployed']);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toContain('no deployment of never-deployed was found');
  });

  it('deploy --wait: 1 and a JSON error when the workflow fails', async () => {
    const app = 'exit-fail';
    // The API refuses the provision for good (a 4xx is not retried): the deployment fails in its first phase.
    await admin('POST', '/admin/faults', {
      routes: [{ method: 'POST', path: '/cvms/provision', status: 422, body: { detail: 'no capacity' }, count: 1 }],
    });
    const failed = await cli(['deploy', '-f', deploySpec(app), '--wait', '--json']);
    expect(failed.code, failed.stderr).toBe(1);
    const out = json<{ status: string; error: string }>(failed);
    expect(out).toMatchObject({ app, status: 'failed' });
    expect(out.error).toMatch(/provision/);
    expect(failed.stderr).toContain(out.error);
    const text = await cli(['deploy', 'status', app]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('[workflow failed]');
    // `watch` of the ended workflow: one JSON document (its outcome), exit 1.
    const watched = await cli(['watch', `deploy-${app}`, '--json']);
    expect(watched.code).toBe(1);
    expect(json(watched)).toMatchObject({ status: 'FAILED' });
  });

  it('power: apply, pause, a refused second pause (2), resume and delete, each with --json', async () => {
    const spec = writeFile(
      'power.yaml',
      'apiVersion: cvmflow/v1\nkind: PowerSchedule\nname: exit-power\ntargets: { apps: [exit-ok] }\ncalendar: { timezone: UTC, default: running }\n',
    );
    const applied = await cli(['power', 'apply', '-f', spec, '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    json(applied);
    const paused = await cli(['power', 'pause', 'exit-power', '--note', 'incident', '--json']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(json(paused)).toMatchObject({ note: 'incident' });
    const again = await cli(['power', 'pause', 'exit-power', '--json']);
    expect(again.code).toBe(2);
    expect(json<{ error: { message: string } }>(again).error.message).toMatch(/^rejected: already paused/);
    const resumed = await cli(['power', 'resume', 'exit-power', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(json(resumed)).toHaveProperty('pausedForMs');
    const deleted = await cli(['power', 'delete', 'exit-power', '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    json(deleted);
  });

  it('deploy: a busy app is refused with 1; a cancelled --wait exits 1 with status cancelled', async () => {
    const app = 'exit-cancel';
    await admin('POST', '/admin/faults', { cvms: [{ cvm: app, neverReachTarget: true }] });
    const spec = deploySpec(app);
    const waiting = runInBackground(['deploy', '-f', spec, '--wait', '--json'], { env });
    await eventually('the deployment is watching its CVM', async () => {
      const s = await cli(['deploy', 'status', app, '--json']);
      return s.code === 0 && (json<{ phase: string }>(s).phase === 'running' || s.stdout.includes('"watch'));
    });

    const busy = await cli(['deploy', '-f', spec, '--json']);
    expect(busy.code).toBe(1);
    expect(json(busy)).toMatchObject({ app, status: 'refused' });
    expect(busy.stderr).toMatch(/already has a deployment running/);

    const cancel = await cli(['deploy', 'cancel', app, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(json(cancel)).toMatchObject({ app, status: 'cancelling', workflowId: `deploy-${app}` });

    expect(await waiting.exited).toBe(1);
    expect(JSON.parse(waiting.stdout())).toMatchObject({ app, status: 'cancelled' });
    expect(waiting.stderr()).toContain('was cancelled');
  });

  it('bad input: 2, one line on stderr, and the error as JSON on stdout with --json', async () => {
    const bad = writeFile('two.yaml', `${readFileSync(deploySpec('exit-bad'), 'utf8')}---\nkind: Deployment\n`);
    const r = await cli(['deploy', '-f', bad, '--json']);
    expect(r.code).toBe(2);
    expect(json(r)).toMatchObject({ exitCode: 2, error: { code: 'SPEC_INVALID' } });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/line \d+: a second YAML document starts here/);
    const flag = await cli(['rollout', 'start', '--json', '--bogus']);
    expect(flag.code).toBe(2);
    expect(json(flag)).toMatchObject({ exitCode: 2 });
  });

  it('rollout start --wait: 0 when it succeeds, 1 and a JSON error when its failure budget stops it', async () => {
    for (const app of ['exit-fleet-a', 'exit-fleet-b']) {
      const d = await cli(['deploy', '-f', deploySpec(app), '--wait']);
      expect(d.code, d.stderr).toBe(0);
    }
    const rollout = (name: string, image: string) =>
      writeFile(
        `${name}.yaml`,
        `apiVersion: cvmflow/v1\nkind: Rollout\nname: ${name}\ntargets:\n  selector:\n    name: "exit-fleet-*"\nversion:\n  compose:\n  ${compose(image).replace(/\n {2}/g, '\n    ')}strategy:\n  waveSize: 1\nhealth:\n  minHealthy: 2s\n`,
      );
    const good = await cli([
      'rollout',
      'start',
      '-f',
      rollout('exit-roll-ok', 'nginx:1.28-alpine'),
      '--wait',
      '--json',
    ]);
    expect(good.code, good.stderr).toBe(0);
    expect(json(good)).toMatchObject({ outcome: 'succeeded', counts: { healthy: 2 } });

    // The first CVM crashes right after its update: the budget (0) is spent, the rollout stops and reverts.
    await admin('POST', '/admin/faults', { cvms: [{ cvm: 'exit-fleet-a', crashAfterMs: 100, count: 1 }] });
    const bad = await cli([
      'rollout',
      'start',
      '-f',
      rollout('exit-roll-bad', 'nginx:1.29-alpine'),
      '--wait',
      '--json',
    ]);
    expect(bad.code, bad.stderr).toBe(1);
    const failed = json<{ status: string; rolloutId: string; error: string }>(bad);
    expect(failed).toMatchObject({ rolloutId: 'rollout-exit-roll-bad', status: 'failed' });
    expect(failed.error).toMatch(/failure budget exceeded: 1 CVMs failed, 0 allowed/);
    expect(bad.stderr).toContain(failed.error);

    const status = await cli(['rollout', 'status', failed.rolloutId, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({ rolloutId: failed.rolloutId });
  });

  it('bluegreen start: 1 for a rejected trigger and for a run that ends unpromoted; status --json parses', async () => {
    const [control, active, preview, servePort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const app = 'exit-bg';
    const spec = writeFile(
      'bg.yaml',
      `apiVersion: cvmflow/v1\nkind: BlueGreen\nname: ${app}\ncompose:\n${compose('nginx:1.27-alpine')}minHealthy: 1s\npreviewTtl: 20s\nhealth:\n  interval: 1s\nrouter:\n  type: local\n  controlUrl: http://127.0.0.1:${control}\n  activePort: ${active}\n  previewPort: ${preview}\n  secretFromEnv: CVMFLOW_ROUTER_SECRET\n`,
    );
    serve = runInBackground(['serve', '--spec', spec, '--port', String(servePort), '--local-router'], {
      env: { ...env, CVMFLOW_TRIGGER_TOKEN: 'exit-status-trigger-token' },
    });
    await serve.waitFor('accepting triggers', 60_000, 'stderr');

    const first = runInBackground(['bluegreen', 'start', '-f', spec, '--reason', 'test', '--wait', '--json'], { env });
    await eventually('green is in preview', async () => {
      const s = await cli(['bluegreen', 'status', app, '--json']);
      return s.code === 0 && json<{ status: { phase: string } }>(s).status.phase === 'preview';
    });
    // --note: the older name of --reason, still accepted.
    const second = await cli(['bluegreen', 'start', '-f', spec, '--note', 'again', '--json']);
    expect(second.code).toBe(1);
    expect(json(second)).toMatchObject({ status: 'refused', error: expect.stringContaining('is in progress') });

    // Nobody promotes: previewTtl ends the run (expired), so `start --wait` ends unpromoted.
    expect(await first.exited).toBe(1);
    expect(JSON.parse(first.stdout())).toMatchObject({ app, outcome: 'expired' });
    expect(first.stderr()).toContain('was not promoted');
    // `watch` of that run: the workflow completed, but not successfully — exit 1.
    const watched = await cli(['watch', `bluegreen-${app}`, '--json']);
    expect(watched.code).toBe(1);
    expect(json(watched)).toMatchObject({ status: 'COMPLETED', succeeded: false, result: { outcome: 'expired' } });
  });

  it('a client that cannot reach Temporal says where it looked and which variable sets it, and exits 1', async () => {
    const port = await freePort();
    const r = await runCli(['deploy', 'status', 'x'], { env: { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the Temporal server at 127.0.0.1:${port}`);
    expect(r.stderr).toContain('TEMPORAL_ADDRESS');
  });
});
