// Workflows used only by the foundation tests (the codec and worker bootstrap), not product code.
import { ApplicationFailure } from '@temporalio/workflow';

export async function echo(input: { secret: string; note: string }): Promise<{ secret: string; note: string }> {
  return input;
}

export async function failWith(message: string): Promise<never> {
  throw ApplicationFailure.nonRetryable(message, 'TestFailure');
}
