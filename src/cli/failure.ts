// A command that ran but did not succeed (a workflow failed, the stack is already running): the CLI prints the
// message as one line and exits 1. Thrown rather than set on process.exitCode, which the entry point overwrites
// with main()'s result.
export class CommandFailure extends Error {
  readonly code = 'COMMAND_FAILED';
}
