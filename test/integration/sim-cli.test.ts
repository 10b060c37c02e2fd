// Conformance: the official CLI phala@1.1.18, unchanged, lists, gets, stops and starts CVMs of the simulator, and
// reads their nodes, containers, attestation and runtime config.
// It runs as a child process with a throw-away config dir and never reaches the internet.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commitCvmProvision, createClient, createSshKey, provisionCvm } from '@phala/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_DELAYS, type SimulatorHandle, startSimulator } from '../../src/simulator';

const run = promisify(execFile);
const KEY = 'phak_sim_cli_conformance';
const PHALA = join(process.cwd(), 'node_modules/.bin/phala');

let sim: SimulatorHandle;
let configDir: string;

async function phala(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PHALA, [...args, '--json'], {
    timeout: 30_000,
    env: {
      PATH: process.env.PATH,
      HOME: configDir,
      PHALA_CLOUD_DIR: configDir,
      PHALA_CLOUD_API_PREFIX: sim.url,
      PHALA_CLOUD_API_KEY: KEY,
      PHALA_DISABLE_UPDATE_CHECK: '1',
      CI: '1',
      NO_COLOR: '1',
    },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const view = (vmUuid: string) => sim.cvms().find((c) => c.vmUuid === vmUuid)!;
const settled = (vmUuid: string, status: string) =>
  expect.poll(() => view(vmUuid).status, { interval: 10, timeout: 5000 }).toBe(status);

async function deploy(name: string): Promise<{ vmUuid: string; appId: string }> {
  const client = createClient({ baseURL: sim.url, apiKey: KEY });
  const p = await provisionCvm(client, {
    name,
    compose_file: { docker_compose_file: 'services:\n  a:\n    image: busybox\n' },
  });
  const c = await commitCvmProvision(client, { app_id: p.app_id!, compose_hash: p.compose_hash });
  return { vmUuid: c.vm_uuid!, appId: p.app_id! };
}

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'cvmflow-phala-cli-'));
  // Timing does not matter here, only order: every transition takes 10 ms.
  sim = await startSimulator({ apiKeys: [KEY], delays: FAST_DELAYS });
});
afterAll(async () => {
  await sim.close();
  rmSync(configDir, { recursive: true, force: true });
});

describe('phala CLI 1.1.18 against the simulator', () => {
  it('lists, gets, stops and starts CVMs', async () => {
    const one = await deploy('cli-app-one');
    const two = await deploy('cli-app-two');
    await settled(one.vmUuid, 'running');
    await settled(two.vmUuid, 'running');

    const list = await phala('cvms', 'list');
    expect(list.success).toBe(true);
    const items = list.items as { cvmName: string; status: string; appId: string }[];
    expect(items.map((i) => [i.cvmName, i.status]).sort()).toEqual([
      ['cli-app-one', 'running'],
      ['cli-app-two', 'running'],
    ]);

    const byName = await phala('cvms', 'get', 'cli-app-one');
    expect(byName).toMatchObject({ success: true, name: 'cli-app-one', status: 'running', vm_uuid: one.vmUuid });
    const legacy = await phala('cvms', 'get', one.vmUuid, '--api-version', '2025-10-28');
    expect(legacy).toMatchObject({ name: 'cli-app-one', in_progress: false, app_id: one.appId });
    expect(typeof legacy.id).toBe('number');

    const stop = await phala('cvms', 'stop', one.vmUuid);
    expect(stop).toMatchObject({ success: true, cvm: { status: 'stopping', vm_uuid: one.vmUuid } });
    await settled(one.vmUuid, 'stopped');
    expect(view(one.vmUuid).history.slice(-2)).toMatchObject([
      { status: 'stopping', op: 'stop' },
      { status: 'stopped', op: null },
    ]);
    const afterStop = await phala('cvms', 'list');
    expect(
      (afterStop.items as { cvmName: string; status: string }[]).find((i) => i.cvmName === 'cli-app-one')?.status,
    ).toBe('stopped');

    const start = await phala('cvms', 'start', `app_${one.appId}`);
    expect(start).toMatchObject({ success: true, cvm: { status: 'starting' } });
    await settled(one.vmUuid, 'running');
    expect(view(two.vmUuid).history.map((h) => h.status)).toEqual(['creating', 'starting', 'running']);

    const stops = sim.requests({ method: 'POST', route: '/cvms/:id/stop' });
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ status: 200, apiKeyId: sim.apiKeyId(KEY) });
    expect(JSON.stringify(sim.requests())).not.toContain(KEY);
  });
});

/** dstack's RTMR replay, written out here so the test checks the simulator against the rule, not against itself. */
function replay(digests: string[]): string {
  let mr = Buffer.alloc(48);
  for (const d of digests)
    mr = createHash('sha384')
      .update(Buffer.concat([mr, Buffer.from(d, 'hex')]))
      .digest();
  return mr.toString('hex');
}

