// Recorded histories guard workflow determinism: `CVMFLOW_RECORD_HISTORIES=1 npx vitest run test/integration`
// refreshes test/fixtures/histories, and test/unit/replay.test.ts replays them against the current code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!process.env.CVMFLOW_RECORD_HISTORIES) return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(`${HISTORIES_DIR}${name}.json`, historyToJSON(await handle.fetchHistory()));
}
