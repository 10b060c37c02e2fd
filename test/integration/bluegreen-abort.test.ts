// `abort` in each phase of a blue-green run leaves exactly the CVMs it should: blue running and serving, green gone
// (or stopped, with abortPolicy: stop), traffic on blue. The simulator runs slower here (a deploy takes about a
// second) so the deploying phase can be caught.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortBlueGreen, awaitBlueGreen } from '../../src/client/bluegreen';
import type { LocalProxy } from '../../src/router/local-proxy';
import type { BlueGreenPhase } from '../../src/workflows/bluegreen-types';
import { recordHistory } from '../support/replay';
import { startStack, type TestStack } from '../support/stack';
import {
  bgSpec,
  compose,
  deployBlue,
  hit,
  launch,
  liveCvms,
  newApp,
  startProxy,
  waitFor,
  waitForPhase,
} from './bluegreen-support';

interface Case {
  phase: BlueGreenPhase;
  spec: Record<string, unknown>;
  /** What the report's actions must say (in order, as substrings). */
  actions: string[];
  green: 'gone' | 'stopped';
}

const CASES: Case[] = [
  { phase: 'deploying', spec: {}, actions: ['ended early; it deleted what it had made'], green: 'gone' },
  { phase: 'health-gate', spec: { minHealthy: '30s' }, actions: ['deleted'], green: 'gone' },
  {
    phase: 'preview',
    spec: { abortPolicy: 'stop' },
    actions: ['preview route removed', 'stopped (abortPolicy: stop)'],
    green: 'stopped',
  },
  {
    phase: 'warm',
    spec: { autoPromote: true, scaleDownDelay: '5m' },
    actions: ['traffic back to blue', 'deleted'],
    green: 'gone',
  },
];

describe('blue-green abort in every phase', () => {
  let stack: TestStack;
  const proxies: LocalProxy[] = [];

  beforeAll(async () => {
    stack = await startStack({ sim: { timeScale: 0.02, delays: { jitter: 0 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await stack?.close();
  });

  it.each(CASES)('abort in $phase', async ({ phase, spec, actions, green }) => {
    const app = newApp();
    const proxy = await startProxy(app);
    proxies.push(proxy);
    const blue = await deployBlue(stack, app, proxy);
    const started = await launch(stack, bgSpec(app, proxy, { compose: { inline: compose('1.28') }, ...spec }));
    const at = await waitForPhase(stack, app, phase);
    const greenName = at.green!.name;

    const report = await abortBlueGreen(stack.client, app, { by: 'dave', reason: `abort in ${phase}` });
    expect(report.phase).toBe(phase);
    expect(report.outcome).toBe('aborted');
    let i = 0;
    for (const expected of actions) {
      const found = report.actions.findIndex((a, j) => j >= i && a.includes(expected));
      expect(found, `${expected} in ${JSON.stringify(report.actions)}`).toBeGreaterThanOrEqual(0);
      i = found + 1;
    }
    expect(report.actions.some((a) => a.includes('FAILED'))).toBe(false);
    const result = await awaitBlueGreen(stack.client, app, started.runId);
    expect(result.outcome).toBe('aborted');
    expect(result.active?.name).toBe(blue.name);

    // Blue serves; green is gone or stopped, per abortPolicy.
    await waitFor(`green ${green}`, async () => {
      const greens = liveCvms(stack, app).filter((c) => c.name === greenName);
      if (green === 'gone') return greens.length === 0 ? true : undefined;
      return greens.length > 0 && greens.every((c) => c.status === 'stopped') ? true : undefined;
    });
    const blues = liveCvms(stack, app).filter((c) => c.name === blue.name);
    expect(blues.map((c) => c.status)).toEqual(['running']);
    expect(proxy.table(app)).toMatchObject({ active: { name: blue.name }, preview: null });
    expect((await hit(proxy.urls(app).active)).app).toBe(blue.name);
    await recordHistory(
      stack.client.workflow.getHandle(`bluegreen-${app}`, started.runId),
      `bluegreen-aborted-${phase}`,
    );
  });
});
