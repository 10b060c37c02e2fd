// `cvmflow demo`: the embedded stack in a temporary folder with the simulator 100× faster than real time, a narrated
// tour of cvmflow's workflows, then a summary with a Temporal UI link to each workflow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { colorEnabled, createProgress, createStyle, type OutputStream, renderTable } from '../cli/output';
import { type DevStack, startDevStack } from '../dev/stack';
import { connectClient } from '../temporal/connection';
import { type Dashboard, startStackDashboard } from '../ui/embedded';
import { type DemoPrometheus, startDemoPrometheus } from './metric-analysis';
import { DEMO_STEPS } from './steps';
import type { DemoContext, DemoStep, StepRecord } from './types';

export const DEMO_TIME_SCALE = 0.01;

export interface DemoOptions {
  out?: OutputStream;
  /** Keep the stack (and its UI) up after the tour until this resolves. */
  keepUntil?: () => Promise<unknown>;
  /** Where the stack keeps its data; default a temporary folder, removed afterwards. */
  dataDir?: string;
  timeScale?: number;
  steps?: readonly DemoStep[];
}

export interface DemoSummaryRow extends StepRecord {
  title: string;
  ok: boolean;
  seconds: number;
  url?: string;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummaryRow[]> {
  const out = opts.out ?? process.stdout;
  const style = createStyle(colorEnabled(out));
  const say = (text: string) => out.write(`${text}\n`);
  const startedMs = Date.now();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'cvmflow-demo-'));
  say(
    style.bold('cvmflow demo') +
      ` — starting the embedded stack (simulator at ×${opts.timeScale ?? DEMO_TIME_SCALE} time)…`,
  );
  let stack: DevStack | undefined;
  let dashboard: Dashboard | undefined;
  let prometheus: Promise<DemoPrometheus> | undefined;
  const rows: DemoSummaryRow[] = [];
  const steps = opts.steps ?? DEMO_STEPS;
  try {
    stack = await startDevStack({
      dataDir,
      temporalPort: 0,
      uiPort: 0,
      simPort: 0,
      codecPort: 0,
      timeScale: opts.timeScale ?? DEMO_TIME_SCALE,
      workerLogLevel: 'ERROR',
    });
    say(
      `Temporal UI: ${style.bold(stack.temporal.uiUrl)}  (ready in ${((Date.now() - startedMs) / 1000).toFixed(1)} s)`,
    );
    // The dashboard watches the tour live: rollout waves, the blue-green route, the power week.
    dashboard = await startStackDashboard(stack, 0, () => {});
    say(`Dashboard:   ${style.bold(dashboard.url)}`);
    const client = await connectClient({
      address: stack.temporal.address,
      namespace: stack.namespace,
      codecKeys: stack.codecKeys,
    });
    const ctx: DemoContext = {
      stack,
      client,
      style,
      say: (text) => say(text),
      progress: () => createProgress(out),
      shared: new Map(),
      prometheus: () => {
        prometheus ??= startDemoPrometheus(ctx.stack.sim.appsUrl);
        return prometheus;
      },
    };
    // Its start-up (seconds on a busy machine) overlaps the steps before the one that measures with it.
    if (steps.some((s) => s.usesPrometheus)) void ctx.prometheus();
    try {
      for (const [i, step] of steps.entries()) {
        say('');
        say(style.bold(`${i + 1}/${steps.length} ${step.title}`));
        const stepStart = Date.now();
        try {
          const record = await step.run(ctx);
          rows.push({
            ...record,
            title: step.title,
            ok: true,
            seconds: (Date.now() - stepStart) / 1000,
            url: stack.workflowUrl(record.workflowId, record.runId),
          });
        } catch (err) {
          say(style.bad(`  failed: ${(err as Error).message}`));
          rows.push({
            title: step.title,
            workflowId: '-',
            outcome: (err as Error).message,
            ok: false,
            seconds: (Date.now() - stepStart) / 1000,
          });
        }
      }
    } finally {
      await client.connection.close();
    }
    say('');
    say(style.bold('Summary'));
    for (const line of renderTable(
      rows.map((r) => [
        r.title,
        r.ok ? style.ok('ok') : style.bad('failed'),
        `${r.seconds.toFixed(1)} s`,
        r.workflowId,
        r.outcome,
      ]),
      ['STEP', 'RESULT', 'TIME', 'WORKFLOW', 'OUTCOME'],
    ))
      say(`  ${line}`);
    say('');
    say(
      `In the Temporal UI (history holds ciphertext only; the UI decodes it through the codec server at ${stack.codecServer.url}):`,
    );
    for (const r of rows) if (r.url) say(`  ${r.title}: ${r.url}`);
    say(`Total ${((Date.now() - startedMs) / 1000).toFixed(1)} s.`);
    if (opts.keepUntil) {
      say('The stack stays up so the links work; Ctrl-C stops it.');
      await opts.keepUntil();
    }
    return rows;
  } finally {
    const local = await prometheus;
    if (local && 'prometheus' in local) await local.prometheus.stop();
    await dashboard?.close();
    await stack?.close();
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
