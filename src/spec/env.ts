// Env values are read at deploy time from the deploying environment or from files, never from the spec. Problems
// name the entry and the variable or path to fix, and never the value: these are secrets on their way to a TEE.
import { resolve } from 'node:path';
import type { DeploymentSpec } from './deployment';
import { type Problem, SpecError } from './errors';
import { readTextFile } from './files';

export interface EnvEntry {
  key: string;
  value: string;
}

export interface ResolveEnvOptions {
  /** Where `fromEnv` reads; the deploying process's environment by default. */
  env?: Record<string, string | undefined>;
  /** Folder that relative `fromFile` paths are resolved against (loaded specs hold absolute paths already). */
  baseDir?: string;
  /** Names the spec in error messages. */
  source?: string;
}

/** Reads every env value; returns them sorted by key, or throws SpecError naming each missing variable or file. */
export function resolveEnv(env: DeploymentSpec['env'], options: ResolveEnvOptions = {}): EnvEntry[] {
  const vars = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const entries: EnvEntry[] = [];
  const problems: Problem[] = [];
  for (const key of Object.keys(env).sort()) {
    const source = env[key];
    if (!source) continue;
    if ('fromEnv' in source) {
      const value = vars[source.fromEnv];
      if (value === undefined) {
        problems.push({ path: `env.${key}`, message: `environment variable ${source.fromEnv} is not set` });
      } else if (value === '') {
        // CI systems expand a secret that is not configured to an empty string; deploying that silently would
        // start the app without its secret.
        problems.push({ path: `env.${key}`, message: `environment variable ${source.fromEnv} is set but empty` });
      } else {
        entries.push({ key, value });
      }
    } else {
      const read = readTextFile(resolve(baseDir, source.fromFile));
      if (read.ok) entries.push({ key, value: withoutFinalNewline(read.text) });
      else problems.push({ path: `env.${key}.fromFile`, message: read.problem });
    }
  }
  if (problems.length > 0) throw new SpecError(options.source ?? 'spec', problems);
  return entries;
}

/** The env keys the CVM may receive (`compose_file.allowed_envs`), sorted for a stable compose hash. */
export function allowedEnvs(spec: Pick<DeploymentSpec, 'env'>): string[] {
  return Object.keys(spec.env).sort();
}

// Editors end files with a newline that is not part of the secret; only one is dropped, so a value that really
// ends in a blank line keeps it.
function withoutFinalNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}
