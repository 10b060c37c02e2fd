import { describe, expect, it } from 'vitest';
import { ConditionError, compileCondition } from '../../src/analysis/condition';
import { buildQuery, judge, resultValue } from '../../src/analysis/providers/prometheus';
import {
  addMeasurement,
  emptyTally,
  measureOnce,
  metricVerdict,
  overallVerdict,
  runAnalysis,
} from '../../src/analysis/run';
import type { MetricSpec, Verdict } from '../../src/analysis/types';

describe('conditions', () => {
  it.each([
    ['result[0] < 0.05', [0.01], true],
    ['result[0] < 0.05', [0.2], false],
    ['result < 1', 0.5, true],
    ['max(result) <= 0.3 && len(result) == 2', [0.1, 0.3], true],
    ['avg(result) > 1 || min(result) < 0', [1, -1], true],
    ['sum(result) == 6', [[1, 2], [3]], true],
    ['!(result[0] >= 2 * 0.5)', [0.4], true],
    ['isNaN(result[0])', [Number.NaN], true],
    ['len(result) == 0', [], true],
  ] as const)('%s over %j is %s', (expr, result, want) => {
    expect(compileCondition(expr)(result as never)).toBe(want);
  });

  it.each([
    ['process.exit()', /unknown function/],
    ['constructor', /unknown name constructor/],
    ['result.length > 0', /use result\[0\]/],
    ['result[0] = 1', /Unexpected "="/],
    ['"a" == result', /only numbers/],
    ['result[0] <', /Expected expression/],
    ['this', /not allowed|unknown name/],
    ['(() => 1)()', /Unexpected "="/],
  ])('refuses %s', (expr, message) => {
    expect(() => compileCondition(expr)).toThrow(message);
  });

  it('cannot judge what is not there: an error at evaluation, never a silent false', () => {
    expect(() => compileCondition('result[0] < 1')([])).toThrow(ConditionError);
    expect(() => compileCondition('result[0]')([1])).toThrow(/not true or false/);
    expect(() => compileCondition('max(result) < 1')([])).toThrow(/empty/);
  });
});

describe('judging a Prometheus result (Argo rules)', () => {
  it.each([
    [{ successCondition: 'result[0] < 0.05' }, [0.01], 'pass'],
    [{ successCondition: 'result[0] < 0.05' }, [0.5], 'fail'],
    [{ failureCondition: 'result[0] > 0.1' }, [0.5], 'fail'],
    [{ failureCondition: 'result[0] > 0.1' }, [0.05], 'pass'],
    [{ successCondition: 'result[0] < 0.05', failureCondition: 'result[0] > 0.1' }, [0.07], 'inconclusive'],
    [{ successCondition: 'result[0] < 0.05', failureCondition: 'result[0] > 0.1' }, [0.2], 'fail'],
    [{ successCondition: 'result[0] < 0.05' }, [], 'error'],
  ] as const)('%j on %j → %s', (conditions, result, want) => {
    expect(judge(result as unknown as number[], conditions).verdict).toBe(want);
  });

  it('reads scalars, vectors and matrices', () => {
    expect(resultValue({ resultType: 'scalar', result: [1, '0.5'] })).toBe(0.5);
    expect(resultValue({ resultType: 'vector', result: [{ value: [1, '1'] }, { value: [1, 'NaN'] }] })).toEqual([
      1,
      Number.NaN,
    ]);
    expect(
      resultValue({
        resultType: 'matrix',
        result: [
          {
            values: [
              [1, '1'],
              [2, '2'],
            ],
          },
        ],
      }),
    ).toEqual([[1, 2]]);
  });

  it('fills placeholders escaped for PromQL strings, leaving unknown ones alone', () => {
    const p = {
      type: 'prometheus' as const,
      address: 'http://127.0.0.1:1',
      query: 'rate(x{app="{app}",cvm=~"{cvm}",le="{other}"}[1m])',
      headers: [],
    };
    expect(buildQuery(p, { app: 'a"b\\', cvm: 'c1|c2' })).toBe(
      'rate(x{app="a\\"b\\\\",cvm=~"c1|c2",le="{other}"}[1m])',
    );
  });
});

