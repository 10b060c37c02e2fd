// A command that ran but did not succeed (a workflow failed or was cancelled, a deployment of the app is already
// running, the stack is already running): the CLI prints the message as one line on stderr and exits 1. Thrown
// rather than set on process.exitCode, so main() is the one place that decides the exit status.
import { WorkflowFailedError } from '@temporalio/client';

export class CommandFailure extends Error {
  readonly code = 'COMMAND_FAILED';
  /** True when the command already printed its outcome as JSON on stdout (main adds no JSON error then). */
  readonly jsonPrinted: boolean;

  constructor(message: string, opts: { jsonPrinted?: boolean } = {}) {
    super(message);
    this.jsonPrinted = opts.jsonPrinted ?? false;
  }
}

/** Why a workflow's result() threw: the workflow's own failure message, not the SDK's wrapper text. */
export function workflowFailureMessage(err: unknown): string {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause?.message;
    if (cause) return cause;
  }
  return (err as Error).message;
}
