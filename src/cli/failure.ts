// A command that ran but did not succeed (a workflow failed or was cancelled, a deployment of the app is already
// running, the stack is already running): the CLI prints the message as one line on stderr and exits 1. Thrown
// rather than set on process.exitCode, so main() is the one place that decides the exit status.
export class CommandFailure extends Error {
  readonly code = 'COMMAND_FAILED';
  /** True when the command already printed its outcome as JSON on stdout (main adds no JSON error then). */
  readonly jsonPrinted: boolean;

  constructor(message: string, opts: { jsonPrinted?: boolean } = {}) {
    super(message);
    this.jsonPrinted = opts.jsonPrinted ?? false;
  }
}

/**
 * Why a workflow's result() threw: the workflow's own failure message (the cause of the SDK's WorkflowFailedError),
 * not the wrapper's text. Recognised by name, so the CLI's error path does not load the Temporal SDK.
 */
export function workflowFailureMessage(err: unknown): string {
  const e = err as { name?: string; message: string; cause?: { message?: string } };
  if (e?.name === 'WorkflowFailedError' && e.cause?.message) return e.cause.message;
  return e.message;
}

/** Whether result() threw because the workflow was cancelled (its failure's cause is a CancelledFailure). */
export function wasCancelled(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } };
  return e?.name === 'WorkflowFailedError' && e.cause?.name === 'CancelledFailure';
}
