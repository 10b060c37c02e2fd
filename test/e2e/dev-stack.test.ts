// `cvmflow dev` as a user runs it: the embedded stack in one process, `cvmflow deploy`, `status`, `watch` and `plan`
// from others with the env lines it printed; a second `cvmflow dev` on the same folder; Ctrl-C; a restart that
// still knows the workflows; and every bad input of the commands — exit 2, one line, no API write.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalaClient } from '../../src/phala/client';
import {
  type Background,
  cleanEnv,
  DEV_ARGS,
  descendants,
  expectUserError,
  isAlive,
  parseExports,
  runCli,
  runInBackground,
} from './cli';

const APP = 'e2e-hello';

let work: string;
let dataDir: string;
let dev: Background;
let env: NodeJS.ProcessEnv;
let exported: Record<string, string>;

function writeSpec(name: string, body: string): string {
  const path = join(work, name);
  writeFileSync(path, body);
  return path;
}

const SPEC = `apiVersion: cvmflow/v1
kind: Deployment
name: ${APP}
compose:
  inline: |
    services:
      web:
        image: nginx:1.27-alpine
placement:
  nodes: [1, 2]
replicas: 2
`;

async function admin<T>(path: string): Promise<T> {
  const keys = JSON.parse(readFileSync(join(dataDir, 'sim-keys.json'), 'utf8')) as { adminToken: string };
  const adminUrl = /Sim admin API\s+(\S+)/.exec(dev.stdout())![1]!;
  const res = await fetch(`${adminUrl}${path}`, { headers: { authorization: `Bearer ${keys.adminToken}` } });
  return (await res.json()) as T;
}

const writesSince = async (seq: number) =>
  (await admin<{ requests: { method: string; path: string }[] }>(`/admin/requests?since=${seq}`)).requests.filter(
    (r) => r.method !== 'GET',
  );
const lastSeq = async () => (await admin<{ lastRequestSeq: number }>('/admin/state')).lastRequestSeq;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cvmflow-e2e-'));
  dataDir = join(work, 'data');
  dev = runInBackground(['dev', '--data-dir', dataDir, ...DEV_ARGS]);
  await dev.waitFor('Ctrl-C stops everything');
  exported = parseExports(dev.stdout());
  env = cleanEnv(exported);
});

