// Blue-green with attestation required, on the real stack: green is deployed by the deploy pipeline, whose
// attestation gate holds every green CVM to the compose it deployed. A green that attests another compose fails
// before any traffic could reach it (blue keeps serving, green is removed); a matching green is promoted and its
// evidence is in the blue-green status.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitBlueGreen, getBlueGreenStatus } from '../../src/client/bluegreen';
import type { BlueGreenResult } from '../../src/workflows/bluegreen-types';
import { startStack, type TestStack } from '../support/stack';
import { bgSpec, compose, deployBlue, hit, launch, liveCvms, newApp, startProxy, waitFor } from './bluegreen-support';

async function failedResult(p: Promise<BlueGreenResult>): Promise<BlueGreenResult> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return ((err as WorkflowFailedError).cause as { details?: unknown[] }).details?.[0] as BlueGreenResult;
}

describe('blue-green promotion gated on attestation', () => {
  let stack: TestStack;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    stack = await startStack({ activities: { attestationPollMs: 100 } });
    await stack.startWorker();
  });
  afterAll(async () => {
    for (const c of closers) await c();
    await stack?.close();
  });

  it('refuses a green that attests another compose, then promotes one that attests the deployed compose', async () => {
    const app = newApp();
    const proxy = await startProxy(app);
    closers.push(() => proxy.close());
    const blue = await deployBlue(stack, app, proxy);
    const attested = { compose: { inline: compose('1.28') }, attestation: { require: true }, autoPromote: true };

    // Blue exists already and is not read again: only the green made from here on matches the glob.
    stack.sim.addFaults({ cvms: [{ id: 'bad-green', cvm: `${app}-*`, attestation: 'wrong-compose-hash' }] });
    const refused = await launch(stack, bgSpec(app, proxy, attested));
    const result = await failedResult(awaitBlueGreen(stack.client, app, refused.runId));
    stack.sim.removeFault('bad-green');
    expect(result.outcome).toBe('failed');
    expect(result.summary).toMatch(/failed attestation: compose-hash: expected ([0-9a-f]{64}), got (?!\1)[0-9a-f]{64}/);
    expect(result.active?.name).toBe(blue.name);
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);
    await waitFor('refused green deleted', async () =>
      liveCvms(stack, app).some((c) => c.name === result.green) ? undefined : true,
    );

    const accepted = await launch(stack, bgSpec(app, proxy, attested));
    const promoted = await awaitBlueGreen(stack.client, app, accepted.runId);
    expect(promoted.outcome).toBe('promoted');
    expect((await hit(proxy.urls(app).active)).app).toBe(promoted.active?.name);
    const { status } = await getBlueGreenStatus(stack.client, app);
    const evidence = status.history.filter((h) => h.kind === 'attested');
    expect(evidence).toHaveLength(promoted.active!.cvmIds.length);
    expect(evidence[0]!.detail).toMatch(
      new RegExp(
        `compose ${promoted.active!.composeHash}, rtmr3 [0-9a-f]{24}…, quote [0-9a-f]{16}… unsigned \\(not verified\\)`,
      ),
    );
  });
});