describe('count and limits', () => {
  const rules = { count: 3, failureLimit: 1, inconclusiveLimit: 0, consecutiveErrorLimit: 2 };
  const run = (vs: Verdict[]) => {
    let t = emptyTally();
    for (const v of vs) {
      const done = metricVerdict(t, rules);
      if (done) return done;
      t = addMeasurement(t, v);
    }
    return metricVerdict(t, rules);
  };
  it.each([
    [['pass', 'fail', 'pass'], 'pass'],
    [['pass', 'pass'], undefined],
    [['fail', 'fail'], 'fail'],
    [['error', 'error', 'pass', 'pass', 'pass'], 'pass'],
    [['pass', 'error', 'error', 'error'], 'error'],
    [['pass', 'inconclusive'], 'inconclusive'],
  ] as [Verdict[], Verdict | undefined][])('%j → %s', (vs, want) => {
    expect(run(vs)).toBe(want);
  });

  it('count 0 (a background metric) has no end of its own: only the limits end it', () => {
    let t = emptyTally();
    for (let i = 0; i < 50; i++) t = addMeasurement(t, 'pass');
    expect(metricVerdict(t, { ...rules, count: 0 })).toBeUndefined();
    expect(metricVerdict(addMeasurement(addMeasurement(t, 'fail'), 'fail'), { ...rules, count: 0 })).toBe('fail');
  });

  it('lets dry-run metrics never decide; the worst deciding verdict wins', () => {
    expect(
      overallVerdict([
        { verdict: 'fail', dryRun: true },
        { verdict: 'pass', dryRun: false },
      ]),
    ).toBe('pass');
    expect(
      overallVerdict([
        { verdict: 'error', dryRun: false },
        { verdict: 'fail', dryRun: false },
      ]),
    ).toBe('fail');
    expect(overallVerdict([{ verdict: 'inconclusive', dryRun: false }])).toBe('inconclusive');
  });
});

describe('runAnalysis with the job provider (real commands)', () => {
  const metric = (name: string, command: string[], extra: Partial<MetricSpec> = {}): MetricSpec => ({
    name,
    provider: { type: 'job', command },
    count: 2,
    intervalMs: 1,
    initialDelayMs: 0,
    failureLimit: 0,
    inconclusiveLimit: 0,
    consecutiveErrorLimit: 1,
    dryRun: false,
    timeoutMs: 2000,
    ...extra,
  });
  const deps = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), env: process.env };

  it('exit 0 passes, another exit fails naming the metric and value; a dry-run failure does not decide', async () => {
    const pass = await runAnalysis(
      [metric('ok', ['true']), metric('probe', ['sh', '-c', 'echo p99 high; exit 3'], { dryRun: true })],
      {},
      deps,
    );
    expect(pass.verdict).toBe('pass');
    expect(pass.metrics[1]).toMatchObject({ verdict: 'fail', dryRun: true });
    const fail = await runAnalysis([metric('smoke', ['sh', '-c', 'echo "{app} down"; exit 3'])], { app: 'web' }, deps);
    expect(fail.verdict).toBe('fail');
    expect(fail.reason).toContain('metric smoke: value exit 3: web down');
    expect(fail.metrics[0]!.measurements[0]!.query).toBe('sh -c echo "web down"; exit 3');
  });

  it('measureOnce (background metrics): count 0 never passes by count; the state carries from call to call', async () => {
    const env = { env: process.env };
    const m = metric('smoke', ['true'], { count: 0, failureLimit: 1 });
    let out = await measureOnce(m, {}, undefined, env);
    for (let i = 0; i < 4; i++) out = await measureOnce(m, {}, out.state, env);
    expect(out.state.verdict).toBeUndefined();
    expect(out.state.tally).toMatchObject({ taken: 5, passes: 5 });
    expect(out.result.reason).toMatch(/^metric smoke: measuring; 5 pass, 0 fail \(failureLimit 1\)/);
    const failing = { ...m, provider: { type: 'job' as const, command: ['sh', '-c', 'echo high; exit 2'] } };
    out = await measureOnce(failing, {}, out.state, env);
    expect(out.state.verdict).toBeUndefined(); // one failure is within failureLimit 1
    out = await measureOnce(failing, {}, out.state, env);
    expect(out.state.verdict).toBe('fail');
    expect(out.result.reason).toContain('metric smoke: value exit 2: high (2 failed');
    const bounded = await measureOnce({ ...m, count: 1 }, {}, undefined, env);
    expect(bounded.state.verdict).toBe('pass');
  });

  it('a command past its deadline or missing is an error, not a failure', async () => {
    const slow = await runAnalysis([metric('slow', ['sleep', '5'], { timeoutMs: 200 })], {}, deps);
    expect(slow.verdict).toBe('error');
    expect(slow.metrics[0]!.counts).toMatchObject({ failures: 0, errors: 2 });
    const missing = await runAnalysis([metric('missing', ['/nonexistent/cmd'])], {}, deps);
    expect(missing.verdict).toBe('error');
  });
});
