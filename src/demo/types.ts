// The shape of a demo tour step: one async function that narrates, starts a workflow through the typed client,
// shows its progress and returns what the summary table needs. Adding a step = one file in steps/ + one line in
// steps/index.ts.
import type { Client } from '@temporalio/client';
import type { Progress, Style } from '../cli/output';
import type { DevStack } from '../dev/stack';

export interface DemoContext {
  stack: DevStack;
  client: Client;
  style: Style;
  /** A paragraph of narration. */
  say(text: string): void;
  /** A live progress line (rewritten in a terminal, plain lines elsewhere). */
  progress(): Progress;
  /** Values earlier steps left for later ones (e.g. the app the tour deployed). */
  shared: Map<string, unknown>;
}

export interface StepRecord {
  workflowId: string;
  runId?: string;
  /** A few words: how it ended. */
  outcome: string;
}

export interface DemoStep {
  title: string;
  run(ctx: DemoContext): Promise<StepRecord>;
}
