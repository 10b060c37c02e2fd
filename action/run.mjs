// The GitHub Action's one step (action.yml runs it): maps the action's inputs (INPUT_<NAME> variables, set by
// action.yml) to one `cvmflow … --json` call (a promote adds a status read and, to wait, a watch), passes the
// Temporal API key and the codec key to it in its environment only (never on a command line; masked in the log),
// reads the one JSON document the CLI prints whatever happens, and reports it the way a workflow file consumes it:
// outputs in $GITHUB_OUTPUT (workflow-id, run-id, ui-url, outcome, message, result), a step summary, an error
// annotation. It exits 0 when the workflow was started (wait: false) or succeeded, 1 when it did not (failed,
// cancelled, refused, ended unpromoted, or cvmflow could not run), 2 for bad input — so the job fails exactly when
// the deployment did. Plain Node, no dependencies: nothing to install first.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';

const COMMANDS = ['deploy', 'bluegreen-start', 'bluegreen-promote', 'rollout'];
/** Outcomes that end the step with 0; `invalid` and `rejected` end it with 2, every other outcome with 1. */
const SUCCESS = new Set(['started', 'succeeded', 'promoted']);
const USER_ERROR = new Set(['invalid', 'rejected']);

/** An input as action.yml hands it over: INPUT_ plus the name upper-cased, dashes as underscores. */
function input(name) {
  return (process.env[`INPUT_${name.toUpperCase().replace(/-/g, '_')}`] ?? '').trim();
}

class BadInput extends Error {}

/** `node "/path with spaces/bin/cvmflow.mjs"` → argv; quotes group, nothing else is interpreted (no shell). */
function splitCommand(text) {
  const parts = [];
  for (const m of text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) parts.push(m[1] ?? m[2] ?? m[3]);
  return parts;
}

function readInputs() {
  const command = input('command');
  if (!COMMANDS.includes(command))
    throw new BadInput(`command: expected one of ${COMMANDS.join(', ')}, got ${JSON.stringify(command)}`);
  const waitText = input('wait').toLowerCase() || 'true';
  if (waitText !== 'true' && waitText !== 'false')
    throw new BadInput(`wait: expected true or false, got ${JSON.stringify(input('wait'))}`);
  const spec = input('spec');
  const app = input('app');
  if (command === 'bluegreen-promote' ? !app : !spec)
    throw new BadInput(
      command === 'bluegreen-promote'
        ? 'app: required for bluegreen-promote (the BlueGreen spec name)'
        : `spec: required for ${command} (the path of the spec file in the repository)`,
    );
  const cvmflow = splitCommand(input('cvmflow') || 'npx --yes cvmflow');
  if (cvmflow.length === 0) throw new BadInput('cvmflow: the command that runs cvmflow is empty');
  const env = process.env;
  const run = env.GITHUB_RUN_ID
    ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
    : '';
  return {
    command,
    wait: waitText === 'true',
    spec,
    app,
    cvmflow,
    // The audit trail of a blue-green run records who and why: the GitHub actor and the run that asked, by default.
    by: input('by') || env.GITHUB_ACTOR || '',
    reason:
      input('reason') ||
      `GitHub Actions${env.GITHUB_REPOSITORY ? ` ${env.GITHUB_REPOSITORY}` : ''}${env.GITHUB_SHA ? `@${env.GITHUB_SHA.slice(0, 7)}` : ''}${run ? ` ${run}` : ''}`,
    address: input('temporal-address'),
    namespace: input('temporal-namespace'),
    taskQueue: input('temporal-task-queue'),
    apiKey: input('temporal-api-key'),
    codecKey: input('codec-key'),
    uiBase: input('temporal-ui-url'),
  };
}

/** Hides the secrets in the job's log even where they did not come from `secrets.*`: whole, line by line, and each
 * key of a codec key ring (`id:base64,id:base64`), since a log line could hold one entry alone. */
function mask(values) {
  const parts = new Set();
  for (const value of values) {
    if (!value) continue;
    for (const line of value.split(/\r?\n/)) {
      if (line.trim()) parts.add(line.trim());
      for (const entry of line.split(',')) {
        const key = entry.slice(entry.indexOf(':') + 1).trim();
        if (key.length >= 8) parts.add(key);
      }
    }
  }
  for (const part of parts) process.stdout.write(`::add-mask::${part}\n`);
}

/** The cvmflow argument lists of the command: the main call, and for promote the status read that names the run. */
function cliArgs(i) {
  const wait = i.wait ? ['--wait'] : [];
  const actor = ['--reason', i.reason, ...(i.by ? ['--by', i.by] : [])];
  switch (i.command) {
    case 'deploy':
      return ['deploy', '-f', i.spec, ...wait, '--json'];
    case 'bluegreen-start':
      return ['bluegreen', 'start', '-f', i.spec, ...actor, ...wait, '--json'];
    case 'bluegreen-promote':
      return ['bluegreen', 'promote', i.app, ...actor, '--json'];
    default:
      return ['rollout', 'start', '-f', i.spec, ...wait, '--json'];
  }
}

