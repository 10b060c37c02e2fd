// The GitHub Action as a runner runs it: action/run.mjs in its own process with the INPUT_* variables action.yml
// sets and temporary files for $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY, calling this repository's real cvmflow binary
// against `cvmflow dev` (Temporal, the simulator and a worker, on loopback). The job's environment holds none of the
// stack's settings: the address and the codec key reach cvmflow only through the action's inputs. Checks the exit
// status (0 succeeded or started, 1 did not succeed, 2 bad input), the outputs, the step summary, that the codec key
// is never printed, and that action.yml declares exactly the inputs the script reads and the outputs it writes.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../src/dev/free-port';
import { type Background, BIN, cleanEnv, parseExports, ROOT, runCli, runInBackground } from './cli';

const SCRIPT = join(ROOT, 'action', 'run.mjs');
const DEV_ARGS = ['--port', '0', '--ui-port', '0', '--sim-port', '0', '--time-scale', '0.01'];

let work: string;
let dataDir: string;
let dev: Background;
let serve: Background | undefined;
const ROUTER_SECRET = 'action-test-router-secret-0123456789';
let stackEnv: Record<string, string>;
let uiUrl: string;
let codecKey: string;
const GREETING = 'greeting-from-a-github-secret-5d1c';
/** Everything any run of the action printed or wrote, for the secret check at the end. */
const everything: string[] = [];
/** The output names each run wrote, for the check against action.yml. */
const outputNames: string[][] = [];

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  ms: number;
}

/** $GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, n + 1);
      expect(end, `unterminated ${heredoc[1]}`).toBeGreaterThan(n);
      outputs[heredoc[1]!] = lines.slice(n + 1, end).join('\n');
      n = end;
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `not an output line: ${line}`).toBeGreaterThan(0);
    outputs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return outputs;
}

function writeFile(name: string, body: string): string {
  const path = join(work, name);
  writeFileSync(path, body);
  return path;
}

const deploySpec = (app: string, extra = '') =>
  writeFile(
    `${app}.yaml`,
    `apiVersion: cvmflow/v1\nkind: Deployment\nname: ${app}\ncompose:\n  inline: |\n    services:\n      web:\n        image: nginx:1.27-alpine\n${extra}`,
  );

/** The inputs a workflow file would give for the dev stack; the secrets as a job passes them, from secrets. */
function stackInputs(): Record<string, string> {
  return {
    'temporal-address': stackEnv.TEMPORAL_ADDRESS!,
    'temporal-namespace': stackEnv.TEMPORAL_NAMESPACE!,
    'temporal-task-queue': stackEnv.TEMPORAL_TASK_QUEUE!,
    'codec-key': codecKey,
    'temporal-ui-url': uiUrl,
    cvmflow: `"${process.execPath}" "${BIN}"`,
  };
}

