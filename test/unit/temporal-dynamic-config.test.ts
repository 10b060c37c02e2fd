// The production stack's Temporal dynamic config (config/temporal-dynamicconfig.yaml, mounted by docker-compose.yml)
// carries the same history queue read rates as the dev server the tests and benchmarks measure with.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/dev/temporal-server';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

describe('temporal dynamic config in the compose stack', () => {
  it('sets every key of the dev server to the same value', () => {
    const file = parse(readFileSync(root('config/temporal-dynamicconfig.yaml'), 'utf8')) as Record<
      string,
      { value: unknown }[]
    >;
    const values = Object.fromEntries(Object.entries(file).map(([key, list]) => [key, list[0]?.value]));
    expect(values).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
  });

  it('is mounted into the temporal service and named by DYNAMIC_CONFIG_FILE_PATH', () => {
    const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8')) as {
      services: { temporal: { environment: Record<string, string>; volumes: string[] } };
    };
    const { environment, volumes } = compose.services.temporal;
    const mount = volumes.find((v) => v.startsWith('./config/temporal-dynamicconfig.yaml:'));
    expect(mount).toBeDefined();
    expect(mount!.split(':')[1]).toBe(`/etc/temporal/${environment.DYNAMIC_CONFIG_FILE_PATH}`);
  });
});
