// Keys the embedded stack keeps in its data folder, so a restart finds the same ones: the payload codec key (else
// the workflows already in the Temporal database could not be decrypted), and the simulator's API key and admin
// token (stable export lines). Files are created 0600 and their contents are never printed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCodecKey } from '../temporal/codec';

export const CODEC_KEY_FILE = 'codec.key';
const SIM_KEYS_FILE = 'sim-keys.json';

function readOrCreate(path: string, make: () => string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return value;
}

/** The path of the data folder's codec key ring, generated on first use. */
export function devCodecKeyFile(dataDir: string): string {
  const path = join(dataDir, CODEC_KEY_FILE);
  readOrCreate(path, () => `dev-${new Date().toISOString().slice(0, 10)}:${generateCodecKey()}`);
  return path;
}

export interface SimKeys {
  /** Accepted by the local simulator only; it grants nothing anywhere else. */
  apiKey: string;
  adminToken: string;
}

export function devSimKeys(dataDir: string): SimKeys {
  const text = readOrCreate(join(dataDir, SIM_KEYS_FILE), () =>
    JSON.stringify({
      apiKey: `phak_dev_${randomBytes(12).toString('hex')}`,
      adminToken: `simadm_${randomBytes(16).toString('hex')}`,
    }),
  );
  return JSON.parse(text) as SimKeys;
}