function runAction(
  inputs: Record<string, string>,
  stepEnv: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<ActionRun> {
  const dir = mkdtempSync(join(work, 'step-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env = cleanEnv({
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_ACTOR: 'ci-bot',
    GITHUB_REPOSITORY: 'example/app',
    GITHUB_SHA: '0123456789abcdef',
    GITHUB_SERVER_URL: 'http://127.0.0.1',
    GITHUB_RUN_ID: '42',
    ...stepEnv,
  });
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase().replace(/-/g, '_')}`] = value;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the action timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const outputText = readFileSync(outputFile, 'utf8');
      const summary = readFileSync(summaryFile, 'utf8');
      everything.push(stdout, stderr, outputText, summary);
      const outputs = parseOutputs(outputText);
      outputNames.push(Object.keys(outputs).sort());
      resolve({ code, stdout, stderr, outputs, summary, ms: Date.now() - started });
    });
  });
}

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const { adminToken } = JSON.parse(readFileSync(join(dataDir, 'sim-keys.json'), 'utf8')) as { adminToken: string };
  const adminUrl = /Sim admin API\s+(\S+)/.exec(dev.stdout())![1]!;
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.ok, `${method} ${path}: ${res.status}`).toBe(true);
}

/** The deployment's state read independently of the action, with the stack's own settings. */
async function deployStatus(app: string): Promise<{ status: string; phase: string }> {
  const r = await runCli(['deploy', 'status', app, '--json'], { env: cleanEnv(stackEnv) });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cvmflow-action-'));
  dataDir = join(work, 'data');
  // The in-process worker signs the local router's route changes with this secret, as `serve` checks them.
  dev = runInBackground(['dev', '--data-dir', dataDir, ...DEV_ARGS], {
    env: cleanEnv({ CVMFLOW_ROUTER_SECRET: ROUTER_SECRET }),
  });
  await dev.waitFor('Ctrl-C stops everything');
  stackEnv = parseExports(dev.stdout());
  uiUrl = /Temporal UI\s+(\S+)/.exec(dev.stdout())![1]!;
  codecKey = readFileSync(stackEnv.CVMFLOW_CODEC_KEY_FILE!, 'utf8').trim();
  expect(codecKey).toMatch(/^[^:]+:\S{40,}$/);
});

afterAll(async () => {
  for (const p of [serve, dev]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGINT');
      await p.exited;
    }
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the GitHub Action against the dev stack', { timeout: 240_000 }, () => {
  it('deploy with wait: exit 0, the workflow id, run id, outcome and UI link as outputs, a step summary', async () => {
    const app = 'act-ok';
    // The spec's env value comes from the step's `env:`, as a workflow file passes a secret to it.
    const spec = deploySpec(app, 'replicas: 2\nenv:\n  GREETING: { fromEnv: ACT_GREETING }\n');
    const r = await runAction({ command: 'deploy', spec, wait: 'true', ...stackInputs() }, { ACT_GREETING: GREETING });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.outputs).toMatchObject({ 'workflow-id': `deploy-${app}`, outcome: 'succeeded' });
    const runId = r.outputs['run-id']!;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.outputs['ui-url']).toBe(`${uiUrl}/namespaces/default/workflows/deploy-${app}/${runId}/history`);
    expect(JSON.parse(r.outputs.result!).cvms).toHaveLength(2);
    expect(r.outputs.message).toBe(`deployed ${app} (create): 2 CVM(s)`);
    expect(r.summary).toContain(`[deploy-${app}](${r.outputs['ui-url']})`);
    expect(r.summary).toContain('cvmflow deploy: succeeded');
    // The workflow itself, read apart from the action, did complete — and the link opens the dev stack's UI.
    expect(await deployStatus(app)).toMatchObject({ status: 'COMPLETED', phase: 'done' });
    expect((await fetch(r.outputs['ui-url']!)).status).toBe(200);
  });

  it('deploy whose workflow fails: exit 1, outcome failed, the error as message and annotation', async () => {
    const app = 'act-fail';
    await admin('POST', '/admin/faults', {
      routes: [{ method: 'POST', path: '/cvms/provision', status: 422, body: { detail: 'x' }, count: 1 }],
    });
    const r = await runAction({ command: 'deploy', spec: deploySpec(app), ...stackInputs() });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.outputs).toMatchObject({ 'workflow-id': `deploy-${app}`, outcome: 'failed' });
    expect(r.outputs['run-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.outputs.message).toMatch(/provision/);
    expect(r.stdout).toMatch(/^::error title=cvmflow deploy failed::.*provision/m);
    expect(r.summary).toContain('cvmflow deploy: failed');
    expect(await deployStatus(app)).toMatchObject({ status: 'FAILED' });
  });

  it('wait: false returns once the workflow started, with its id, while it still runs', async () => {
    const app = 'act-nowait';
    // The CVM never reaches running: the deployment cannot end before the action returns, only if it did not wait.
    await admin('POST', '/admin/faults', { cvms: [{ cvm: app, neverReachTarget: true }] });
    const r = await runAction({ command: 'deploy', spec: deploySpec(app), wait: 'false', ...stackInputs() });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.outputs).toMatchObject({ 'workflow-id': `deploy-${app}`, outcome: 'started' });
    expect(r.outputs['ui-url']).toContain(`/workflows/deploy-${app}/${r.outputs['run-id']}`);
    expect((await deployStatus(app)).status).toBe('RUNNING');
    const cancel = await runCli(['deploy', 'cancel', app], { env: cleanEnv(stackEnv) });
    expect(cancel.code, cancel.stderr).toBe(0);
  });

  it('rollout with wait: exit 0 and the rollout’s workflow id when it succeeds', async () => {
    const spec = writeFile(
      'roll.yaml',
      'apiVersion: cvmflow/v1\nkind: Rollout\nname: act-roll\ntargets:\n  selector:\n    name: "act-ok"\nversion:\n  compose:\n    inline: |\n      services:\n        web:\n          image: nginx:1.28-alpine\nhealth:\n  minHealthy: 1s\n',
    );
    const r = await runAction({ command: 'rollout', spec, ...stackInputs() });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.outputs).toMatchObject({ 'workflow-id': 'rollout-act-roll', outcome: 'succeeded' });
    expect(r.outputs['run-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(r.outputs.result!)).toMatchObject({ rolloutId: 'rollout-act-roll', outcome: 'succeeded' });
    expect(r.outputs.message).toMatch(/^rollout rollout-act-roll succeeded: \d+ healthy/);
  });

  it('blue-green: start without waiting, then promote and wait until the run ends promoted', async () => {
    const [control, active, preview, servePort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const app = 'act-bg';
    const spec = writeFile(
      'bg.yaml',
      `apiVersion: cvmflow/v1\nkind: BlueGreen\nname: ${app}\ncompose:\n  inline: |\n    services:\n      web:\n        image: nginx:1.27-alpine\nminHealthy: 1s\npreviewTtl: 5m\nscaleDownDelay: 1s\nhealth:\n  interval: 1s\nrouter:\n  type: local\n  controlUrl: http://127.0.0.1:${control}\n  activePort: ${active}\n  previewPort: ${preview}\n  secretFromEnv: CVMFLOW_ROUTER_SECRET\n`,
    );
    serve = runInBackground(['serve', '--spec', spec, '--port', String(servePort), '--local-router'], {
      env: cleanEnv({
        ...stackEnv,
        CVMFLOW_ROUTER_SECRET: ROUTER_SECRET,
        CVMFLOW_TRIGGER_TOKEN: 'action-trigger-token',
      }),
    });
    await serve.waitFor('accepting triggers', 60_000, 'stderr');

    const started = await runAction({ command: 'bluegreen-start', spec, wait: 'false', ...stackInputs() });
    expect(started.code, `${started.stdout}\n${started.stderr}`).toBe(0);
    expect(started.outputs).toMatchObject({ 'workflow-id': `bluegreen-${app}`, outcome: 'started' });
    const runId = started.outputs['run-id']!;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);

    const status = async () => {
      const r = await runCli(['bluegreen', 'status', app, '--json'], { env: cleanEnv(stackEnv) });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { runId: string; status: { phase: string; trigger: { by: string } } };
    };
    const giveUp = Date.now() + 90_000;
    while ((await status()).status.phase !== 'preview') {
      expect(Date.now(), 'green never reached preview').toBeLessThan(giveUp);
      await new Promise((r) => setTimeout(r, 500));
    }
    // The audit trail names the GitHub actor that triggered it.
    expect((await status()).status.trigger.by).toBe('ci-bot');
    // A second start while this one runs is refused by the running run (onTrigger: reject): the job fails, with 1.
    const busy = await runAction({ command: 'bluegreen-start', spec, wait: 'true', ...stackInputs() });
    expect(busy.code, `${busy.stdout}\n${busy.stderr}`).toBe(1);
    expect(busy.outputs).toMatchObject({ outcome: 'refused', 'workflow-id': `bluegreen-${app}`, 'run-id': runId });
    expect(busy.outputs.message).toContain('is in progress');

    const promoted = await runAction({ command: 'bluegreen-promote', app, wait: 'true', ...stackInputs() });
    expect(promoted.code, `${promoted.stdout}\n${promoted.stderr}`).toBe(0);
    expect(promoted.outputs).toMatchObject({
      'workflow-id': `bluegreen-${app}`,
      'run-id': runId,
      outcome: 'succeeded',
    });
    expect(promoted.outputs['ui-url']).toBe(`${uiUrl}/namespaces/default/workflows/bluegreen-${app}/${runId}/history`);
    // It waited for the run's end: the workflow is closed and ended promoted.
    expect(JSON.parse(promoted.outputs.result!)).toMatchObject({
      status: 'COMPLETED',
      result: { outcome: 'promoted' },
    });

    // A second promote of the ended run is refused by cvmflow: bad input, exit 2, not a pass.
    const again = await runAction({ command: 'bluegreen-promote', app, wait: 'false', ...stackInputs() });
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(2);
    expect(again.outputs).toMatchObject({ outcome: 'rejected', 'workflow-id': `bluegreen-${app}`, 'run-id': runId });
    expect(again.outputs.message).toMatch(/^rejected: the latest blue-green run of act-bg has ended \(completed\)/);
  });

  it('bad input: exit 2 and outcome invalid, for a bad spec (from cvmflow) and a missing input (from the script)', async () => {
    const spec = deploySpec('act-bad', 'replicas: many\n');
    const bad = await runAction({ command: 'deploy', spec, ...stackInputs() });
    expect(bad.code, `${bad.stdout}\n${bad.stderr}`).toBe(2);
    expect(bad.outputs).toMatchObject({ outcome: 'invalid', 'workflow-id': '' });
    expect(bad.outputs.message).toMatch(/replicas/);
    expect(bad.stderr).toMatch(/replicas/);

    const missing = await runAction({ command: 'bluegreen-promote', ...stackInputs() });
    expect(missing.code).toBe(2);
    expect(missing.outputs).toMatchObject({ outcome: 'invalid' });
    expect(missing.outputs.message).toMatch(/^app: required/);
    expect(missing.summary).toContain('invalid');
    const wait = await runAction({ command: 'deploy', spec, wait: 'sometimes', ...stackInputs() });
    expect(wait.code).toBe(2);
    expect(wait.outputs.message).toMatch(/^wait: expected true or false/);
  });

  it('no codec key input: cvmflow names the variable, the step fails with 2 (nothing falls back to a default key)', async () => {
    const { 'codec-key': _, ...inputs } = stackInputs();
    const r = await runAction({ command: 'deploy', spec: deploySpec('act-nokey'), ...inputs });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.stderr).toContain('CVMFLOW_CODEC_KEY');
  });

  it('the codec key never appears in what the action printed or wrote, except in the masking commands; nor env values', () => {
    expect(everything.length).toBeGreaterThan(0);
    const secretPart = codecKey.slice(codecKey.indexOf(':') + 1);
    for (const text of everything) {
      const unmasked = text
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n');
      expect(unmasked).not.toContain(secretPart);
      expect(unmasked).not.toContain(secretPart.slice(0, 16));
    }
    // An env value passed through the step's environment went into the deployment sealed, and nowhere else.
    expect(everything.join('\n')).not.toContain(GREETING);
    // The masking commands were given, for the ring and for the key alone.
    expect(everything.join('\n')).toContain(`::add-mask::${secretPart}`);
  });
});

