// The steps that bring green up and check it before and after it takes traffic: find blue (what serves the app
// now), deploy green beside it (the deploy pipeline as a child workflow), the health gate, and the web analyses.
// A failed gate or analysis ends the run by throwing a RunEnd; the teardown then puts everything back.
import { ParentClosePolicy, patched, startChild, workflowInfo } from '@temporalio/workflow';
import { iso } from '../domain/time';
import { metricLines, analysisBoundMs as metricsBoundMs, summedTally } from './analysis-report';
import { route } from './bluegreen-routes';
import { type BlueGreenRun, RunEnd } from './bluegreen-run';
import { cvmflowActor } from './bluegreen-state';
import { type AnalysisCheck, greenName, type MetricAnalysis } from './bluegreen-types';
import { deployCvm } from './deploy';
import { deployWorkflowId, SA_APP, SA_KIND, SA_PHASE } from './deploy-types';

/** How long an analysis may take at the most: every measurement, error and interval. */
const analysisBoundMs = (c: AnalysisCheck) => (c.count + c.errorLimit + 1) * (c.intervalMs + c.timeoutMs);

/** Blue and green's name; then the router is told a known starting point: only blue, no stale preview. */
export async function findBlue(run: BlueGreenRun): Promise<void> {
  const { input } = run;
  const found = await run.activities.api.bgFindDeployment({
    app: run.app,
    ...(input.recordedActive ? { recorded: input.recordedActive } : {}),
  });
  run.blue = found.blue;
  run.greenId = greenName(
    run.app,
    run.blue,
    workflowInfo().firstExecutionRunId,
    !patched('instance-names-without-colour'),
  );
  run.record(
    'start',
    `${found.note}; green will be ${run.greenId.name} (trigger by ${input.trigger.by}: ${input.trigger.reason})`,
  );
  await route(run, run.blue ? { active: run.blue } : {}, 'run start');
}

export async function deployGreen(run: BlueGreenRun): Promise<void> {
  const greenId = run.greenId!;
  run.childRunning = true;
  run.enter('deploying', `deploying ${greenId.name} beside ${run.blue?.name ?? 'nothing (first deployment)'}`);
  const child = await startChild(deployCvm, {
    workflowId: deployWorkflowId(greenId.name),
    args: [{ ...run.input.deploy, app: greenId.name }],
    // A terminated blue-green run must not leave a half-made green: the child is asked to roll back.
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    typedSearchAttributes: [
      { key: SA_APP, value: greenId.name },
      { key: SA_KIND, value: 'deploy' },
      { key: SA_PHASE, value: 'start' },
    ],
  });
  const result = await child.result();
  run.greenAppId = result.appId;
  const green = await run.activities.api.bgDescribeDeployment({
    name: greenId.name,
    slot: greenId.slot,
    appId: result.appId,
  });
  run.green = green;
  run.record(
    'deployed',
    `${green.name}: app ${green.appId}, ${green.cvmIds.length} CVM(s), compose ${green.composeHash.slice(0, 12)}`,
  );
  // The deploy's attestation gate (spec `attestation`) already held green to its compose; show its evidence.
  for (const cvm of result.cvms)
    if (cvm.attestation)
      run.record(
        'attested',
        `${cvm.cvmId}: compose ${cvm.attestation.composeHash}, rtmr3 ${cvm.attestation.registers?.rtmr3.slice(0, 24)}…, quote ${cvm.attestation.quoteDigest?.slice(0, 16) ?? 'absent'}… ${cvm.attestation.quoteStatus}`,
      );
  run.childRunning = false;
}

/** The health gate as a phase of its own. */
export async function healthGate(run: BlueGreenRun): Promise<void> {
  run.enter(
    'health-gate',
    `${run.green!.name} must pass ${run.policy.health.path} for ${run.policy.minHealthyMs / 1000}s in a row`,
  );
  await awaitHealthy(run);
}

