// The demo's metric analysis pieces without a stack: why there is no Prometheus when it is missing (a real PATH
// lookup on a PATH without it), its rollout analysis as a valid spec, and the summary its --json rows carry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  analysisLines,
  ERROR_RATE_CONDITION,
  errorRateAnalysis,
  startDemoPrometheus,
  summariseAnalyses,
} from '../../src/demo/metric-analysis';
import { findPrometheus } from '../../src/dev/prometheus';
import { validateSpec } from '../../src/spec';
import type { RolloutSpec } from '../../src/spec/rollout';
import type { WaveAnalysis } from '../../src/workflows/rollout-types';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

function wave(n: number, verdict: WaveAnalysis['verdict'], value: string): WaveAnalysis {
  return {
    wave: n,
    atMs: 0,
    verdict,
    reason: '',
    metrics: [
      {
        name: 'error-rate',
        provider: 'prometheus',
        dryRun: false,
        verdict,
        reason: '',
        counts: {
          taken: 1,
          passes: verdict === 'pass' ? 1 : 0,
          failures: verdict === 'fail' ? 1 : 0,
          inconclusive: 0,
          errors: 2,
        },
        measurements: [
          { atMs: 0, verdict: 'error', query: 'q', value: '', detail: 'no series yet' },
          { atMs: 1, verdict, query: `q${n}`, value, detail: '' },
        ],
      },
    ],
  };
}

describe('demo metric analysis', () => {
  it('without prometheus on PATH: no Prometheus, and why', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cvmflow-no-prometheus-'));
    try {
      process.env.PATH = empty;
      expect(findPrometheus()).toBeUndefined();
      expect(await startDemoPrometheus('http://127.0.0.1:1')).toEqual({
        unavailable: 'Prometheus is not installed (scripts/ensure-prometheus.sh installs it)',
      });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('its analysis is a valid rollout analysis: one prometheus metric with the error-rate condition', () => {
    const spec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'Rollout',
        name: 'demo',
        targets: { selector: { name: 'demo-fleet-*' } },
        version: { compose: { inline: 'services:\n  web:\n    image: nginx:1.28-alpine\n' } },
        strategy: { waveSize: 2 },
        analysis: errorRateAnalysis('http://127.0.0.1:9090'),
      },
      { source: 'test', baseDir: '.', kinds: ['Rollout'] },
    ) as RolloutSpec;
    const [metric] = spec.analysis!.metrics;
    expect(metric).toMatchObject({
      name: 'error-rate',
      successCondition: ERROR_RATE_CONDITION,
      count: 1,
      intervalMs: 500,
      initialDelayMs: 500,
      provider: { type: 'prometheus', address: 'http://127.0.0.1:9090' },
    });
    expect(spec.analysis!.onFailure).toBe('abort');
  });

  it('summarises each wave by its last measurement; the worst wave decides', () => {
    const good = summariseAnalyses([wave(0, 'pass', '[0]'), wave(1, 'pass', '[0.01]')]);
    expect(good).toEqual({
      provider: 'prometheus',
      condition: ERROR_RATE_CONDITION,
      verdict: 'pass',
      waves: [
        { wave: 0, verdict: 'pass', value: '[0]', query: 'q0' },
        { wave: 1, verdict: 'pass', value: '[0.01]', query: 'q1' },
      ],
    });
    expect(summariseAnalyses([wave(0, 'pass', '[0]'), wave(1, 'fail', '[0.5]')]).verdict).toBe('fail');
    expect(summariseAnalyses([]).verdict).toBe('none');
    expect(analysisLines(good)).toEqual([
      '  wave 0 error rate [0] — result[0] < 0.05: pass',
      '  wave 1 error rate [0.01] — result[0] < 0.05: pass',
    ]);
  });
});
