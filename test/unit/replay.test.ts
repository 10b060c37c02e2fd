// Determinism guard: histories recorded from real runs (test/fixtures/histories) must replay against the current
// workflow code. A change that alters the order of commands fails here; put it behind patched().
import { readdirSync, readFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createDataConverter } from '../../src/temporal/data-converter';
import { bundleWorkflows } from '../../src/worker/worker';
import { HISTORIES_DIR } from '../support/replay';
import { TEST_CODEC_KEYS } from '../support/temporal';

const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

describe('recorded histories replay against the current workflows', () => {
  it('has the histories of a successful and a rolled-back deploy', () => {
    expect(files).toEqual(expect.arrayContaining(['deploy-success.json', 'deploy-rolled-back.json']));
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(`${HISTORIES_DIR}${file}`, 'utf8')));
    const result = await Worker.runReplayHistory(
      { workflowBundle: await bundleWorkflows(), dataConverter: createDataConverter(TEST_CODEC_KEYS) },
      history,
      file,
    );
    expect(result).toBeUndefined();
  });
});
