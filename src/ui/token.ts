// The dashboard's token: CVMFLOW_UI_TOKEN when set (the same kind of secret as the trigger endpoint's bearer token),
// else a fresh random one for this run, which only the person who started the dashboard sees (in its output).
import { randomBytes } from 'node:crypto';

export const UI_TOKEN_ENV = 'CVMFLOW_UI_TOKEN';

export function uiToken(env: NodeJS.ProcessEnv): { token: string; generated: boolean } {
  const given = env[UI_TOKEN_ENV]?.trim();
  if (given) return { token: given, generated: false };
  return { token: randomBytes(24).toString('base64url'), generated: true };
}

/** The address to open: the token in the #fragment, which the browser keeps to itself (never sent in a request). */
export function openUrl(url: string, token: string): string {
  return `${url}/#token=${encodeURIComponent(token)}`;
}
