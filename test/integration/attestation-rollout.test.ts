// A rollout wave with attestation required, on the real stack: each CVM's health gate also requires its attestation
// to prove the rolled-out compose. A CVM that attests another compose fails its step with the measurement named
// (and, with autoRevert, goes back to its previous compose, counting against the failure budget); the others pass
// with their evidence recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRolloutStatus, startRollout } from '../../src/client/rollout';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS, uniqueId } from '../support/temporal';

const V1 = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const V2 = 'services:\n  web:\n    image: nginx:1.28-alpine\n';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({
    sim: { timeScale: 0.005, delays: { delete: 10 } },
    activities: { attestationPollMs: 100 },
  });
  await stack.startWorker();
});
afterAll(() => stack?.close());

const fleet = (prefix: string) => stack.sim.cvms().filter((c) => c.name.startsWith(`${prefix}-`));

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('rollout wave gated on attestation', () => {
  it('refuses the CVM that attests another compose and accepts the ones that attest the rolled-out compose', async () => {
    const prefix = uniqueId('att');
    for (const i of [0, 1, 2]) {
      const p = await stack.phala.provisionCvm({ name: `${prefix}-0${i}`, compose_file: { docker_compose_file: V1 } });
      await stack.phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
    }
    await until('fleet running', () => fleet(prefix).every((c) => c.status === 'running' && c.operation === null));
    const original = new Map(fleet(prefix).map((c) => [c.name, c.composeHash]));
    stack.sim.addFaults({ cvms: [{ cvm: `${prefix}-01`, attestation: 'wrong-compose-hash' }] });

    const spec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'Rollout',
        name: uniqueId('attr'),
        targets: { selector: { name: `${prefix}-*` } },
        version: { compose: { inline: V2 } },
        strategy: { waveSize: 3, maxParallel: 3, maxUnavailable: 3 },
        failureBudget: 1,
        attestation: { require: true },
      },
      { source: 'test', baseDir: '.', kinds: ['Rollout'] },
    ) as RolloutSpec;
    const handle = await startRollout(spec, {
      client: stack.client,
      taskQueue: stack.taskQueue,
      codecKeys: TEST_CODEC_KEYS,
      tuning: { lockPollMs: 100, healthPollMs: 50, heartbeatTimeoutMs: 5000 },
    });
    const result = await handle.result();
    expect(result.outcome).toBe('succeeded');
    expect(result.counts).toEqual({ healthy: 2, reverted: 1 });
    // Each app's child runs as deploy-<app>: -00 attested, -01 refused and went back (autoRevert).
    await recordHistory(stack.client.workflow.getHandle(`deploy-${prefix}-00`), 'rollout-app-attested');
    await recordHistory(stack.client.workflow.getHandle(`deploy-${prefix}-01`), 'rollout-app-attestation-refused');

    const status = await getRolloutStatus(stack.client, handle.workflowId);
    const byName = new Map(status.cvms.map((c) => [c.name, c]));
    const refused = byName.get(`${prefix}-01`)!;
    expect(refused.state).toBe('reverted');
    expect(refused.reason).toMatch(/failed attestation: compose-hash: expected ([0-9a-f]{64}), got (?!\1)[0-9a-f]{64}/);
    expect(refused.attested).toBeUndefined();
    for (const name of [`${prefix}-00`, `${prefix}-02`]) {
      const c = byName.get(name)!;
      expect(c.state).toBe('healthy');
      expect(c.attested).toMatch(
        new RegExp(`^compose ${c.to}, rtmr3 [0-9a-f]{24}…, quote unsigned \\(not verified\\)$`),
      );
    }
    const sim = new Map(fleet(prefix).map((c) => [c.name, c.composeHash]));
    expect(sim.get(`${prefix}-01`)).toBe(original.get(`${prefix}-01`));
    expect(sim.get(`${prefix}-00`)).toBe(byName.get(`${prefix}-00`)!.to);
  });
});
