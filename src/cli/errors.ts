// Exit codes shared by every command: 0 ok, 1 failure, 2 bad input (flags, spec files, environment).
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** An error the user caused and can fix; the CLI prints its message alone and exits 2. */
export class UsageError extends Error {
  readonly code = 'BAD_INPUT';
  readonly exitCode = EXIT_BAD_INPUT;
}

// PHALA_INVALID_RESPONSE: an answer that is not the Phala Cloud API's almost always means PHALA_CLOUD_API_PREFIX
// points somewhere else (a web page, another service): a setting to fix, not an outage to wait out.
const BAD_INPUT_CODES = new Set([
  'CONFIG_INVALID',
  'SPEC_INVALID',
  'CODEC_KEY',
  'TEMPORAL_CLI_USAGE',
  'PHALA_INVALID_RESPONSE',
]);

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT_BAD_INPUT;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && BAD_INPUT_CODES.has(code) ? EXIT_BAD_INPUT : EXIT_FAILURE;
}

/** The stable code of an error for `--json` output: the error's own `code`, else BAD_INPUT or FAILED. */
export function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code) return code;
  return exitCodeFor(err) === EXIT_BAD_INPUT ? 'BAD_INPUT' : 'FAILED';
}

/** What the CLI prints for an error: its message, plus what to check when the fix is a setting. */
export function messageFor(err: unknown): string {
  const message = (err as Error).message;
  if ((err as { code?: unknown })?.code === 'PHALA_INVALID_RESPONSE')
    return `${message} — check PHALA_CLOUD_API_PREFIX: it must be the Phala Cloud API's URL (…/api/v1)`;
  return message;
}