afterAll(async () => {
  if (dev && dev.child.exitCode === null) {
    dev.child.kill('SIGINT');
    await dev.exited;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('cvmflow dev', () => {
  it('prints the Temporal UI first, every address, and export lines without secret values', () => {
    const out = dev.stdout();
    const ui = out.indexOf('Temporal UI');
    expect(ui).toBeGreaterThan(-1);
    for (const label of [
      /Codec server\s+http:\/\/127\.0\.0\.1:\d+/,
      /Temporal\s+127\.0\.0\.1:/,
      /Phala API \(sim\)/,
      /Sim admin API/,
      /Chain \(anvil\)/,
      /DstackKms/,
    ])
      expect(out.search(label), String(label)).toBeGreaterThan(ui);
    expect(out).toMatch(/DstackKms\s+0x[0-9a-fA-F]{40}/);
    expect(Object.keys(exported).sort()).toEqual(
      [
        'CVMFLOW_CODEC_KEY_FILE',
        'ETH_RPC_URL',
        'PHALA_CLOUD_API_KEY',
        'PHALA_CLOUD_API_PREFIX',
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'TEMPORAL_TASK_QUEUE',
      ].sort(),
    );
    // The codec key stays in its file; neither output carries it.
    const key = readFileSync(exported.CVMFLOW_CODEC_KEY_FILE!, 'utf8').trim().split(':')[1]!;
    expect(out + dev.stderr()).not.toContain(key);
    expect(readFileSync(join(dataDir, 'dev.env'), 'utf8')).toContain(`TEMPORAL_ADDRESS=${exported.TEMPORAL_ADDRESS}`);
  });

  it('runs `cvmflow deploy --wait` from another process, then `status`, `watch` and `plan` see the result', async () => {
    const spec = writeSpec('app.yaml', SPEC);
    const deployed = await runCli(['deploy', '-f', spec, '--wait', '--json'], { env });
    expect(deployed.code, deployed.stderr).toBe(0);
    const result = JSON.parse(deployed.stdout) as { cvms: { cvmId: string }[] };
    expect(result.cvms).toHaveLength(2);

    const [status, watched, plan] = await Promise.all([
      runCli(['status', APP, '--all', '--json'], { env }),
      runCli(['watch', `deploy-${APP}`, '--json'], { env }),
      runCli(['plan', '-f', spec, '--json'], { env }),
    ]);
    expect(status.code, status.stderr).toBe(0);
    const { workflows } = JSON.parse(status.stdout) as {
      workflows: { workflowId: string; kind: string; phase: string; status: string; cvms: unknown[] }[];
    };
    expect(workflows[0]).toMatchObject({ workflowId: `deploy-${APP}`, kind: 'deploy', phase: 'done' });
    expect(workflows[0]!.status).toBe('COMPLETED');
    expect(workflows[0]!.cvms).toHaveLength(2);

    expect(watched.code, watched.stderr).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ status: 'COMPLETED', progress: { phase: 'done' } });

    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({ exists: true, action: 'none', changes: [] });
  });

  it('`plan` reports drift after a manual stop and a changed spec, and changes nothing', async () => {
    const phala = PhalaClient.fromEnv(env);
    const [first] = (await phala.listCvms()).items.filter((c) => c.name === APP);
    await phala.stopCvm(first!.vm_uuid!);
    await phala.close();
    const seq = await lastSeq();
    const changed = writeSpec(
      'app-v2.yaml',
      SPEC.replace('1.27-alpine', '1.28-alpine').replace('replicas: 2', 'replicas: 3'),
    );
    const plan = await runCli(['plan', '-f', changed, '--json'], { env });
    expect(plan.code, plan.stderr).toBe(0);
    const report = JSON.parse(plan.stdout) as {
      action: string;
      notRunning: string[];
      compose: { changedFields: string[] };
    };
    expect(report.action).toBe('update');
    expect(report.notRunning).toEqual([first!.vm_uuid]);
    expect(report.compose.changedFields).toEqual(['docker_compose_file']);
    expect(await writesSince(seq)).toEqual([]);
  });

  it('refuses a second `cvmflow dev` on the same data folder, naming the running one', async () => {
    const second = await runCli(['dev', '--data-dir', dataDir, ...DEV_ARGS]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('already running');
    expect(second.stderr).toContain(`pid ${dev.child.pid}`);
    expect(second.stderr).not.toMatch(/\n\s+at /);
  });

  // One or two cases a command here (each is a process start); test/unit/cli-*.test.ts covers the rest in-process.
  it('answers bad input of every command with exit 2, one line naming the flag or field, and no API write', async () => {
    const seq = await lastSeq();
    const badSpec = writeSpec('bad.yaml', SPEC.replace('replicas: 2', 'replicas: 0'));
    const badConfig = writeSpec('bad-config.yaml', 'temporal:\n  adress: 127.0.0.1:7233\n');
    const busyPort = exported.TEMPORAL_ADDRESS!.split(':')[1]!;
    const noKey = { ...env, PHALA_CLOUD_API_KEY: '' };
    const cases: [string[], string | RegExp, NodeJS.ProcessEnv?][] = [
      [['dev', '--port', 'abc'], '--port'],
      [['dev', '--data-dir', join(work, 'other'), '--port', busyPort], '--port'],
      [['demo', '--time-scale', '-1'], '--time-scale'],
      [['status', 'not an app'], 'app:'],
      [['watch', 'no-such-workflow'], 'workflow-id'],
      [['plan'], '--file'],
      [['plan', '-f', badSpec], 'replicas'],
      [['plan', '-f', join(work, 'app.yaml')], 'PHALA_CLOUD_API_KEY', noKey],
      [['--config', badConfig, 'status'], 'temporal.adress'],
    ];
    const results = await Promise.all(cases.map(([args, , caseEnv]) => runCli(args, { env: caseEnv ?? env })));
    const problems = results
      .map((r, i) => [cases[i]![0].join(' '), expectUserError(r, cases[i]![1])] as const)
      .filter(([, problem]) => problem);
    expect(problems).toEqual([]);
    expect(await writesSince(seq)).toEqual([]);
  });

  it('stops everything on Ctrl-C, and a restart still knows the workflows', async () => {
    const pid = dev.child.pid!;
    const children = descendants(pid);
    expect(children.length).toBeGreaterThanOrEqual(2); // the Temporal server and anvil
    dev.child.kill('SIGINT');
    expect(await dev.exited).toBe(0);
    expect(children.filter(isAlive)).toEqual([]);
    expect(dev.stderr()).toContain('stopped');

    const again = runInBackground(['dev', '--data-dir', dataDir, ...DEV_ARGS]);
    try {
      await again.waitFor('Ctrl-C stops everything');
      const status = await runCli(['status', '--all', '--json'], { env: cleanEnv(parseExports(again.stdout())) });
      expect(status.code, status.stderr).toBe(0);
      const ids = (JSON.parse(status.stdout) as { workflows: { workflowId: string }[] }).workflows.map(
        (w) => w.workflowId,
      );
      expect(ids).toContain(`deploy-${APP}`);
    } finally {
      const restartedChildren = descendants(again.child.pid!);
      again.child.kill('SIGINT');
      expect(await again.exited).toBe(0);
      expect(restartedChildren.filter(isAlive)).toEqual([]);
    }
  });
});
