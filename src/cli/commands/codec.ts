// `cvmflow codec`: payload encryption keys (`keygen`) and the remote codec endpoint the Temporal UI and CLI decode
// with (`serve`, src/temporal/codec-server.ts). The server reads the same key ring as workers and clients
// (CVMFLOW_CODEC_KEY or CVMFLOW_CODEC_KEY_FILE) and runs until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { AesGcmPayloadCodec, generateCodecKey } from '../../temporal/codec';
import {
  CodecServerConfigError,
  DEFAULT_CODEC_SERVER_PORT,
  normalizeOrigin,
  startCodecServer,
} from '../../temporal/codec-server';
import { loadCodecKeys } from '../../temporal/config';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { portFlag, untilSignal } from '../flags';
import { printJson } from '../output';

/** The Temporal dev server's UI (`temporal server start-dev`, `cvmflow dev`), under both names a browser may use. */
const DEFAULT_UI_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

interface ServeFlags {
  host: string;
  port: number;
  uiOrigin: string[];
  namespace: string[];
  tokenFile?: string;
  json?: boolean;
}

const originFlag = (value: string, previous: string[] = []) => {
  try {
    return [...previous, normalizeOrigin(value)];
  } catch (err) {
    throw new InvalidArgumentError(`--ui-origin ${(err as Error).message}`);
  }
};
const collect = (value: string, previous: string[] = []) => [...previous, value];
const log = (line: string) => process.stderr.write(`cvmflow codec serve: ${line}\n`);

/** The token from --token-file or CVMFLOW_CODEC_SERVER_TOKEN: never a flag value, which `ps` shows to every user. */
function readToken(flags: ServeFlags, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.CVMFLOW_CODEC_SERVER_TOKEN?.trim() || undefined;
  if (flags.tokenFile && fromEnv)
    throw new UsageError('--token-file and CVMFLOW_CODEC_SERVER_TOKEN are both set: keep one');
  if (!flags.tokenFile) return fromEnv;
  try {
    return readFileSync(flags.tokenFile, 'utf8').trim() || undefined;
  } catch (err) {
    throw new UsageError(
      `--token-file: cannot read ${flags.tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix the path`,
    );
  }
}

export async function runCodecServe(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const token = readToken(flags, env);
  if (flags.tokenFile && !token) throw new UsageError(`--token-file: ${flags.tokenFile} is empty`);
  const keys = loadCodecKeys(env);
  const uiOrigins = flags.uiOrigin.length ? flags.uiOrigin : DEFAULT_UI_ORIGINS;
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  try {
    server = await startCodecServer({
      codec: new AesGcmPayloadCodec(keys),
      host: flags.host,
      port: flags.port,
      token,
      uiOrigins,
      namespaces: flags.namespace,
      log,
    });
  } catch (err) {
    if (err instanceof CodecServerConfigError) throw new UsageError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new UsageError(
        `--port ${flags.port} is already in use on ${flags.host}; choose another (0 = any free port)`,
      );
    throw err;
  }
  const access = token ? 'bearer token or /<token>/ path' : 'loopback only, no token';
  if (flags.json)
    printJson({ url: server.url, uiOrigins, namespaces: flags.namespace, keyIds: keys.map((k) => k.id), auth: access });
  else {
    process.stdout.write(`${server.url}\n`);
    log(
      `serving ${server.url}/encode and /decode for ${uiOrigins.join(', ')} (${access}; key ids ${keys.map((k) => k.id).join(', ')})`,
    );
    log(
      `temporal workflow show --workflow-id <id> --codec-endpoint ${server.url}${token ? " --codec-auth 'Bearer …'" : ''}`,
    );
  }
  await untilSignal();
  await server.close();
}

export function registerCodecCommand(program: Command): void {
  const codec = program.command('codec').description(describeCommand('codec'));
  codec
    .command('keygen')
    .description('print a new random AES-256 key for CVMFLOW_CODEC_KEY')
    .option('--id <id>', 'key id to prefix (e.g. the month you rotate in: 2026-11)')
    .addHelpText(
      'after',
      '\nRotation: put the new key first and keep the old ones after it, comma-separated:\n  CVMFLOW_CODEC_KEY="2026-11:<new>,2026-05:<old>"\nThe first key encrypts; every listed key decrypts.',
    )
    .action((opts: { id?: string }) => {
      const key = generateCodecKey();
      process.stdout.write(`${opts.id ? `${opts.id}:` : ''}${key}\n`);
    });
  codec
    .command('serve')
    .description("Temporal's remote codec endpoint (POST /encode, /decode) for the Temporal UI and `temporal` CLI")
    .option('--host <host>', 'interface to listen on; beyond loopback a token is required', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0 = any free port)', portFlag('--port'), DEFAULT_CODEC_SERVER_PORT)
    .option(
      '--ui-origin <url>',
      `the Temporal UI's address, allowed to call from the browser (repeatable; default ${DEFAULT_UI_ORIGINS.join(', ')})`,
      originFlag,
      [],
    )
    .option('--namespace <ns>', 'serve only this namespace (repeatable; default every namespace)', collect, [])
    .option('--token-file <file>', 'file holding the bearer token (instead of CVMFLOW_CODEC_SERVER_TOKEN)')
    .option('--json', 'print the URL and settings as one JSON object once listening')
    .addHelpText(
      'after',
      `
Environment:
  CVMFLOW_CODEC_KEY / _FILE     the key ring the workers use (the server encrypts with the first, decrypts with all)
  CVMFLOW_CODEC_SERVER_TOKEN    require "Authorization: Bearer <token>" (or the token as the endpoint's first path
                                segment, for the Web UI); required with a --host beyond loopback

Point the Temporal UI at it (TEMPORAL_CODEC_ENDPOINT, or start-dev --ui-codec-endpoint), and the CLI:
  temporal workflow show --workflow-id deploy-my-app --codec-endpoint http://127.0.0.1:${DEFAULT_CODEC_SERVER_PORT}
Only the UI's origins get CORS answers; payload contents and the token never reach the log.`,
    )
    .action((flags: ServeFlags) => runCodecServe(flags));
}
