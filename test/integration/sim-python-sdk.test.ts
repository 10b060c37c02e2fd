// Conformance: the official Python SDK (PyPI phala-cloud 0.2.0, unchanged, at its default API version 2026-06-23)
// runs the whole CVM lifecycle of seed 000 against the simulator over loopback: test/conformance/
// python_sdk_lifecycle.py as a child process of the project's .tools/venv (installed by scripts/ensure-python-sdk.ts
// from npm's postinstall and .ci/run). The simulator's own records then confirm what the SDK reported.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locatePythonSdk, PYTHON_SDK_VERSION } from '../../src/dev/python-sdk';
import { FAST_DELAYS, type SimulatorHandle, startSimulator } from '../../src/simulator';

const run = promisify(execFile);
const KEY = 'phak_sim_python_sdk';
const SCRIPTS = join(process.cwd(), 'test/conformance');

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY], delays: FAST_DELAYS });
});
afterAll(() => sim.close());

interface Step {
  step: string;
  [k: string]: unknown;
}

/** Runs one conformance script with the SDK's own environment variables; its JSON lines are the steps it did. */
async function runScript(script: string): Promise<Step[]> {
  const python = locatePythonSdk();
  if (!python) {
    throw new Error(
      `phala-cloud ${PYTHON_SDK_VERSION} is not installed in .tools/venv: run \`npx tsx scripts/ensure-python-sdk.ts\``,
    );
  }
  try {
    const { stdout } = await run(python, [join(SCRIPTS, script)], {
      timeout: 60_000,
      // Only what the SDK reads: no proxy settings, so nothing leaves loopback.
      env: { PATH: process.env.PATH, PHALA_CLOUD_API_PREFIX: sim.url, PHALA_CLOUD_API_KEY: KEY },
    });
    return stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Step);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`the Python SDK run of ${script} failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

describe(`phala-cloud ${PYTHON_SDK_VERSION} (Python) against the simulator`, () => {
  it('runs seed 000: provision, commit twice, watch, get by every id form, power actions, replicate, list, delete', async () => {
    const steps = await runScript('python_sdk_lifecycle.py');
    const by = (name: string) => steps.filter((s) => s.step === name);

    expect(steps.map((s) => s.step)).toEqual([
      'client',
      'provision',
      'commit',
      'watch',
      'get',
      'shutdown',
      'start',
      'stop',
      'start',
      'restart',
      'replicate',
      'list',
      'delete',
      'done',
    ]);
    expect(by('client')[0]).toMatchObject({ version: '2026-06-23' });
    const commit = by('commit')[0]!;
    expect(commit.id).toMatch(/^cvm_/);
    expect(commit.again).toBe(commit.id);
    expect(by('get')[0]!.forms).toEqual(['app_id', 'cvmId', 'cvm_id', 'id', 'instance_id', 'name', 'uuid']);
    expect(by('shutdown')[0]).toMatchObject({ status: 'shutting_down', reached: 'stopped' });
    expect(by('restart')[0]).toMatchObject({ status: 'restarting', reached: 'running' });

    // What the simulator saw: every request at 2026-06-23, and both CVMs gone through the states the SDK reported.
    const versions = new Set(sim.requests().map((r) => r.apiVersion));
    expect([...versions]).toEqual(['2026-06-23']);
    const all = sim.cvms({ includeDeleted: true }).filter((c) => c.name === 'py-lifecycle');
    expect(all).toHaveLength(2);
    const source = all.find((c) => c.hashid === commit.id)!;
    const statuses = source.history.map((h) => h.status);
    for (const s of ['shutting_down', 'stopping', 'restarting', 'deleting']) expect(statuses).toContain(s);
    expect(all.every((c) => c.status === 'deleted' || c.history.at(-1)?.status === 'deleted')).toBe(true);
  });

  it('lists and gets KMS contracts at 2026-06-23, and KMS nodes where the SDK pins 2026-05-22', async () => {
    const since = sim.requests().at(-1)?.seq ?? 0;
    const steps = await runScript('python_sdk_kms.py');
    expect(steps.map((s) => s.step)).toEqual(['contracts', 'nodes']);
    expect(steps[0]!.ids).toEqual([expect.stringMatching(/^kc_/)]);
    expect(steps[1]!.ids).toEqual(['kms_Ph4la5imKms1']);
    const kms = sim.requests({ sinceSeq: since }).map((r) => `${r.apiVersion} ${r.path}`);
    expect(kms).toEqual([
      '2026-06-23 /api/v1/kms',
      '2026-06-23 /api/v1/kms/phala',
      expect.stringMatching(/^2026-06-23 \/api\/v1\/kms\/kc_/),
      '2026-05-22 /api/v1/kms',
      '2026-05-22 /api/v1/kms/kms_Ph4la5imKms1',
    ]);
  });
});