/** Green must answer healthy for minHealthy in a row (the activity fails the run past the threshold or deadline). */
export async function awaitHealthy(run: BlueGreenRun): Promise<void> {
  const { policy } = run;
  run.greenHealthy = false;
  run.healthText = `waiting for ${policy.minHealthyMs / 1000}s of healthy checks`;
  const passed = await run.activities.checks(policy.health.deadlineMs).bgHealthGate({
    urls: run.green!.instanceUrls,
    check: policy.health,
    minHealthyMs: policy.minHealthyMs,
  });
  run.greenHealthy = true;
  run.healthText = `healthy (${passed.checks} checks)`;
  run.changed();
  run.record('health', `green passed the health gate after ${passed.checks} checks`);
}

/** An analysis as a phase of its own: the check's URL template gets green's and blue's values. */
async function analyse(run: BlueGreenRun, check: AnalysisCheck | MetricAnalysis, which: 'pre' | 'post') {
  run.enter(`${which}-analysis`);
  const green = run.green!;
  const vars = {
    app: run.app,
    green: green.name,
    greenUrl: green.url,
    blueUrl: run.blue?.url ?? '',
    version: green.composeHash,
    phase: which,
  };
  if (!('metrics' in check && patched('metric-analysis')))
    return run.activities
      .checks(analysisBoundMs(check as AnalysisCheck))
      .bgAnalysis({ check: check as AnalysisCheck, vars });
  // An analysis by metrics (issue 23): every measurement lands in the status and the run's history.
  const result = await run.activities
    .checks(metricsBoundMs(check.metrics))
    .analysisRun({ metrics: check.metrics, vars: { ...vars, cvm: green.cvmIds.join('|') } });
  run.analyses.push({ ...result, step: which === 'pre' ? 'pre-promotion' : 'post-promotion', atMs: Date.now() });
  for (const line of metricLines(result)) run.record('analysis', line);
  return { verdict: result.verdict, tally: summedTally(result), last: result.reason };
}

/** Fail or error ends the run; inconclusive holds automatic promotion (promote by hand, or resume). */
export async function preAnalysis(run: BlueGreenRun): Promise<void> {
  const check = run.policy.analysis.prePromotion;
  if (!check) return;
  const result = await analyse(run, check, 'pre');
  run.record('analysis', `pre-promotion analysis: ${result.verdict} (last: ${result.last})`);
  if (result.verdict === 'fail' || result.verdict === 'error')
    throw new RunEnd(
      'failed',
      `pre-promotion analysis ${result.verdict}: ${result.last}`,
      cvmflowActor(`pre-promotion analysis ${result.verdict}`),
    );
  if (result.verdict === 'inconclusive') {
    run.inconclusiveHold = true;
    run.record('pause', 'pre-promotion analysis inconclusive: automatic promotion held (promote by hand, or resume)');
  }
}

/** Fail or error rolls back to blue (green stays live when there is none); inconclusive pauses the warm period. */
export async function postAnalysis(run: BlueGreenRun): Promise<void> {
  const check = run.policy.analysis.postPromotion;
  if (!check) return;
  const result = await analyse(run, check, 'post');
  run.record(
    'analysis',
    `post-promotion analysis: ${result.verdict} (${result.tally.passes} pass, ${result.tally.failures} fail, ${result.tally.inconclusive} inconclusive, ${result.tally.errors} errors; last: ${result.last})`,
  );
  if (result.verdict === 'fail' || result.verdict === 'error') {
    if (!run.blue) {
      run.lastError = `post-promotion analysis ${result.verdict}; there is no blue to roll back to, green stays live`;
      run.record('error', run.lastError);
      return;
    }
    throw new RunEnd(
      'rolled-back',
      `post-promotion analysis ${result.verdict}ed: ${result.last}`,
      cvmflowActor(`post-promotion analysis ${result.verdict}`),
    );
  }
  if (result.verdict === 'inconclusive') {
    const atMs = run.now();
    const reason = 'post-promotion analysis inconclusive: blue is kept until someone decides';
    run.control.paused = { ...cvmflowActor(reason), at: iso(atMs), atMs };
    run.record('pause', reason);
  }
}
