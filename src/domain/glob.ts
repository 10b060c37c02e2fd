// Name globs over CVM and app names, as rollout targets and power-schedule selectors write them.

/** A name glob: `*` any run of characters, `?` one character; the whole name must match. */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${pattern}$`).test(name);
}
