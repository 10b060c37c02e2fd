// A saga stack for workflow code. Callers run it inside CancellationScope.nonCancellable, so a cancelled
// deployment still cleans up; each compensation is an activity with its own retries, and one failing does not
// stop the others.
import { log } from '@temporalio/workflow';
import { describeError } from './errors';

type Compensation = { label: string; run: () => Promise<unknown> };

export class Compensations {
  private readonly stack: Compensation[] = [];

  add(label: string, run: () => Promise<unknown>): void {
    this.stack.push({ label, run });
  }

  get size(): number {
    return this.stack.length;
  }

  /** Runs every compensation, newest first; returns one line per compensation saying what happened. */
  async run(): Promise<string[]> {
    const report: string[] = [];
    while (this.stack.length) {
      const { label, run } = this.stack.pop()!;
      try {
        const out = await run();
        // A compensation that returns an empty list found nothing to undo.
        if (!Array.isArray(out)) report.push(label);
        else if (out.length) report.push(`${label} (${out.join(', ')})`);
      } catch (err) {
        log.error('compensation failed', { label, error: describeError(err) });
        report.push(`${label} FAILED: ${describeError(err)}`);
      }
    }
    return report;
  }
}
