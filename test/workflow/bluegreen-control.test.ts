// The blue-green update validators on the running workflow (real Temporal server, activities stubbed): a promote
// before green is healthy, a second promote and a request without a reason are refused with the reason, and change
// nothing; `note`, the older name of `reason`, is accepted; what was accepted is in the audit trail with its instant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  abortBlueGreen,
  awaitBlueGreen,
  BlueGreenRejectedError,
  finishBlueGreen,
  promoteBlueGreen,
} from '../../src/client/bluegreen';
import { blueGreenInput } from '../support/bluegreen-input';
import { uniqueId } from '../support/temporal';
import { type Harness, startHarness, startRun, stubActivities, waitForPhase } from './bluegreen-harness';

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the request was accepted');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(BlueGreenRejectedError);
      return (err as Error).message;
    },
  );

describe('blue-green control validators (real workflow, stubbed activities)', () => {
  const app = uniqueId('bgctl');
  let healthy = false;
  const stub = stubActivities(`${app}-aaaaaa`, { healthy: () => healthy });
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(stub.activities);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses promote before green is healthy, without a reason, and a second time; accepts note for reason', async () => {
    await startRun(h, blueGreenInput(app, { minHealthy: '2s', scaleDownDelay: '1m', previewTtl: '1m' }));
    await waitForPhase(h, app, 'health-gate');

    expect(await refusal(promoteBlueGreen(h.client, app, { by: 'alice', reason: 'too early' }))).toMatch(
      /is not healthy yet: it must pass \/health for 2s in a row/,
    );
    expect(await refusal(abortBlueGreen(h.client, app, { by: 'alice', reason: ' ' }))).toMatch(/reason is required/);
    expect(await refusal(promoteBlueGreen(h.client, app, { by: 'alice' }))).toMatch(/reason is required/);
    expect(await refusal(finishBlueGreen(h.client, app, { by: 'alice', reason: 'x' }))).toMatch(
      /only a run keeping blue warm can be finished early; this one is in health-gate/,
    );

    healthy = true;
    await waitForPhase(h, app, 'preview', (s) => s.greenHealthy && s.preview);
    // `note` is the older name of `reason`: still accepted.
    const promoted = await promoteBlueGreen(h.client, app, { by: 'alice', note: 'preview checked' });
    expect(promoted.phase).toBe('warm');
    expect(await refusal(promoteBlueGreen(h.client, app, { by: 'bob', reason: 'again' }))).toMatch(
      /^already promoted at .* by alice$/,
    );

    await finishBlueGreen(h.client, app, { by: 'carol', reason: 'done watching' });
    const result = await awaitBlueGreen(h.client, app);
    expect(result.outcome).toBe('promoted');
    // Only what was accepted is in the audit trail: the refused requests left nothing behind.
    const audit = result.history.filter((e) => e.by && e.by !== 'cvmflow');
    expect(audit.map((e) => [e.kind, e.by, e.reason])).toEqual([
      ['promote', 'alice', 'preview checked'],
      ['promote', 'alice', 'preview checked'],
      ['finish', 'carol', 'done watching'],
    ]);
    for (const e of audit) expect(e.at).toBe(new Date(e.atMs).toISOString());
    // Nothing ran twice: one switch to green, blue retired once.
    expect(stub.calls.filter((c) => c.name === 'deleteAppCvms')).toHaveLength(1);
  });
});