/** The CLI's environment: the runner's, without the action's inputs, plus the inputs that are cvmflow settings. */
function cliEnv(i) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('INPUT_')) env[k] = v;
  const set = (name, value) => {
    if (value) env[name] = value;
  };
  set('TEMPORAL_ADDRESS', i.address);
  set('TEMPORAL_NAMESPACE', i.namespace);
  set('TEMPORAL_TASK_QUEUE', i.taskQueue);
  set('TEMPORAL_API_KEY', i.apiKey);
  set('CVMFLOW_CODEC_KEY', i.codecKey);
  // An input wins over a file the job's environment names, rather than the CLI refusing two settings.
  if (i.codecKey) delete env.CVMFLOW_CODEC_KEY_FILE;
  env.NO_COLOR = '1';
  return env;
}

/** Runs cvmflow once: its stderr (progress, the one-line error) goes to the log live, its stdout is the result. */
function runCli(i, args) {
  return new Promise((resolve) => {
    const [program, ...pre] = i.cvmflow;
    let stdout = '';
    const child = spawn(program, [...pre, ...args], { env: cliEnv(i), stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (b) => {
      stdout += b.toString();
    });
    child.once('error', (err) => resolve({ code: null, stdout, spawnError: err.message }));
    child.once('close', (code) => resolve({ code, stdout }));
  });
}

function parseDoc(stdout) {
  try {
    const doc = JSON.parse(stdout);
    return doc && typeof doc === 'object' ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** How the call ended, in one word: the CLI's exit status decides success; its JSON names what happened. */
function classify(i, code, doc) {
  // A promote answers once traffic is on green; waiting for the run's end comes after (see main).
  if (code === 0) return i.command === 'bluegreen-promote' ? 'promoted' : i.wait ? 'succeeded' : 'started';
  if (!doc) return 'error';
  if (doc.error && typeof doc.error === 'object') {
    if (code !== 2) return 'error';
    return /^rejected: /.test(doc.error.message ?? '') ? 'rejected' : 'invalid';
  }
  if (code === 2) return 'invalid';
  // A trigger a running blue-green refused is the same case as a busy deploy: not bad input, the job fails (1).
  if (doc.status === 'rejected' || doc.status === 'refused') return 'refused';
  if (doc.status === 'failed' || doc.status === 'cancelled') return doc.status;
  // A blue-green run that ended unpromoted (expired, aborted, rolled-back), a rollout that did not succeed.
  if (typeof doc.outcome === 'string' && !SUCCESS.has(doc.outcome)) return doc.outcome;
  return 'failed';
}

function messageOf(i, outcome, doc, code) {
  if (!doc) return `cvmflow exited ${code} without a JSON result`;
  if (doc.error) return typeof doc.error === 'object' ? String(doc.error.message ?? '') : String(doc.error);
  if (doc.reason && outcome !== 'succeeded') return String(doc.reason);
  if (doc.summary) return String(doc.summary);
  if (outcome === 'promoted' && doc.green) return `promoted ${doc.green}; now ${doc.phase}`;
  if (outcome === 'started') return `started ${doc.workflowId ?? doc.rolloutId ?? ''}`.trim();
  if (outcome === 'succeeded' && i.command === 'deploy' && doc.app)
    return `deployed ${doc.app} (${doc.mode}): ${Array.isArray(doc.cvms) ? doc.cvms.length : 0} CVM(s)`;
  if (doc.rolloutId && doc.counts) {
    const counts = Object.entries(doc.counts).map(([state, n]) => `${n} ${state}`);
    return `rollout ${doc.rolloutId} ${doc.outcome ?? outcome}: ${counts.join(', ') || 'no CVMs'}`;
  }
  return outcome;
}

/** The Temporal UI page of the run: the given UI, or Temporal Cloud's when the address is a Temporal Cloud one. */
function uiUrl(i, namespace, workflowId, runId) {
  if (!workflowId) return '';
  const cloud = /\.tmprl\.cloud(:\d+)?$|\.api\.temporal\.io(:\d+)?$/.test(i.address);
  const base = (i.uiBase || (cloud ? 'https://cloud.temporal.io' : '')).replace(/\/+$/, '');
  if (!base) return '';
  const run = runId ? `/${encodeURIComponent(runId)}/history` : '';
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${run}`;
}

/** One output in $GITHUB_OUTPUT: `name=value`, or a heredoc with a delimiter the value cannot contain. */
function writeOutputs(outputs) {
  const file = process.env.GITHUB_OUTPUT;
  if (!file) return;
  let text = '';
  for (const [name, value] of Object.entries(outputs)) {
    if (!/[\r\n]/.test(value)) {
      text += `${name}=${value}\n`;
      continue;
    }
    let delimiter;
    do delimiter = `cvmflow_${randomBytes(12).toString('hex')}`;
    while (value.includes(delimiter));
    text += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  }
  appendFileSync(file, text);
}

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function writeSummary(i, outputs) {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  if (!i) {
    appendFileSync(file, `### ❌ cvmflow action: ${outputs.outcome}\n\n> ${cell(outputs.message)}\n\n`);
    return;
  }
  const ok = SUCCESS.has(outputs.outcome);
  const target = i.command === 'bluegreen-promote' ? `app ${i.app}` : `\`${i.spec}\``;
  const workflow = outputs['workflow-id']
    ? outputs['ui-url']
      ? `[${cell(outputs['workflow-id'])}](${outputs['ui-url']})`
      : `\`${cell(outputs['workflow-id'])}\``
    : '—';
  const lines = [
    `### ${ok ? '✅' : '❌'} cvmflow ${i.command}: ${outputs.outcome}`,
    '',
    '| | |',
    '| --- | --- |',
    `| Target | ${cell(target)} |`,
    `| Workflow | ${workflow} |`,
    `| Run | ${outputs['run-id'] ? `\`${cell(outputs['run-id'])}\`` : '—'} |`,
    `| Waited | ${i.wait ? 'until it ended' : 'no (returned once started)'} |`,
    `| Outcome | ${cell(outputs.outcome)} |`,
    '',
  ];
  if (outputs.message) lines.push(`> ${cell(outputs.message)}`, '');
  appendFileSync(file, `${lines.join('\n')}\n`);
}

/** `::error::` text: the runner's command escaping, so a message cannot end the annotation or start another. */
const escapeData = (text) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

function finish(i, outcome, { workflowId = '', runId = '', namespace = 'default', message = '', result = '' }) {
  const outputs = {
    'workflow-id': workflowId,
    'run-id': runId,
    'ui-url': i ? uiUrl(i, namespace, workflowId, runId) : '',
    outcome,
    message,
    result,
  };
  writeOutputs(outputs);
  writeSummary(i, outputs);
  const what = i ? `cvmflow ${i.command}` : 'cvmflow action';
  process.stdout.write(`${what}: ${outcome}${workflowId ? ` — ${workflowId}${runId ? ` (run ${runId})` : ''}` : ''}\n`);
  if (outputs['ui-url']) process.stdout.write(`Temporal UI: ${outputs['ui-url']}\n`);
  if (!SUCCESS.has(outcome))
    process.stdout.write(`::error title=${what} ${outcome}::${escapeData(message || outcome)}\n`);
  process.exitCode = SUCCESS.has(outcome) ? 0 : USER_ERROR.has(outcome) ? 2 : 1;
}

async function main() {
  // Masked before anything else can print, including the errors about the other inputs.
  mask([input('temporal-api-key'), input('codec-key')]);
  let i;
  try {
    i = readInputs();
  } catch (err) {
    if (!(err instanceof BadInput)) throw err;
    finish(undefined, 'invalid', { message: err.message });
    return;
  }
  const namespace = i.namespace || process.env.TEMPORAL_NAMESPACE || 'default';
  const r = await runCli(i, cliArgs(i));
  if (r.spawnError) {
    finish(i, 'error', { namespace, message: `cannot run ${i.cvmflow.join(' ')}: ${r.spawnError}` });
    return;
  }
  const doc = parseDoc(r.stdout);
  let outcome = doc ? classify(i, r.code, doc) : r.code === 2 ? 'invalid' : 'error';
  let message = messageOf(i, outcome, doc, r.code);
  let ids = { workflowId: doc?.workflowId ?? doc?.rolloutId ?? '', runId: doc?.runId ?? '' };
  let result = doc ?? {};

  if (i.command === 'bluegreen-promote' && outcome !== 'invalid') {
    // A promote is an Update and answers without the run's ids: the status read names them (a rejected promote
    // too, so its summary links the run that was not ready).
    const status = await runCli(i, ['bluegreen', 'status', i.app, '--json']);
    const view = status.code === 0 ? parseDoc(status.stdout) : undefined;
    if (view) ids = { workflowId: view.workflowId ?? '', runId: view.runId ?? '' };
    if (outcome === 'promoted' && i.wait && ids.workflowId) {
      // Waiting after a promote follows the run to its end: it succeeded only if it still ended promoted (the
      // analysis after the switch can roll it back).
      const watched = await runCli(i, ['watch', ids.workflowId, '--json']);
      const end = parseDoc(watched.stdout);
      result = end ?? {};
      if (!end) outcome = 'error';
      else if (end.status !== 'COMPLETED') outcome = String(end.status).toLowerCase();
      else outcome = end.result?.outcome === 'promoted' ? 'succeeded' : String(end.result?.outcome ?? 'failed');
      message = end?.error ?? end?.result?.summary ?? `cvmflow watch exited ${watched.code} without a JSON result`;
    }
  }
  finish(i, outcome, { ...ids, namespace, message, result: JSON.stringify(result) });
}

main().catch((err) => {
  process.stdout.write(`::error title=cvmflow action::${escapeData(String(err?.message ?? err))}\n`);
  process.exitCode = 1;
});
