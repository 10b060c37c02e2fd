/** The most useful message of a Temporal failure chain (an ActivityFailure's own text is generic). */
export function describeError(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause && (e.message === 'Activity task failed' || e.message === 'Child Workflow execution failed'))
    e = e.cause as typeof e;
  return e?.message ?? String(err);
}
