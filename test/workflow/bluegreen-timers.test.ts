// The blue-green run's timers on the real workflow and a real Temporal server, activities stubbed: an unpromoted
// preview expires at previewTtl (green torn down, traffic stays on blue), and after promotion blue is retired only
// once scaleDownDelay has passed (a rollback stays possible until then).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitBlueGreen, getBlueGreenStatus } from '../../src/client/bluegreen';
import { blueGreenInput } from '../support/bluegreen-input';
import { uniqueId } from '../support/temporal';
import { type Harness, startHarness, startRun, stubActivities, tables, waitForPhase } from './bluegreen-harness';

describe('blue-green timers (real workflow, stubbed activities)', () => {
  const app = uniqueId('bgtimer');
  const stub = stubActivities(`${app}-aaaaaa`);
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(stub.activities);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('an unpromoted preview expires at previewTtl: green deleted, traffic on blue, the preview withdrawn', async () => {
    const name = `${app}-ttl`;
    const started = Date.now();
    await startRun(h, blueGreenInput(name, { previewTtl: '1s' }));
    const preview = await waitForPhase(h, name, 'preview', (s) => s.preview);
    expect(preview.promotion.expiresAtMs).toBeGreaterThan(Date.now());
    expect(preview.promotion.expiresAtMs! - Date.now()).toBeLessThanOrEqual(1000);
    const result = await awaitBlueGreen(h.client, name);
    expect(result.outcome).toBe('expired');
    expect(result.summary).toContain('not promoted within previewTtl (1s)');
    expect(result.active?.name).toBe(stub.blue.name);

    const green = result.green;
    const deleted = stub.calls.filter((c) => c.name === 'deleteAppCvms').map((c) => (c.req as { appId: string }).appId);
    expect(deleted).toContain(`app-${green}`);
    expect(deleted).not.toContain(stub.blue.appId);
    const routes = tables(stub.calls).filter((t) => t.app === name);
    const shown = routes.find((t) => t.preview?.name === green)!;
    expect(shown).toBeDefined();
    expect(routes.at(-1)).toMatchObject({ active: { name: stub.blue.name }, preview: null });
    // The preview lasted previewTtl, and the whole run took seconds.
    expect(routes.at(-1)!.atMs - shown.atMs).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(15_000);
    const { status } = await getBlueGreenStatus(h.client, name);
    expect(status).toMatchObject({ phase: 'done', outcome: 'expired', active: 'blue', preview: false });
  });

  it('blue is retired only after scaleDownDelay; while it waits, a rollback is possible', async () => {
    const name = `${app}-delay`;
    await startRun(
      h,
      blueGreenInput(name, { autoPromote: true, autoPromoteAfter: '0s', scaleDownDelay: '2s', previewTtl: '1m' }),
    );
    const warm = await waitForPhase(h, name, 'warm');
    expect(warm.active).toBe('green');
    expect(warm.rollbackUntilMs).toBeGreaterThan(Date.now());
    const result = await awaitBlueGreen(h.client, name);
    expect(result.outcome).toBe('promoted');

    const switched = tables(stub.calls).find((t) => t.app === name && t.active?.name === result.green)!;
    const retired = stub.calls.find(
      (c) =>
        c.name === 'deleteAppCvms' && (c.req as { appId: string }).appId === stub.blue.appId && c.atMs > switched.atMs,
    )!;
    expect(retired).toBeDefined();
    expect(retired.atMs - switched.atMs).toBeGreaterThanOrEqual(2000);
    const promote = result.history.find((e) => e.kind === 'promote' && e.by === 'cvmflow')!;
    expect(promote.reason).toContain('automatic promotion after 0s');
    expect(promote.at).toBe(new Date(promote.atMs).toISOString());
  });
});
