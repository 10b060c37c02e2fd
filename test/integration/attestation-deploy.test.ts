// The attestation gate of the deploy pipeline through the real stack (Temporal dev server, worker, simulator over
// HTTP): a CVM whose attestation proves the deployed compose passes and its evidence is in history and the result;
// one that attests another compose is refused with the measurement named and rolled back; an attestation that is
// late is waited for, one that never comes fails at the gate's deadline.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { startDeploy, toDeployInput } from '../../src/client/deploy';
import { deployWorkflowId } from '../../src/workflows/deploy-types';
import { decodedHistoryText } from '../support/history';
import { recordHistory } from '../support/replay';
import { testSpec } from '../support/specs';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEY_TEXT, TEST_CODEC_KEYS, temporalTarget } from '../support/temporal';

function failureMessage(err: unknown): string {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause?.message ?? '';
}

/** The CLI in this process against the test stack: exit code and stdout. */
async function cli(taskQueue: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const env = {
    TEMPORAL_ADDRESS: temporalTarget().address,
    TEMPORAL_NAMESPACE: temporalTarget().namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    CVMFLOW_CODEC_KEY: TEST_CODEC_KEY_TEXT,
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let out = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await main(['node', 'cvmflow', ...args]), out };
  } finally {
    stdout.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('deploy with attestation required, on the real stack', () => {
  let stack: TestStack;
  const deploy = (spec: ReturnType<typeof testSpec>) =>
    startDeploy(spec, { client: stack.client, taskQueue: stack.taskQueue, codecKeys: TEST_CODEC_KEYS, env: {} });
  /** Statuses of the attestation reads answered after request `since` (the stack's log is shared by the tests). */
  const attestationReads = (since: number) =>
    stack.sim
      .requests()
      .filter((r) => r.seq > since && r.route === '/cvms/:id/attestation')
      .map((r) => r.status);

  beforeAll(async () => {
    stack = await startStack({ sim: { delays: { delete: 10 } }, activities: { attestationPollMs: 100 } });
    await stack.startWorker();
  });
  afterAll(() => stack?.close());

  it('accepts CVMs that attest the deployed compose; the verdict is in history and the result', async () => {
    const spec = testSpec({ replicas: 2, attestation: { require: true } });
    const handle = await deploy(spec);
    const result = await handle.result();
    expect(result.cvms).toHaveLength(2);
    for (const cvm of result.cvms) {
      expect(cvm.attestation).toMatchObject({
        composeHash: result.composeHash,
        quoteVerified: false,
        quoteStatus: 'unsigned (not verified)',
      });
      expect(cvm.attestation?.registers?.rtmr3).toMatch(/^[0-9a-f]{96}$/);
    }
    const history = await decodedHistoryText(handle.workflowId);
    expect(history).toContain('"name":"rtmr3-replay","ok":true');
    expect(history).toContain(`"name":"compose-hash","ok":true,"expected":"${result.composeHash}"`);
    await recordHistory(handle, 'deploy-attested');

    // `cvmflow status` shows which CVMs passed the gate; --json carries the evidence.
    const text = await cli(stack.taskQueue, 'status', spec.name, '--all');
    expect(text.code).toBe(0);
    expect(text.out).toContain(`${result.cvms[0]!.cvmId.slice(0, 8)} running attested`);
    const json = await cli(stack.taskQueue, 'status', spec.name, '--all', '--json');
    const [line] = (JSON.parse(json.out) as { workflows: { cvms: { attestation?: { composeHash: string } }[] }[] })
      .workflows;
    expect(line!.cvms.map((c) => c.attestation?.composeHash)).toEqual([result.composeHash, result.composeHash]);
  });

  it('refuses a CVM that attests another compose, names the hashes, and rolls the deploy back', async () => {
    const spec = testSpec({ attestation: { require: true } });
    stack.sim.addFaults({ cvms: [{ cvm: spec.name, attestation: 'wrong-compose-hash' }] });
    const handle = await deploy(spec);
    const err = await handle.result().catch((e: unknown) => e);
    const message = failureMessage(err);
    expect(message).toMatch(
      /failed in phase running: .*failed attestation: compose-hash: expected ([0-9a-f]{64}), got (?!\1)[0-9a-f]{64}; rolled back/,
    );
    expect(
      stack.sim.cvms().filter((c) => c.name === spec.name && c.status !== 'deleting' && c.status !== 'deleted'),
    ).toEqual([]);
  });

  it('refuses an OS image outside the spec allow-list, and a log that does not replay', async () => {
    const image = testSpec({ attestation: { require: true, osImages: ['ab'.repeat(32)] } });
    const refusedImage = await deploy(image);
    expect(failureMessage(await refusedImage.result().catch((e: unknown) => e))).toMatch(
      new RegExp(`failed attestation: os-image: expected one of \\[${'ab'.repeat(32)}\\], got [0-9a-f]{64}`),
    );
    const log = testSpec({ attestation: { require: true }, onFailure: 'keep' });
    stack.sim.addFaults({ cvms: [{ cvm: log.name, attestation: 'non-replaying-log' }] });
    const refusedLog = await deploy(log);
    expect(failureMessage(await refusedLog.result().catch((e: unknown) => e))).toMatch(
      /failed attestation: rtmr3-replay: expected [0-9a-f]{96}, got [0-9a-f]{96}; kept everything/,
    );
    await recordHistory(refusedLog, 'deploy-attestation-refused');
  });

  it('waits for an attestation that is late, and fails at the deadline for one that never comes', async () => {
    const late = testSpec({ attestation: { require: true } });
    // ~1.5 s of real time at the stack's time scale (0.002).
    stack.sim.addFaults({ cvms: [{ cvm: late.name, attestationDelayMs: 750_000 }] });
    const since = stack.sim.requests().at(-1)?.seq ?? 0;
    const result = await (await deploy(late)).result();
    expect(result.cvms[0]?.attestation?.composeHash).toBe(result.composeHash);
    const reads = attestationReads(since);
    expect(reads.filter((s) => s === 409).length).toBeGreaterThan(1);
    expect(reads.at(-1)).toBe(200);

    const never = testSpec({ attestation: { require: true } });
    stack.sim.addFaults({ cvms: [{ cvm: never.name, attestationDelayMs: 86_400_000_000 }] });
    const input = toDeployInput(never, undefined);
    const err = await stack.client.workflow
      .execute('deployCvm', {
        taskQueue: stack.taskQueue,
        workflowId: deployWorkflowId(never.name),
        args: [{ ...input, attestation: { ...input.attestation!, timeoutMs: 1000 } }],
      })
      .catch((e: unknown) => e);
    expect(failureMessage(err)).toMatch(/presented no attestation within 1000 ms/);
  });
});
