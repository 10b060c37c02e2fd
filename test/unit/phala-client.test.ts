import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_URL, PhalaClient, type PhalaClientOptions } from '../../src/phala/client';
import { PhalaApiError, PhalaResponseValidationError, PhalaUsageError } from '../../src/phala/errors';

// A key that an unlucky server echoes back: it must never reach an error message.
const API_KEY = 'phak_TEST_secret_7f3a9c';
const UUID_DASHED = '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3';
const UUID_BARE = '0b1c2d3e4f504a6b8c7d8e9fa0b1c2d3';
const HEX40 = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: Recorded, res: ServerResponse) => void;

interface TestServer {
  url: string;
  origin: string;
  requests: Recorded[];
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A real HTTP server on loopback; every request is recorded before the handler answers it. */
async function serve(handler: Handler): Promise<TestServer> {
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const rec = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(rec);
      handler(rec, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { url: `${origin}/api/v1`, origin, requests, close };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function client(url: string, extra: Partial<PhalaClientOptions> = {}) {
  const c = new PhalaClient({ baseURL: url, apiKey: API_KEY, ...extra });
  cleanups.push(() => c.close());
  return c;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** A `VM` of the default version (2026-06-23): hashid `id`; 2026-01-21 answers an integer there. */
const vm = (over: Record<string, unknown> = {}) => ({
  id: 'cvm_vm7',
  name: 'web-1',
  status: 'starting',
  teepod_id: 3,
  app_id: HEX40,
  vm_uuid: UUID_DASHED,
  instance_id: null,
  vcpu: 1,
  memory: 2048,
  disk_size: 20,
  created_at: '2026-01-01T00:00:00Z',
  encrypted_env_pubkey: null,
  ...over,
});

const cvmInfo = (over: Record<string, unknown> = {}) => ({
  id: 'cvm_abc',
  name: 'web-1',
  status: 'running',
  app_id: HEX40,
  vm_uuid: UUID_DASHED,
  resource: { vcpu: 2, memory_in_gb: 4, disk_in_gb: 20, instance_type: 'tdx.small' },
  gateway: { base_domain: 'example.test' },
  node_info: { object_type: 'node', id: 3, name: 'node-a' },
  kms_info: { encrypted_env_pubkey: 'ab'.repeat(32) },
  compose_hash: 'ff'.repeat(32),
  ...over,
});

describe('PhalaClient requests', () => {
  it('sends the API key, version, JSON content type and user agent, on a collapsed path', async () => {
    const srv = await serve((_, res) => json(res, 200, cvmInfo()));
    const c = client(`${srv.url}/`, { userAgent: 'cvmflow-test' });
    const cvm = await c.getCvm(UUID_DASHED);
    expect(cvm.node_info?.id).toBe(3);
    const [req] = srv.requests;
    expect(req?.method).toBe('GET');
    expect(req?.url).toBe(`/api/v1/cvms/${UUID_BARE}`);
    expect(req?.headers).toMatchObject({
      'x-api-key': API_KEY,
      'x-phala-version': '2026-06-23',
      'content-type': 'application/json',
      'user-agent': 'cvmflow-test',
    });
    await c.request('GET', '//cvms//x/state');
    expect(srv.requests[1]?.url).toBe('/api/v1/cvms/x/state');
  });

  it('URL-encodes identifiers and builds query strings without undefined values', async () => {
    const srv = await serve((_, res) => json(res, 200, { items: [], total: 0, page: 2, page_size: 50, pages: 0 }));
    const c = client(srv.url);
    await c.listCvms({ page: 2, pageSize: 50, family: 'cpu', instanceTypes: ['tdx.small', 'tdx.large'] });
    await c.listCvms({ page: 1 });
    await client(srv.url, { version: '2026-01-21' }).listCvms({ nodeId: 3 });
    expect(srv.requests.map((r) => r.url)).toEqual([
      '/api/v1/cvms/paginated?page=2&page_size=50&family=cpu&instance_types=tdx.small&instance_types=tdx.large',
      '/api/v1/cvms/paginated?page=1',
      '/api/v1/cvms/paginated?node_id=3',
    ]);
    // Each version's filters only: 2026-05-22 removed node_id and added family / instance_types.
    await expect(c.listCvms({ nodeId: 3 })).rejects.toMatchObject({ field: 'nodeId' });
    const old = client(srv.url, { version: '2026-01-21' });
    await expect(old.listCvms({ family: 'gpu' })).rejects.toMatchObject({ field: 'family' });
    await expect(old.listCvms({ instanceTypes: ['tdx.small'] })).rejects.toMatchObject({ field: 'instanceTypes' });
    expect(srv.requests).toHaveLength(3);
    await c.getCvm('a b/c').catch(() => undefined);
    expect(srv.requests[3]?.url).toBe('/api/v1/cvms/a%20b%2Fc');
  });

  it('provision: node_id becomes teepod_id, instance_type defaults to tdx.small, compose name to ""', async () => {
    const srv = await serve((_, res) => json(res, 200, { compose_hash: 'h1', app_id: HEX40, teepod_id: 3 }));
    const c = client(srv.url);
    const res = await c.provisionCvm({
      name: 'web-1',
      compose_file: { docker_compose_file: 'services: {}', allowed_envs: ['FOO'] },
      node_id: 3,
      kms: 'PHALA',
    });
    expect(res.compose_hash).toBe('h1');
    expect(JSON.parse(srv.requests[0]?.body ?? '')).toEqual({
      name: 'web-1',
      compose_file: { docker_compose_file: 'services: {}', allowed_envs: ['FOO'], name: '' },
      teepod_id: 3,
      kms: 'PHALA',
      instance_type: 'tdx.small',
    });
    await c.provisionCvm({ name: 'web-2', compose_file: {}, vcpu: 2, memory: 4096 });
    const second = JSON.parse(srv.requests[1]?.body ?? '');
    expect(second).toMatchObject({ vcpu: 2, memory: 4096 });
    expect(second).not.toHaveProperty('instance_type');
  });

  it('rejects bad provision input before sending anything', async () => {
    const srv = await serve((_, res) => json(res, 200, {}));
    const c = client(srv.url);
    const clash = await rejection(c.provisionCvm({ name: 'web-1', compose_file: {}, node_id: 1, teepod_id: 2 }));
    expect(clash).toBeInstanceOf(PhalaUsageError);
    expect((clash as PhalaUsageError).field).toBe('node_id');
    expect(((await rejection(c.provisionCvm({ name: 'x', compose_file: {} }))) as PhalaUsageError).field).toBe('name');
    expect(((await rejection(c.listCvms({ pageSize: 101 }))) as PhalaUsageError).field).toBe('pageSize');
    expect(await rejection(c.getCvm(''))).toBeInstanceOf(PhalaUsageError);
    expect(srv.requests).toHaveLength(0);
  });

  it('sends the lifecycle bodies in the API’s snake_case', async () => {
    const srv = await serve((req, res) => {
      if (req.method === 'DELETE') return void res.writeHead(204).end();
      if (req.url.endsWith('/compose_file')) return void res.writeHead(202).end();
      if (req.url.endsWith('/envs')) {
        return json(res, 202, {
          status: 'in_progress',
          message: 'ok',
          correlation_id: 'c1',
          allowed_envs_changed: false,
        });
      }
      json(res, 200, vm());
    });
    const c = client(srv.url);
    await c.restartCvm(UUID_BARE);
    await c.restartCvm({ app_id: HEX40 }, { force: true });
    const replica = await c.replicateCvm(UUID_BARE, { nodeId: 5, encryptedEnv: 'beef' });
    expect(replica.vm_uuid).toBe(UUID_DASHED);
    await c.replicateCvm(UUID_BARE);
    expect(await c.deleteCvm(UUID_BARE)).toBeUndefined();
    expect(await c.commitComposeFileUpdate(UUID_BARE, { composeHash: 'h2', envKeys: ['A'] })).toEqual({});
    const env = await c.updateEnvs(UUID_BARE, { encryptedEnv: 'cafe', composeHash: 'h2', transactionHash: '0x1' });
    expect(env.correlation_id).toBe('c1');
    await c.startCvm(UUID_BARE);
    await c.stopCvm(UUID_BARE);
    await c.shutdownCvm(UUID_BARE);
    expect(srv.requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      `POST /api/v1/cvms/${UUID_BARE}/restart {"force":false}`,
      `POST /api/v1/cvms/app_${HEX40}/restart {"force":true}`,
      `POST /api/v1/cvms/${UUID_BARE}/replicas {"node_id":5,"encrypted_env":"beef"}`,
      `POST /api/v1/cvms/${UUID_BARE}/replicas {}`,
      `DELETE /api/v1/cvms/${UUID_BARE} `,
      `PATCH /api/v1/cvms/${UUID_BARE}/compose_file {"compose_hash":"h2","env_keys":["A"]}`,
      `PATCH /api/v1/cvms/${UUID_BARE}/envs {"encrypted_env":"cafe","compose_hash":"h2","transaction_hash":"0x1"}`,
      `POST /api/v1/cvms/${UUID_BARE}/start `,
      `POST /api/v1/cvms/${UUID_BARE}/stop `,
      `POST /api/v1/cvms/${UUID_BARE}/shutdown `,
    ]);
  });

  it('normalises app ids in paths and skips an empty status batch', async () => {
    const srv = await serve((req, res) => {
      if (req.url.includes('/pubkey/')) return json(res, 200, { public_key: 'ab', signature: 'cd' });
      if (req.url === '/api/v1/status/batch') {
        return json(res, 200, { [UUID_DASHED]: { vm_uuid: UUID_DASHED, status: 'running', in_progress: false } });
      }
      json(res, 200, [cvmInfo()]);
    });
    const c = client(srv.url);
    const cvms = await c.getAppCvms(`0x${HEX40.toUpperCase()}`);
    expect(cvms[0]?.vm_uuid).toBe(UUID_DASHED);
    await c.getAppEnvEncryptPubKey('kms-base', `app_${HEX40}`);
    expect(await c.getStatusBatch([])).toEqual({});
    const batch = await c.getStatusBatch([UUID_DASHED]);
    expect(batch[UUID_DASHED]?.in_progress).toBe(false);
    expect(srv.requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      `GET /api/v1/apps/${HEX40}/cvms `,
      `GET /api/v1/kms/kms-base/pubkey/${HEX40} `,
      `POST /api/v1/status/batch {"vm_uuids":["${UUID_DASHED}"]}`,
    ]);
  });

  it('aborts a call with the signal’s reason, and sends nothing when already aborted', async () => {
    const srv = await serve(() => {
      // never answers
    });
    const c = client(srv.url);
    const ctrl = new AbortController();
    const reason = new Error('cancelled by test');
    const started = Date.now();
    const pending = c.getCvm(UUID_BARE, { signal: ctrl.signal });
    setTimeout(() => ctrl.abort(reason), 50);
    expect(await rejection(pending)).toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
    const before = srv.requests.length;
    expect(await rejection(c.getCvm(UUID_BARE, { signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(srv.requests).toHaveLength(before);
  });
});

describe('PhalaClient responses', () => {
  it('keeps unknown fields at every level and applies the SDK defaults', async () => {
    const srv = await serve((_, res) =>
      json(res, 200, cvmInfo({ future_field: { x: 1 }, resource: { vcpu: 2, gpu_model: 'H200' } })),
    );
    const cvm = await client(srv.url).getCvm(UUID_BARE);
    expect(cvm.future_field).toEqual({ x: 1 });
    expect(cvm.resource.gpu_model).toBe('H200');
    expect(cvm.services).toEqual([]);
    expect(cvm.listed).toBe(false);
  });

  it('reads an attestation: offline with null parts, online with TCB info and certificates', async () => {
    const event = { imr: 3, event_type: 0x08000001, digest: 'ab'.repeat(48), event: 'app-id', event_payload: HEX40 };
    const tcb = { mrtd: '01'.repeat(48), rtmr0: '02'.repeat(48), rtmr1: '03'.repeat(48), rtmr2: '04'.repeat(48) };
    const cert = {
      subject: { common_name: 'x', organization: null, country: null, state: null, locality: null },
      issuer: { common_name: 'ca', organization: null, country: null },
      serial_number: '01',
      not_before: '2026-01-01T00:00:00Z',
      not_after: '2027-01-01T00:00:00Z',
      version: 'v3',
      fingerprint: 'ff',
      signature_algorithm: 'ecdsa-with-SHA256',
      sans: null,
      is_ca: false,
      position_in_chain: 0,
      quote: '0400',
    };
    let online = false;
    const srv = await serve((_, res) =>
      json(
        res,
        200,
        online
          ? {
              name: 'web-1',
              is_online: true,
              error: null,
              app_certificates: [cert],
              tcb_info: { ...tcb, rtmr3: '05'.repeat(48), event_log: [event], app_compose: '{}' },
              compose_file: '{}',
            }
          : {
              name: 'web-1',
              is_online: false,
              error: 'offline',
              app_certificates: null,
              tcb_info: null,
              compose_file: null,
            },
      ),
    );
    const c = client(srv.url);
    const offline = await c.getAttestation(UUID_BARE);
    expect(offline).toMatchObject({ is_online: false, is_public: true, tcb_info: null, app_certificates: null });
    online = true;
    const att = await c.getAttestation(UUID_BARE);
    expect(att.tcb_info?.event_log[0]).toEqual(event);
    expect(att.app_certificates?.[0]?.quote).toBe('0400');
    expect(srv.requests.map((r) => r.url)).toEqual([
      `/api/v1/cvms/${UUID_BARE}/attestation`,
      `/api/v1/cvms/${UUID_BARE}/attestation`,
    ]);
    const broken = await serve((_, res) =>
      json(res, 200, {
        name: null,
        is_online: true,
        error: null,
        app_certificates: [],
        tcb_info: { ...tcb },
        compose_file: null,
      }),
    );
    const err = await rejection(client(broken.url).getAttestation(UUID_BARE));
    expect(err.message).toBe(
      'GET /cvms/{id}/attestation: response field "tcb_info.rtmr3" expected string, got nothing (field missing) (and 2 more mismatches)',
    );
  });

  it('names the endpoint and JSON path of a response that breaks the schema', async () => {
    const srv = await serve((req, res) => {
      if (req.url.endsWith('/start')) return json(res, 200, vm({ status: undefined }));
      if (req.url.endsWith('/stop')) return void res.writeHead(200).end();
      json(res, 200, cvmInfo({ resource: { vcpu: '2' } }), { 'x-request-id': 'req-7' });
    });
    const c = client(srv.url);
    const err = await rejection(c.getCvm(UUID_BARE));
    expect(err).toBeInstanceOf(PhalaResponseValidationError);
    expect(err).toBeInstanceOf(PhalaApiError);
    expect(err.message).toBe('GET /cvms/{id}: response field "resource.vcpu" expected number, got string');
    expect(err).toMatchObject({
      path: 'resource.vcpu',
      endpoint: 'GET /cvms/{id}',
      retryable: false,
      requestId: 'req-7',
    });
    const missing = await rejection(c.startCvm(UUID_BARE));
    expect(missing.message).toBe(
      'POST /cvms/{id}/start: response field "status" expected string, got nothing (field missing)',
    );
    const empty = await rejection(c.stopCvm(UUID_BARE));
    expect(empty.message).toBe('POST /cvms/{id}/stop: response body expected object, got an empty body');
  });

  it('rejects a 200 that is not JSON, and a shape of the other API version', async () => {
    const srv = await serve((req, res) => {
      if (req.url.endsWith('/state')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.end('<html>maintenance</html>');
      }
      json(res, 200, cvmInfo());
    });
    const html = await rejection(client(srv.url).getCvmState(UUID_BARE));
    expect(html).toBeInstanceOf(PhalaResponseValidationError);
    expect(html.message).toBe(
      'GET /cvms/{id}/state: response body is not JSON (text/html): "<html>maintenance</html>"',
    );
    const legacy = new PhalaClient({ baseURL: srv.url, apiKey: API_KEY, version: '2025-10-28' });
    cleanups.push(() => legacy.close());
    const err = await rejection(legacy.getCvm(UUID_BARE));
    expect(err.message).toMatch(/^GET \/cvms\/\{id\}: response field "id" expected number, got string/);
    expect(srv.requests.at(-1)?.headers['x-phala-version']).toBe('2025-10-28');
  });

  it('parses the legacy 2025-10-28 shapes when asked for that version', async () => {
    const srv = await serve((_, res) =>
      json(res, 200, {
        id: 12,
        name: 'web-1',
        status: 'running',
        teepod_id: 3,
        app_id: HEX40,
        vm_uuid: UUID_DASHED,
        instance_id: null,
        vcpu: 1,
        memory: 2048,
        disk_size: 20,
        base_image: 'dstack-0.5.3',
        encrypted_env_pubkey: null,
      }),
    );
    const legacy = new PhalaClient({ baseURL: srv.url, apiKey: API_KEY, version: '2025-10-28' });
    cleanups.push(() => legacy.close());
    const cvm = await legacy.getCvm(UUID_BARE);
    expect(cvm.id).toBe(12);
    expect(cvm.in_progress).toBe(false);
  });
});

interface ErrorCase {
  name: string;
  status: number;
  body: string;
  headers?: Record<string, string>;
  expect: Partial<PhalaApiError> & { messageIncludes?: string[] };
}

const structured = (code: string, message: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ error_code: code, message, ...extra });

const errorCases: ErrorCase[] = [
  {
    name: '400 FastAPI detail',
    status: 400,
    body: '{"detail":"Insufficient balance"}',
    expect: {
      code: 'PHALA_BAD_REQUEST',
      retryable: false,
      messageIncludes: ['POST /cvms/{id}/start: HTTP 400 Insufficient balance'],
    },
  },
  {
    name: '401 echoing the key',
    status: 401,
    body: JSON.stringify({ detail: `Invalid API key ${API_KEY}` }),
    expect: { code: 'PHALA_UNAUTHORIZED', retryable: false, messageIncludes: ['[redacted]', 'PHALA_CLOUD_API_KEY'] },
  },
  {
    name: '403',
    status: 403,
    body: '{"detail":"CVM not in workspace"}',
    expect: { code: 'PHALA_FORBIDDEN', retryable: false },
  },
  {
    name: '404',
    status: 404,
    body: '{"detail":"CVM not found"}',
    expect: { code: 'PHALA_NOT_FOUND', retryable: false, messageIncludes: ['HTTP 404 CVM not found'] },
  },
  {
    name: '409 operation in progress (no error_code)',
    status: 409,
    body: '{"detail":"Another operation is in progress"}',
    expect: { code: 'PHALA_BUSY', retryable: true, errorCode: undefined, messageIncludes: ['retry once it finishes'] },
  },
  {
    name: '409 ERR-03-007 app id conflict',
    status: 409,
    body: structured('ERR-03-007', 'App id already has a CVM with another compose hash'),
    expect: {
      code: 'PHALA_CONFLICT',
      retryable: false,
      errorCode: 'ERR-03-007',
      messageIncludes: ['HTTP 409 [ERR-03-007] App id'],
    },
  },
  {
    name: '422 FastAPI validation, fields named',
    status: 422,
    body: JSON.stringify({
      detail: [
        { loc: ['body', 'name'], msg: 'field required', type: 'missing' },
        { loc: ['body', 'vcpu'], msg: 'Input should be a valid integer', type: 'int_parsing', input: API_KEY },
      ],
    }),
    expect: {
      code: 'PHALA_VALIDATION',
      retryable: false,
      messageIncludes: ['validation failed: body.name: field required; body.vcpu: Input should be a valid integer'],
    },
  },
  {
    name: '429 with Retry-After seconds',
    status: 429,
    body: '{"detail":"Too many requests"}',
    headers: { 'retry-after': '7' },
    expect: { code: 'PHALA_RATE_LIMITED', retryable: true, retryAfterMs: 7000, messageIncludes: ['retry after 7 s'] },
  },
  {
    name: '500 plain text',
    status: 500,
    body: 'Internal Server Error',
    headers: { 'content-type': 'text/plain' },
    expect: {
      code: 'PHALA_SERVER',
      retryable: true,
      messageIncludes: ['non-JSON response body (text/plain): "Internal'],
    },
  },
  {
    name: '502 HTML from a proxy, echoing the key',
    status: 502,
    body: `<html><body>Bad gateway for ${API_KEY}</body></html>`,
    headers: { 'content-type': 'text/html' },
    expect: {
      code: 'PHALA_SERVER',
      retryable: true,
      messageIncludes: ['non-JSON response body (text/html)', '[redacted]'],
    },
  },
  {
    name: '504 empty body',
    status: 504,
    body: '',
    expect: { code: 'PHALA_SERVER', retryable: true, messageIncludes: ['HTTP 504 empty response body'] },
  },
  {
    name: '501 is final',
    status: 501,
    body: '{"detail":"Not implemented"}',
    expect: { code: 'PHALA_SERVER', retryable: false },
  },
  {
    name: 'other 4xx',
    status: 418,
    body: '{"message":"teapot"}',
    expect: { code: 'PHALA_BAD_REQUEST', retryable: false, messageIncludes: ['HTTP 418 teapot'] },
  },
  {
    name: '465 hash registration required',
    status: 465,
    body: structured('ERR-01-005', 'Compose hash registration required on-chain', {
      details: [
        { field: 'compose_hash', value: 'ab12', message: null },
        { field: 'kms_info', value: { chain_id: 8453 } },
      ],
    }),
    expect: { code: 'PHALA_ON_CHAIN', kind: 'hash_registration_required', retryable: false, errorCode: 'ERR-01-005' },
  },
  {
    name: '466',
    status: 466,
    body: structured('ERR-01-006', 'Compose hash invalid or expired'),
    expect: { code: 'PHALA_ON_CHAIN', kind: 'hash_invalid_or_expired', retryable: false },
  },
  {
    name: '467',
    status: 467,
    body: structured('ERR-01-007', 'Transaction verification failed'),
    expect: { code: 'PHALA_ON_CHAIN', kind: 'tx_verification_failed', retryable: false },
  },
  {
    name: '468',
    status: 468,
    body: structured('ERR-01-008', 'Compose hash not allowed'),
    expect: { code: 'PHALA_ON_CHAIN', kind: 'hash_not_allowed', retryable: false, messageIncludes: ['addComposeHash'] },
  },
  {
    name: 'structured nested in detail; body request_id wins over the header',
    status: 400,
    body: JSON.stringify({
      detail: {
        error_code: 'ERR-02-003',
        message: 'Insufficient vCPU on the node',
        suggestions: ['Pick another node'],
        links: [{ url: 'https://docs.example/nodes', label: 'Docs' }],
        request_id: 'req-body',
      },
    }),
    headers: { 'x-request-id': 'req-header' },
    expect: {
      errorCode: 'ERR-02-003',
      requestId: 'req-body',
      suggestions: ['Pick another node'],
      links: [{ url: 'https://docs.example/nodes', label: 'Docs' }],
      messageIncludes: ['[ERR-02-003] Insufficient vCPU on the node', 'suggestions: Pick another node', 'req-body'],
    },
  },
  {
    name: 'request id from the header when the body has none',
    status: 404,
    body: '{"detail":"CVM not found"}',
    headers: { 'x-request-id': 'req-header' },
    expect: { requestId: 'req-header', messageIncludes: ['(request id req-header)'] },
  },
];

describe('PhalaApiError classification over HTTP', () => {
  it.each(errorCases)('$name', async (c) => {
    const srv = await serve((_, res) => {
      res.writeHead(c.status, { 'content-type': 'application/json', ...c.headers });
      res.end(c.body);
    });
    const err = await rejection(client(srv.url).startCvm(UUID_BARE));
    expect(err).toBeInstanceOf(PhalaApiError);
    const { messageIncludes = [], ...fields } = c.expect;
    expect(err).toMatchObject({ status: c.status, endpoint: 'POST /cvms/{id}/start', ...fields });
    for (const part of messageIncludes) expect(err.message).toContain(part);
    expect(err.message).not.toContain(API_KEY);
    expect(JSON.stringify((err as PhalaApiError).details)).not.toContain(API_KEY);
  });

  it('keeps 422 issues and 465 details for the caller', async () => {
    const srv = await serve((_, res) => {
      res.writeHead(465, { 'content-type': 'application/json' });
      res.end(errorCases.find((c) => c.status === 465)?.body);
    });
    const err = (await rejection(client(srv.url).updateEnvs(UUID_BARE, { encryptedEnv: 'ab' }))) as PhalaApiError;
    expect(err.detailMap()).toEqual({ compose_hash: 'ab12', kms_info: { chain_id: 8453 } });
    expect(err.endpoint).toBe('PATCH /cvms/{id}/envs');
  });

  it('honours Retry-After as an HTTP-date', async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const srv = await serve((_, res) => json(res, 503, { detail: 'Node maintenance' }, { 'retry-after': at }));
    const err = (await rejection(client(srv.url).getCvm(UUID_BARE))) as PhalaApiError;
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(27_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('ignores Retry-After on an answer that is not retryable', async () => {
    const srv = await serve((_, res) => json(res, 404, { detail: 'gone' }, { 'retry-after': '5' }));
    const err = (await rejection(client(srv.url).getCvm(UUID_BARE))) as PhalaApiError;
    expect(err.retryAfterMs).toBeUndefined();
  });
});

describe('network errors', () => {
  it('connection refused is retryable and has no status', async () => {
    const srv = await serve(() => undefined);
    await srv.close();
    const err = (await rejection(client(srv.url).getCvm(UUID_BARE))) as PhalaApiError;
    expect(err).toBeInstanceOf(PhalaApiError);
    expect(err).toMatchObject({
      status: undefined,
      code: 'PHALA_NETWORK',
      retryable: true,
      endpoint: 'GET /cvms/{id}',
    });
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain(API_KEY);
  });

  it('a connection reset mid-response is retryable', async () => {
    const srv = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"id":');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const err = (await rejection(client(srv.url).getCvm(UUID_BARE))) as PhalaApiError;
    expect(err).toMatchObject({ code: 'PHALA_NETWORK', retryable: true });
  });

  it('a headers timeout is retryable', async () => {
    const srv = await serve(() => undefined);
    const err = (await rejection(client(srv.url, { headersTimeoutMs: 100 }).getCvm(UUID_BARE))) as PhalaApiError;
    expect(err).toMatchObject({ code: 'PHALA_NETWORK', retryable: true });
    expect(err.message).toContain('UND_ERR_HEADERS_TIMEOUT');
  });
});

describe('PhalaClient per API version', () => {
  it('takes the hashid `id` of commit and actions from 2026-05-22 and the integer before, refusing the other', async () => {
    const commit = (id: unknown) => ({
      ...vm({ id, status: 'creating' }),
      teepod: null,
      user_id: 1,
      base_image: 'dstack-0.5.3',
      docker_compose_file: null,
    });
    let id: unknown = 'cvm_new';
    const srv = await serve((req, res) => json(res, 200, req.url.endsWith('/cvms') ? commit(id) : vm({ id })));
    for (const version of ['2026-05-22', '2026-06-23'] as const) {
      const c = client(srv.url, { version });
      expect((await c.commitCvmProvision({ app_id: HEX40, compose_hash: 'h' })).id).toBe('cvm_new');
      expect((await c.replicateCvm(UUID_BARE)).id).toBe('cvm_new');
    }
    const old = client(srv.url, { version: '2026-01-21' });
    await expect(old.startCvm(UUID_BARE)).rejects.toThrow(/"id" expected number, got string/);
    id = 7;
    expect((await old.commitCvmProvision({ app_id: HEX40, compose_hash: 'h' })).id).toBe(7);
    await expect(client(srv.url).restartCvm(UUID_BARE)).rejects.toThrow(/"id" expected string, got number/);
  });

  it('reads the 2026-05-22 CVMInfo fields and keeps the 2026-01-21 ones', async () => {
    const srv = await serve((_, res) =>
      json(res, 200, cvmInfo({ in_progress: true, manifest_version: '2', updated_at: '2026-06-01T00:00:00Z' })),
    );
    const cvm = await client(srv.url).getCvm(UUID_BARE);
    expect(cvm).toMatchObject({ in_progress: true, manifest_version: '2', resource: { vcpu: 2 } });
  });
});

describe('PhalaClient.fromEnv', () => {
  it('uses PHALA_CLOUD_API_KEY and PHALA_CLOUD_API_PREFIX', async () => {
    const srv = await serve((_, res) => json(res, 200, vm({ status: 'stopping' })));
    const c = PhalaClient.fromEnv({
      PHALA_CLOUD_API_KEY: 'env-key',
      PHALA_CLOUD_API_PREFIX: `${srv.origin}/prefix/v9`,
    });
    cleanups.push(() => c.close());
    expect((await c.stopCvm(UUID_BARE)).status).toBe('stopping');
    expect(srv.requests[0]?.url).toBe(`/prefix/v9/cvms/${UUID_BARE}/stop`);
    expect(srv.requests[0]?.headers['x-api-key']).toBe('env-key');
  });

  it('speaks the version of PHALA_CLOUD_API_VERSION, one the workflows run on, and names a bad one', async () => {
    const srv = await serve((_, res) => json(res, 200, vm({ id: 7, status: 'stopping' })));
    const pinned = PhalaClient.fromEnv({
      PHALA_CLOUD_API_KEY: 'k',
      PHALA_CLOUD_API_PREFIX: srv.url,
      PHALA_CLOUD_API_VERSION: '2026-01-21',
    });
    cleanups.push(() => pinned.close());
    expect(pinned.version).toBe('2026-01-21');
    expect((await pinned.stopCvm(UUID_BARE)).id).toBe(7);
    expect(srv.requests[0]?.headers['x-phala-version']).toBe('2026-01-21');
    const defaulted = PhalaClient.fromEnv({ PHALA_CLOUD_API_KEY: 'k' });
    cleanups.push(() => defaulted.close());
    expect(defaulted.version).toBe('2026-06-23');
    for (const bad of ['2025-10-28', '2027-01-01', 'latest']) {
      expect(() => PhalaClient.fromEnv({ PHALA_CLOUD_API_KEY: 'k', PHALA_CLOUD_API_VERSION: bad })).toThrow(
        expect.objectContaining({ field: 'PHALA_CLOUD_API_VERSION', message: expect.stringContaining(bad) }),
      );
    }
  });

  it('defaults to the public API and names the missing or bad variable', async () => {
    const c = PhalaClient.fromEnv({ PHALA_CLOUD_API_KEY: 'k' });
    cleanups.push(() => c.close());
    expect(c.baseURL).toBe(DEFAULT_BASE_URL);
    const missing = (() => {
      try {
        PhalaClient.fromEnv({ PHALA_CLOUD_API_PREFIX: 'http://127.0.0.1:1/api/v1' });
      } catch (err) {
        return err as PhalaUsageError;
      }
    })();
    expect(missing).toBeInstanceOf(PhalaUsageError);
    expect(missing).toMatchObject({ code: 'PHALA_MISSING_API_KEY', field: 'PHALA_CLOUD_API_KEY', retryable: false });
    expect(missing?.message).toContain('PHALA_CLOUD_API_KEY is not set');
    expect(() => PhalaClient.fromEnv({ PHALA_CLOUD_API_KEY: 'k', PHALA_CLOUD_API_PREFIX: 'not a url' })).toThrow(
      /PHALA_CLOUD_API_PREFIX/,
    );
  });
});
