// Instants as text, one way everywhere: UTC ISO 8601. Deterministic (no zone names from ICU), so safe in workflow
// state and history as well as in CLI output.

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