function runtimeDigest(name: string, payloadHex: string): string {
  const type = Buffer.alloc(4);
  type.writeUInt32LE(0x08000001);
  const data = Buffer.concat([type, Buffer.from(`:${name}:`), Buffer.from(payloadHex, 'hex')]);
  return createHash('sha384').update(data).digest('hex');
}

describe('phala CLI 1.1.18 reads of a running CVM', () => {
  it('lists nodes, containers, OS images, the attestation and the runtime config, and resizes', async () => {
    const cvm = await deploy('cli-app-reads');
    await settled(cvm.vmUuid, 'running');
    const client = createClient({ baseURL: sim.url, apiKey: KEY });
    const sshKey = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.alloc(36, 7)]).toString('base64')} dev@laptop`;
    await createSshKey(client, { name: 'laptop', public_key: sshKey });

    const nodes = await phala('nodes', 'list');
    expect(nodes).toMatchObject({ success: true, total: 3, page: 1 });
    expect((nodes.items as { name: string; object_type: string }[]).map((n) => n.name)).toEqual([
      'prod5',
      'prod7',
      'legacy1',
    ]);

    const ps = await phala('ps', `app_${cvm.appId}`);
    expect(ps).toMatchObject({
      success: true,
      containers: [{ names: ['/app-a-1'], image: 'busybox', state: 'running' }],
    });

    const rc = await phala('runtime-config', `app_${cvm.appId}`);
    expect(rc).toMatchObject({ success: true, hostname: 'cli-app-reads', ssh_authorized_keys: [sshKey] });
    expect(rc.default_gateway_domain).toMatch(/\.sim\.phala\.invalid$/);

    const att = await phala('cvms', 'attestation', cvm.vmUuid);
    // The CLI re-parses with its own older schema (no `name`; `sans` a string, where the SDK has a list) and keeps
    // the raw fields when that fails, so `name` never reaches its output.
    expect(att).toMatchObject({ success: true, is_online: true, is_public: true, error: null });
    const tcb = att.tcb_info as {
      app_compose: string;
      rtmr0: string;
      rtmr3: string;
      event_log: { imr: number; event: string; event_payload: string; digest: string }[];
    };
    const composeHash = sim.cvms().find((c) => c.vmUuid === cvm.vmUuid)!.composeHash;
    expect(createHash('sha256').update(tcb.app_compose).digest('hex')).toBe(composeHash);
    const rt = tcb.event_log.filter((e) => e.imr === 3);
    expect(rt.find((e) => e.event === 'compose-hash')?.event_payload).toBe(composeHash);
    expect(rt.find((e) => e.event === 'app-id')?.event_payload).toBe(cvm.appId);
    for (const e of rt) expect(e.digest).toBe(runtimeDigest(e.event, e.event_payload));
    expect(replay(rt.map((e) => e.digest))).toBe(tcb.rtmr3);
    expect(replay(tcb.event_log.filter((e) => e.imr === 0).map((e) => e.digest))).toBe(tcb.rtmr0);
    const certs = att.app_certificates as { quote: string | null; position_in_chain: number }[];
    const quote = Buffer.from(certs.find((c) => c.position_in_chain === 0)!.quote!, 'hex');
    // TDX quote v4: the TD report body starts after the 48-byte header; RTMR3 sits at body offset 472.
    expect(quote.subarray(48 + 472, 48 + 520).toString('hex')).toBe(tcb.rtmr3);
    // dstack's device id is the sha256 of the quote header's 20-byte user_data (header offset 28).
    const node = (nodes.items as { id: number; device_id: string }[]).find((n) => n.id === view(cvm.vmUuid).nodeId);
    expect(createHash('sha256').update(quote.subarray(28, 48)).digest('hex')).toBe(node?.device_id);

    const images = await phala('os-images');
    expect((images.items as { name: string }[]).map((i) => i.name)).toContain('dstack-0.5.3');
    const allowlist = await phala('cvms', 'device-allowlist', `app_${cvm.appId}`);
    expect(allowlist).toMatchObject({ success: true, is_onchain_kms: false, devices: [] });

    // `cvms resize` sends allow_restart as 1/0 (pydantic's lax booleans accept that): the CVM reboots at 2 vCPUs.
    const resize = await phala('cvms', 'resize', `app_${cvm.appId}`, '--vcpu', '2', '--memory', '4096', '--yes');
    expect(resize.success).toBe(true);
    await settled(cvm.vmUuid, 'running');
    expect(
      view(cvm.vmUuid)
        .history.slice(-3)
        .map((h) => h.status),
    ).toEqual(['updating', 'restarting', 'running']);
    const after = await phala('cvms', 'get', cvm.vmUuid);
    expect(after).toMatchObject({ resource: { vcpu: 2, memory_in_gb: 4 } });

    const paths = sim.requests({ method: 'GET' }).map((r) => r.route);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/workspaces/:slug/nodes',
        '/cvms/:id/composition',
        '/cvms/:id/user_config',
        '/cvms/:id/attestation',
      ]),
    );
  });
});
