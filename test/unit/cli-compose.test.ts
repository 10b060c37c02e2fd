// docker-compose.yml, checked without a Docker engine: it parses; every image is pinned; every long-running service
// has a health check; ports stay on loopback; no secret is inline; and the cvmflow services get every variable the
// config loaders require (from .env.example and the compose secrets), proven by running those loaders.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { metricsEndpoint } from '../../src/metrics/runtime';
import { PhalaClient } from '../../src/phala/client';
import { generateCodecKey } from '../../src/temporal/codec';
import { loadCodecKeys, loadTemporalConfig } from '../../src/temporal/config';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string;
  secrets?: string[];
  ports?: string[];
  healthcheck?: { test: unknown };
  restart?: string;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};
const services = Object.entries(compose.services);

function envFile(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(root, '.env.example'), 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`, from the env file. */
function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const v = vars[name];
    if (v) return v;
    if (op === '-') return arg ?? '';
    throw new Error(`\${${name}} is not provided by .env.example`);
  });
}

/** The environment a service's container gets: env_file, then `environment`, as compose merges them. */
function containerEnv(service: Service): Record<string, string> {
  const file = envFile();
  const env: Record<string, string> = service.env_file ? { ...file } : {};
  for (const [k, v] of Object.entries(service.environment ?? {})) env[k] = substitute(String(v), file);
  return env;
}

/** Mounted compose secrets replaced by real files, so the loaders read them as the container would. */
function withSecretFiles(service: Service, env: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'cvmflow-compose-'));
  const out = { ...env };
  for (const [k, v] of Object.entries(env)) {
    const m = /^\/run\/secrets\/(.+)$/.exec(v);
    if (!m) continue;
    expect(service.secrets, `${k} reads secret ${m[1]}, which the service does not mount`).toContain(m[1]);
    expect(compose.secrets[m[1]!]?.file, `secret ${m[1]} has no file`).toBeTruthy();
    const path = join(dir, m[1]!);
    writeFileSync(path, `test:${generateCodecKey()}\n`);
    out[k] = path;
  }
  return out;
}

/** The cvmflow command a service runs (its first word); the codec server is checked on its own below. */
const role = (s: Service) => (['worker', 'serve'].includes(s.command?.[0] ?? '') ? s.command![0] : undefined);

describe('docker-compose.yml', () => {
  it('pins every image (a tag, never latest) and builds cvmflow from the repo Dockerfile', () => {
    for (const [name, s] of services) {
      expect(s.image, name).toMatch(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/);
      expect(s.image!.endsWith(':latest'), name).toBe(false);
    }
    expect(compose.services.worker?.build).toBe('.');
    expect(readFileSync(join(root, 'Dockerfile'), 'utf8')).toMatch(/^FROM node:20\.\d+\.\d+-[a-z]+-slim$/m);
  });

  it('has a health check on every long-running service, and depends only on services it defines', () => {
    for (const [name, s] of services) {
      if (s.restart !== 'no') expect(s.healthcheck?.test, `${name} has no health check`).toBeTruthy();
      for (const dep of Object.keys(s.depends_on ?? {})) expect(compose.services[dep], `${name} → ${dep}`).toBeTruthy();
    }
  });

  it('publishes ports on 127.0.0.1 only', () => {
    for (const [name, s] of services) for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it('writes no secret inline: passwords, keys and tokens come from .env or secret files', () => {
    for (const [name, s] of services) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CODEC_KEY$/.test(k))
          expect(String(v), `${name}.${k}`).toMatch(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
      }
    }
  });

  it('gives the worker and the trigger server every variable their config loaders require', () => {
    const cvmflow = services.filter(([, s]) => role(s));
    expect(cvmflow.map(([, s]) => role(s)).sort()).toEqual(['serve', 'worker']);
    for (const [name, s] of cvmflow) {
      const env = withSecretFiles(s, containerEnv(s));
      const config = loadTemporalConfig(env);
      expect(config.codecKeys, `${name}: payload encryption`).toBeDefined();
      const [host, port] = config.address.split(':');
      expect(compose.services[host!], `${name}: TEMPORAL_ADDRESS ${config.address}`).toBeTruthy();
      expect(port).toBe('7233');
      if (role(s) === 'worker') {
        expect(() => PhalaClient.fromEnv(env)).not.toThrow();
        expect(metricsEndpoint(env)?.bindAddress).toBe('0.0.0.0:9464');
      } else {
        expect(env.CVMFLOW_TRIGGER_TOKEN || env.CVMFLOW_TRIGGER_SECRET, `${name}: trigger authentication`).toBeTruthy();
      }
    }
  });

  it("runs the codec server with the workers' key ring and a token, and points the UI's browser at it", () => {
    const codec = compose.services.codec!;
    expect(codec.command?.slice(0, 2)).toEqual(['codec', 'serve']);
    const env = withSecretFiles(codec, containerEnv(codec));
    expect(loadCodecKeys(env).length).toBeGreaterThan(0);
    const flag = (name: string) => codec.command!.filter((_, i) => codec.command![i - 1] === name);
    expect(flag('--host')).toEqual(['0.0.0.0']);
    // Beyond loopback the server refuses to start without a token of 16 characters or more.
    expect(env.CVMFLOW_CODEC_SERVER_TOKEN?.length).toBeGreaterThanOrEqual(16);
    const [codecPort] = flag('--port');
    expect(codec.ports).toEqual([`127.0.0.1:${codecPort}:${codecPort}`]);

    const ui = compose.services['temporal-ui']!;
    const uiEnv = containerEnv(ui);
    const hostUiPort = /^127\.0\.0\.1:(\d+):/.exec(ui.ports![0]!)![1];
    expect(flag('--ui-origin')).toContain(`http://127.0.0.1:${hostUiPort}`);
    // The browser calls it from the host, where the codec port is published; the token leads the path.
    expect(uiEnv.TEMPORAL_CODEC_ENDPOINT).toBe(`http://127.0.0.1:${codecPort}/${env.CVMFLOW_CODEC_SERVER_TOKEN}`);
    expect(env.CVMFLOW_CODEC_SERVER_TOKEN).toMatch(/^[A-Za-z0-9._~-]+$/);
  });

  it('keeps the simulator behind a profile', () => {
    expect(compose.services.simulator?.profiles).toEqual(['simulator']);
    const env = containerEnv(compose.services.simulator!);
    expect(env.SIM_API_KEY && env.SIM_ADMIN_TOKEN).toBeTruthy();
  });
});
