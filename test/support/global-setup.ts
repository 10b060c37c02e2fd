// One real Temporal dev server per test run (vitest globalSetup), on loopback and a free port; stopped at the end.
import type { TestProject } from 'vitest/node';
import { type DevServer, startTemporalDevServer } from '../../src/dev/temporal-server';

let server: DevServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startTemporalDevServer({ fastSqlite: true, readyTimeoutMs: 90_000 });
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', server.namespace);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