describe('action.yml', () => {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { required?: boolean; default?: string }>;
    outputs: Record<string, { value: string }>;
    runs: { using: string; steps: { id?: string; run?: string; uses?: string; env?: Record<string, string> }[] };
  };
  const script = readFileSync(SCRIPT, 'utf8');
  const step = action.runs.steps.find((s) => s.id === 'run');

  it('is a composite action whose step runs action/run.mjs from the action’s own folder', () => {
    expect(action.runs.using).toBe('composite');
    expect(step?.run).toBe('node "$GITHUB_ACTION_PATH/action/run.mjs"');
  });

  it('passes every input the script reads, and only those, as INPUT_<NAME>', () => {
    const read = new Set([...script.matchAll(/\binput\('([a-z-]+)'\)/g)].map((m) => m[1]!));
    const passed = Object.entries(step?.env ?? {});
    for (const [name, value] of passed) {
      const m = /^\$\{\{ inputs\.([a-z-]+) \}\}$/.exec(value);
      expect(m, `${name}: ${value}`).not.toBeNull();
      expect(name).toBe(`INPUT_${m![1]!.toUpperCase().replace(/-/g, '_')}`);
    }
    const passedInputs = new Set(passed.map(([, v]) => /inputs\.([a-z-]+)/.exec(v)![1]!));
    expect([...passedInputs].sort()).toEqual([...read].sort());
    // Every declared input is used: by the script, or (node-version) by the setup step.
    const setup = action.runs.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(JSON.stringify(setup)).toContain('inputs.node-version');
    expect(Object.keys(action.inputs).sort()).toEqual([...read, 'node-version'].sort());
    expect(action.inputs.command?.required).toBe(true);
  });

  it('the README’s example workflow file uses only declared inputs and outputs, with secrets for the keys', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## From CI (GitHub Actions)'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block, 'no yaml block in "From CI (GitHub Actions)"').toBeTruthy();
    const workflow = parseYaml(block!) as {
      on: unknown;
      jobs: Record<string, { steps: { id?: string; uses?: string; with?: Record<string, unknown> }[] }>;
    };
    expect(workflow.on).toBeTruthy();
    const uses = Object.values(workflow.jobs).flatMap((j) => j.steps.filter((st) => st.uses?.includes('/cvmflow@')));
    const commands = uses.map((st) => st.with?.command);
    expect(commands).toEqual(expect.arrayContaining(['deploy', 'bluegreen-start', 'bluegreen-promote']));
    const ids = new Set(uses.map((st) => st.id));
    // A GitHub expression, built so that it does not read as a forgotten JavaScript template.
    const secret = (name: string) => `\${{ secrets.${name} }}`;
    for (const st of uses) {
      for (const name of Object.keys(st.with ?? {})) expect(Object.keys(action.inputs), name).toContain(name);
      expect(st.with?.['codec-key']).toBe(secret('CVMFLOW_CODEC_KEY'));
      expect(st.with?.['temporal-api-key']).toBe(secret('TEMPORAL_API_KEY'));
    }
    // Every output it reads from an action step is one action.yml declares.
    const reads = [...block!.matchAll(/steps\.([a-z-]+)\.outputs\.([a-z-]+)/g)];
    expect(reads.length).toBeGreaterThan(0);
    for (const [, id, name] of reads) {
      expect(ids).toContain(id);
      expect(Object.keys(action.outputs)).toContain(name);
    }
  });

  it('declares exactly the outputs the script writes, each taken from the script’s step', async () => {
    const declared = Object.keys(action.outputs).sort();
    for (const [name, output] of Object.entries(action.outputs))
      expect(output.value).toBe(`\${{ steps.run.outputs.${name} }}`);
    // Every run wrote every declared output and nothing else, whatever its outcome (and a refused input too).
    const refused = await runAction({ command: 'nothing' });
    expect(refused.code).toBe(2);
    expect(outputNames.length).toBeGreaterThan(0);
    for (const names of outputNames) expect(names).toEqual(declared);
  });
});
