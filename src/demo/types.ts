// The shape of a demo tour step: one async function that narrates, starts a workflow through the typed client,
// shows its progress and returns what the summary table needs. Adding a step = one file in steps/ + one line in
// steps/index.ts.
import type { Client } from '@temporalio/client';
import type { Progress, Style } from '../cli/output';
import type { DevStack } from '../dev/stack';
import type { DemoPrometheus } from './metric-analysis';

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
  /** The tour's local Prometheus (./metric-analysis.ts), started once, at the outset when a step asks for it. */
  prometheus(): Promise<DemoPrometheus>;
}

export interface StepRecord {
  workflowId: string;
  runId?: string;
  /** A few words: how it ended. */
  outcome: string;
  /** The metric analysis the step's workflows ran, if any (the rollout step's, with Prometheus). */
  analysis?: DemoAnalysis;
}

/**
 * A step's metric analysis: per wave, the verdict and the value Prometheus answered; or `provider: 'none'` and why
 * it was left out (no Prometheus on this machine), the step then relying on HTTP health checks.
 */
export interface DemoAnalysis {
  provider: 'prometheus' | 'none';
  /** 'none' when nothing was measured. */
  verdict: 'pass' | 'fail' | 'inconclusive' | 'error' | 'none';
  condition?: string;
  waves?: { wave: number; verdict: string; value: string; query: string }[];
  reason?: string;
  /** The second rollout, whose wave the simulator makes fail: its analysis and how the rollout ended. */
  failing?: { workflowId: string; outcome: string; analysis: DemoAnalysis };
}

export interface DemoStep {
  title: string;
  /** The step measures with Prometheus: the tour starts it in the background as soon as the stack is up. */
  usesPrometheus?: boolean;
  run(ctx: DemoContext): Promise<StepRecord>;
}
