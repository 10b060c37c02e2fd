// What a failed request to a workflow means to its caller, the same for every kind: an Update the run's validator
// refused carries the validator's reason; a workflow that is not there (or whose run has ended: Updates and
// cancellations reach running runs only) gets the kind's own not-found answer; anything else is thrown as it is.
import { isGrpcServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

/** gRPC's NOT_FOUND, which some calls raise as it is instead of as a WorkflowNotFoundError. */
const GRPC_NOT_FOUND = 5;

/** Whether `err` says the workflow (or its run) does not exist. */
export const isWorkflowNotFound = (err: unknown): boolean =>
  err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND);

export interface RequestAnswers {
  /** The run's validator refused the request, for `reason`. */
  refused(reason: string): Error;
  /** No such workflow, or its run has ended. */
  missing(): Error | Promise<Error>;
}

export async function askWorkflow<T>(call: () => Promise<T>, answers: RequestAnswers): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError)
      throw answers.refused((err.cause as Error | undefined)?.message ?? err.message);
    if (isWorkflowNotFound(err)) throw await answers.missing();
    throw err;
  }
}
