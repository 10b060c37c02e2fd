// The calendar is imported by workflow code, so it must bundle for and run inside Temporal's deterministic
// workflow sandbox and give the same answers there as in plain Node.
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Calendar,
  changesBetween,
  describeChange,
  desiredAt,
  nextChange,
  safeParseCalendar,
} from '../../src/calendar/index';
import { createWorker } from '../../src/worker/worker';
import { codecClient, TEST_CODEC_KEYS, uniqueId, workerConnection } from '../support/temporal';

const CALENDAR_DIR = fileURLToPath(new URL('../../src/calendar/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

// Written to a temporary folder so the test needs no workflow file in the repository; the bundler resolves
// @temporalio/workflow from beside that file, hence the node_modules link next to it.
const WORKFLOW_SOURCE = `
import { changesBetween, describeChange, desiredAt, nextChange, safeParseCalendar } from ${JSON.stringify(join(CALENDAR_DIR, 'index'))};

export async function evaluateCalendar(input) {
  const next = nextChange(input.calendar, input.atMs);
  return {
    desired: desiredAt(input.calendar, input.atMs),
    next,
    changes: changesBetween(input.calendar, input.atMs, input.untilMs),
    described: next ? describeChange(input.calendar, next) : undefined,
    invalid: safeParseCalendar({ timezone: 'Europe/Berln', default: 'off' }),
  };
}
`;

const calendar: Calendar = {
  timezone: 'Europe/Berlin',
  periods: [{ days: ['mon-fri'], start: '08:00', end: '18:00', state: 'running', note: 'office hours' }],
  windows: [{ start: '2026-10-25T02:30', end: '2026-10-25T04:00', state: 'maintenance' }],
  dates: [{ from: '2026-12-24', to: '2026-12-26', state: 'stopped' }],
  default: 'stopped',
};

describe('calendar inside the Temporal workflow sandbox', () => {
  let directory: string;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueId('calendar');

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'cvmflow-calendar-'));
    const workflowsPath = join(directory, 'workflows.js');
    writeFileSync(workflowsPath, WORKFLOW_SOURCE);
    symlinkSync(NODE_MODULES, join(directory, 'node_modules'), 'dir');
    connection = await workerConnection();
    worker = await createWorker({
      connection,
      config: { namespace: 'default', taskQueue, codecKeys: TEST_CODEC_KEYS },
      activities: {},
      workflowsPath,
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('bundles, runs, and matches evaluation in plain Node', async () => {
    const client = await codecClient();
    const atMs = Date.parse('2026-10-23T12:00Z');
    const untilMs = Date.parse('2026-12-31T00:00Z');
    const result = await client.workflow.execute('evaluateCalendar', {
      taskQueue,
      workflowId: uniqueId('calendar'),
      args: [{ calendar, atMs, untilMs }],
    });
    await client.connection.close();
    const next = nextChange(calendar, atMs);
    expect(result).toEqual({
      desired: desiredAt(calendar, atMs),
      next,
      changes: changesBetween(calendar, atMs, untilMs),
      described: describeChange(calendar, next!),
      invalid: safeParseCalendar({ timezone: 'Europe/Berln', default: 'off' }),
    });
    expect(result.changes.length).toBeGreaterThan(80);
  });

  it('uses no clock, randomness, I/O or Node built-ins', () => {
    const forbidden = [
      /Date\.now\s*\(/,
      /new Date\s*\(\s*\)/,
      /Math\.random/,
      /DateTime\.(now|local)\s*\(/,
      /from ['"]node:/,
      /\bprocess\./,
      /\bset(Timeout|Interval|Immediate)\s*\(/,
    ];
    for (const file of readdirSync(CALENDAR_DIR).filter((name) => name.endsWith('.ts'))) {
      // Comments may name these APIs to explain why they are not used.
      const code = readFileSync(join(CALENDAR_DIR, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      for (const pattern of forbidden) expect(code, `${file} uses ${pattern}`).not.toMatch(pattern);
    }
  });
});
