// The `compose` section: the Docker Compose text and optional pre-launch script, given inline or as files next to
// the spec. Files are read while validating, so the loaded spec carries the text and nobody reads the disk again.
import { resolve } from 'node:path';
import { z } from 'zod';
import { formatKiB, readTextFile } from './files';
import { exactlyOne, expected, type SpecContext, strictObject, text } from './schema';
import { parseYaml } from './yaml';

/** Phala Cloud's client-side limit on docker_compose_file + pre_launch_script (reference §4.2). */
export const MAX_COMPOSE_BYTES = 200 * 1024;

export interface ComposeSpec {
  /** The Docker Compose file's text, as sent in `compose_file.docker_compose_file`. */
  dockerCompose: string;
  /** Shell script run before the containers start (`compose_file.pre_launch_script`). */
  preLaunchScript?: string;
}

function sourceFields(ctx: SpecContext) {
  return {
    // A file larger than the whole budget can be refused before it is read.
    file: text('a file path, relative to the spec file').transform((path, issues) => {
      const read = readTextFile(resolve(ctx.baseDir, path), MAX_COMPOSE_BYTES);
      if (read.ok) return read.text;
      issues.addIssue({ code: 'custom', message: read.problem, input: path });
      return z.NEVER;
    }),
    inline: z.string({ error: expected('the text itself') }).min(1, { error: expected('non-empty text') }),
  };
}

export function composeSchema(ctx: SpecContext) {
  const { file, inline } = sourceFields(ctx);
  const preLaunchScript = strictObject(
    { file: file.optional(), inline: inline.optional() },
    expected('a mapping with compose.preLaunchScript.file or compose.preLaunchScript.inline'),
  ).transform((source, issues) => {
    const key = exactlyOne(source, ['file', 'inline'], 'compose.preLaunchScript.', issues);
    return key ? (source[key] ?? '') : z.NEVER;
  });

  return strictObject(
    { file: file.optional(), inline: inline.optional(), preLaunchScript: preLaunchScript.optional() },
    expected('a mapping with compose.file or compose.inline'),
  ).transform((source, issues): ComposeSpec => {
    const key = exactlyOne(source, ['file', 'inline'], 'compose.', issues);
    if (!key) return z.NEVER;
    const dockerCompose = source[key] ?? '';
    const notCompose = composeFault(dockerCompose);
    if (notCompose) issues.addIssue({ code: 'custom', message: notCompose, path: [key], input: source });

    const bytes = Buffer.byteLength(dockerCompose) + Buffer.byteLength(source.preLaunchScript ?? '');
    if (bytes > MAX_COMPOSE_BYTES) {
      const what =
        source.preLaunchScript === undefined
          ? `the compose file is ${formatKiB(bytes)}`
          : `compose and pre-launch script are ${formatKiB(bytes)} together`;
      const message = `${what}; Phala Cloud accepts at most ${formatKiB(MAX_COMPOSE_BYTES)}`;
      issues.addIssue({ code: 'custom', message, input: source });
    }
    return source.preLaunchScript === undefined
      ? { dockerCompose }
      : { dockerCompose, preLaunchScript: source.preLaunchScript };
  });
}

/**
 * Catches a compose file Phala would reject only after a provision round trip: not YAML, or without services.
 * Deeper checks (images, ports) are left to the API, which knows what it supports.
 */
function composeFault(composeText: string): string | undefined {
  const parsed = parseYaml(composeText);
  if (!parsed.ok) return `not a Docker Compose file: ${parsed.problem}`;
  const services = (parsed.value as { services?: unknown } | null)?.services;
  const hasServices = services !== null && typeof services === 'object' && Object.keys(services).length > 0;
  return hasServices ? undefined : 'not a Docker Compose file: it defines no services';
}
