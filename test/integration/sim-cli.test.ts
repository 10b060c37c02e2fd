// Conformance: the official CLI phala@1.1.18, unchanged, lists, gets, stops and starts CVMs of the simulator.
// It runs as a child process with a throw-away config dir and never reaches the internet.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commitCvmProvision, createClient, provisionCvm } from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_DELAYS, type SimulatorHandle, startSimulator } from '../../src/simulator';

const run = promisify(execFile);
const KEY = 'phak_sim_cli_conformance';
const PHALA = join(process.cwd(), 'node_modules/.bin/phala');

let sim: SimulatorHandle;
let configDir: string;

async function phala(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PHALA, [...args, '--json'], {
    timeout: 30_000,
    env: {
      PATH: process.env.PATH,
      HOME: configDir,
      PHALA_CLOUD_DIR: configDir,
      PHALA_CLOUD_API_PREFIX: sim.url,
      PHALA_CLOUD_API_KEY: KEY,
      PHALA_DISABLE_UPDATE_CHECK: '1',
      CI: '1',
      NO_COLOR: '1',
    },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const view = (vmUuid: string) => sim.cvms().find((c) => c.vmUuid === vmUuid)!;
const settled = (vmUuid: string, status: string) =>
  expect.poll(() => view(vmUuid).status, { interval: 10, timeout: 5000 }).toBe(status);

async function deploy(name: string): Promise<{ vmUuid: string; appId: string }> {
  const client = createClient({ baseURL: sim.url, apiKey: KEY });
  const p = await provisionCvm(client, {
    name,
    compose_file: { docker_compose_file: 'services:\n  a:\n    image: busybox\n' },
  });
  const c = await commitCvmProvision(client, { app_id: p.app_id!, compose_hash: p.compose_hash });
  return { vmUuid: c.vm_uuid!, appId: p.app_id! };
}

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'cvmflow-phala-cli-'));
  // Timing does not matter here, only order: every transition takes 10 ms.
  sim = await startSimulator({ apiKeys: [KEY], delays: FAST_DELAYS });
});
afterAll(async () => {
  await sim.close();
  rmSync(configDir, { recursive: true, force: true });
});

describe('phala CLI 1.1.18 against the simulator', () => {
  it('lists, gets, stops and starts CVMs', async () => {
    const one = await deploy('cli-app-one');
    const two = await deploy('cli-app-two');
    await settled(one.vmUuid, 'running');
    await settled(two.vmUuid, 'running');

    const list = await phala('cvms', 'list');
    expect(list.success).toBe(true);
    const items = list.items as { cvmName: string; status: string; appId: string }[];
    expect(items.map((i) => [i.cvmName, i.status]).sort()).toEqual([
      ['cli-app-one', 'running'],
      ['cli-app-two', 'running'],
    ]);

    const byName = await phala('cvms', 'get', 'cli-app-one');
    expect(byName).toMatchObject({ success: true, name: 'cli-app-one', status: 'running', vm_uuid: one.vmUuid });
    const legacy = await phala('cvms', 'get', one.vmUuid, '--api-version', '2025-10-28');
    expect(legacy).toMatchObject({ name: 'cli-app-one', in_progress: false, app_id: one.appId });
    expect(typeof legacy.id).toBe('number');

    const stop = await phala('cvms', 'stop', one.vmUuid);
    expect(stop).toMatchObject({ success: true, cvm: { status: 'stopping', vm_uuid: one.vmUuid } });
    await settled(one.vmUuid, 'stopped');
    expect(view(one.vmUuid).history.slice(-2)).toMatchObject([
      { status: 'stopping', op: 'stop' },
      { status: 'stopped', op: null },
    ]);
    const afterStop = await phala('cvms', 'list');
    expect(
      (afterStop.items as { cvmName: string; status: string }[]).find((i) => i.cvmName === 'cli-app-one')?.status,
    ).toBe('stopped');

    const start = await phala('cvms', 'start', `app_${one.appId}`);
    expect(start).toMatchObject({ success: true, cvm: { status: 'starting' } });
    await settled(one.vmUuid, 'running');
    expect(view(two.vmUuid).history.map((h) => h.status)).toEqual(['creating', 'starting', 'running']);

    const stops = sim.requests({ method: 'POST', route: '/cvms/:id/stop' });
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ status: 200, apiKeyId: sim.apiKeyId(KEY) });
    expect(JSON.stringify(sim.requests())).not.toContain(KEY);
  });
});
