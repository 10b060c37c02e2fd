import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type DeploymentSpec,
  type DeploymentSpecInput,
  loadSpecFile,
  MAX_COMPOSE_BYTES,
  type Problem,
  parseSpecText,
  placementNodes,
  SpecError,
  validateSpec,
} from '../../src/spec';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const dir = mkdtempSync(join(tmpdir(), 'cvmflow-spec-'));
writeFileSync(join(dir, 'docker-compose.yml'), COMPOSE);
mkdirSync(join(dir, 'scripts'));
writeFileSync(join(dir, 'scripts', 'pre-launch.sh'), '#!/bin/sh\necho hi\n');
const options = { source: 'spec.yaml', baseDir: dir, kinds: ['Deployment' as const] };

const MINIMAL = { apiVersion: 'cvmflow/v1', kind: 'Deployment', name: 'web-app', compose: { inline: COMPOSE } };

/** MINIMAL with fields replaced; a field set to undefined is removed. */
function specWith(patch: Record<string, unknown>): Record<string, unknown> {
  const spec: Record<string, unknown> = { ...MINIMAL, ...patch };
  for (const key of Object.keys(spec)) if (spec[key] === undefined) delete spec[key];
  return spec;
}

function failure(run: () => unknown): SpecError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return err as SpecError;
  }
  throw new Error('expected a SpecError');
}

const problemsOf = (value: unknown): Problem[] => failure(() => validateSpec(value, options)).problems;

const DEFAULTS = {
  resources: { instanceType: 'tdx.small' },
  kms: 'phala',
  placement: 'auto',
  replicas: 1,
  env: {},
  visibility: { publicLogs: false, publicSysinfo: false, publicTcbinfo: false },
  timeouts: { provisionMs: 120_000, commitMs: 120_000, runningMs: 600_000, replicateMs: 900_000, rollbackMs: 600_000 },
  watch: { intervalS: 5, timeoutS: 300 },
  onFailure: 'rollback',
  ifBusy: 'reject',
} satisfies Partial<DeploymentSpec>;

describe('valid deployment specs', () => {
  it('applies every default to a minimal spec', () => {
    expect(validateSpec(MINIMAL, options)).toEqual({
      apiVersion: 'cvmflow/v1',
      kind: 'Deployment',
      name: 'web-app',
      compose: { dockerCompose: COMPOSE },
      ...DEFAULTS,
    });
  });

  it('round-trips a full YAML spec, reading files relative to the spec folder', () => {
    const yaml = `
apiVersion: cvmflow/v1
kind: Deployment
name: Shop-Backend-2
compose:
  file: docker-compose.yml
  preLaunchScript: { file: scripts/pre-launch.sh }
resources: { vcpu: 4, memoryMb: 8192, diskGb: 100 }
image: dstack-0.5.7
kms: BASE
placement: { nodes: [3, 7] }
replicas: 5
env:
  DB_PASSWORD: { fromEnv: PROD_DB_PASSWORD }
  TLS_KEY: { fromFile: secrets/tls.key }
visibility: { publicLogs: true }
timeouts: { provision: 90s, commit: 3m, running: 1h, replicate: 1h30m, rollback: 5m }
retry: { maximumAttempts: 7, initialInterval: 500ms, maximumInterval: 1m }
watch: { interval: 10, timeout: 600 }
onFailure: keep
ifBusy: wait
`;
    const spec = parseSpecText(yaml, options);
    expect(spec).toEqual({
      apiVersion: 'cvmflow/v1',
      kind: 'Deployment',
      name: 'Shop-Backend-2',
      compose: { dockerCompose: COMPOSE, preLaunchScript: '#!/bin/sh\necho hi\n' },
      resources: { vcpu: 4, memoryMb: 8192, diskGb: 100 },
      image: 'dstack-0.5.7',
      kms: 'base',
      placement: { nodes: [3, 7] },
      replicas: 5,
      env: { DB_PASSWORD: { fromEnv: 'PROD_DB_PASSWORD' }, TLS_KEY: { fromFile: join(dir, 'secrets', 'tls.key') } },
      visibility: { publicLogs: true, publicSysinfo: false, publicTcbinfo: false },
      timeouts: {
        provisionMs: 90_000,
        commitMs: 180_000,
        runningMs: 3_600_000,
        replicateMs: 5_400_000,
        rollbackMs: 300_000,
      },
      retry: { maximumAttempts: 7, initialIntervalMs: 500, maximumIntervalMs: 60_000 },
      watch: { intervalS: 10, timeoutS: 600 },
      onFailure: 'keep',
      ifBusy: 'wait',
    } satisfies DeploymentSpec);
    expect(placementNodes(spec)).toEqual([3, 7]);
  });

  it('accepts JSON, which is YAML too', () => {
    expect(parseSpecText(JSON.stringify(MINIMAL), options).name).toBe('web-app');
  });

  it('accepts a typed object from code', () => {
    const input: DeploymentSpecInput = {
      apiVersion: 'cvmflow/v1',
      kind: 'Deployment',
      name: 'typed-app',
      compose: { file: 'docker-compose.yml' },
      placement: { nodeId: 4 },
      env: ['API_KEY'],
      timeouts: { running: '20m' },
    };
    const spec = validateSpec(input, options);
    expect(spec).toMatchObject({ compose: { dockerCompose: COMPOSE }, env: { API_KEY: { fromEnv: 'API_KEY' } } });
    expect(spec.timeouts.runningMs).toBe(1_200_000);
    expect(placementNodes(spec)).toEqual([4]);
  });

  it.each([
    ['no placement', {}, 1, []],
    ['a node list without replicas: one CVM per node', { placement: { nodes: [1, 2, 3] } }, 3, [1, 2, 3]],
    ['more replicas than nodes: round-robin', { placement: { nodes: [1, 2] }, replicas: 5 }, 5, [1, 2]],
    ['one pinned node', { placement: { nodeId: 9 }, replicas: 3 }, 3, [9]],
  ])('replicas with %s', (_, patch, replicas, nodes) => {
    const spec = validateSpec(specWith(patch), options);
    expect(spec.replicas).toBe(replicas);
    expect(placementNodes(spec)).toEqual(nodes);
  });

  it('reads kms in any case and stores it lowercase', () => {
    expect(validateSpec(specWith({ kms: 'Ethereum' }), options).kms).toBe('ethereum');
  });

  it('reads the on-chain approval policy: the worker by default, external with a 48h deadline unless given', () => {
    expect(validateSpec(specWith({ kms: 'base' }), options).onchain).toBeUndefined();
    expect(validateSpec(specWith({ kms: 'base', onchain: {} }), options).onchain).toEqual({ approval: 'worker' });
    expect(validateSpec(specWith({ kms: 'base', onchain: { approval: 'external' } }), options).onchain).toEqual({
      approval: 'external',
      deadlineMs: 48 * 3_600_000,
    });
    expect(
      validateSpec(specWith({ kms: 'ethereum', onchain: { approval: 'external', deadline: '7d' } }), options).onchain,
    ).toEqual({ approval: 'external', deadlineMs: 7 * 86_400_000 });
  });

  it('keeps diskGb next to an instance type', () => {
    const spec = validateSpec(specWith({ resources: { instanceType: 'tdx.medium', diskGb: 40 } }), options);
    expect(spec.resources).toEqual({ instanceType: 'tdx.medium', diskGb: 40 });
  });
});

describe('invalid deployment specs: one problem per field, naming the path and what is allowed', () => {
  const cases: [string, Record<string, unknown>, Problem][] = [
    [
      'a wrong replicas type',
      { replicas: 'two' },
      { path: 'replicas', message: 'expected an integer from 1 to 50, got "two"' },
    ],
    ['too many replicas', { replicas: 51 }, { path: 'replicas', message: 'expected an integer from 1 to 50, got 51' }],
    [
      'a missing apiVersion',
      { apiVersion: undefined },
      { path: 'apiVersion', message: 'required; expected "cvmflow/v1"' },
    ],
    ['a wrong apiVersion', { apiVersion: 'v1' }, { path: 'apiVersion', message: 'expected "cvmflow/v1", got "v1"' }],
    [
      'a missing name',
      { name: undefined },
      { path: 'name', message: expect.stringMatching(/^required; expected an app name: 5 to 63 letters/) },
    ],
    [
      'a short name',
      { name: 'app' },
      { path: 'name', message: expect.stringMatching(/^"app" is not a valid app name: it has 3 characters \(5 to 63/) },
    ],
    ['a name with "--"', { name: 'my--app' }, { path: 'name', message: expect.stringContaining('it contains "--"') }],
    [
      'a name starting with a digit',
      { name: '9lives' },
      { path: 'name', message: expect.stringContaining('it does not start with a letter') },
    ],
    [
      'a name with an underscore',
      { name: 'my_app' },
      { path: 'name', message: expect.stringContaining('"_" is not allowed') },
    ],
    [
      'a missing compose',
      { compose: undefined },
      { path: 'compose', message: 'required; expected a mapping with compose.file or compose.inline' },
    ],
    [
      'neither compose.file nor compose.inline',
      { compose: {} },
      { path: 'compose', message: 'give exactly one of compose.file or compose.inline' },
    ],
    [
      'both compose.file and compose.inline',
      { compose: { file: 'docker-compose.yml', inline: COMPOSE } },
      { path: 'compose', message: 'give exactly one of compose.file or compose.inline' },
    ],
    [
      'a missing compose file',
      { compose: { file: 'nope.yml' } },
      { path: 'compose.file', message: `cannot read ${join(dir, 'nope.yml')}: no such file` },
    ],
    [
      'a compose folder',
      { compose: { file: 'scripts' } },
      { path: 'compose.file', message: `cannot read ${join(dir, 'scripts')}: it is a folder` },
    ],
    [
      'a compose without services',
      { compose: { inline: 'version: "3"\n' } },
      { path: 'compose.inline', message: 'not a Docker Compose file: it defines no services' },
    ],
    [
      'a compose that is not YAML',
      { compose: { inline: 'services:\n  web: [\n' } },
      {
        path: 'compose.inline',
        message: expect.stringMatching(/^not a Docker Compose file: invalid YAML at line 3, column 1: /),
      },
    ],
    [
      'an empty pre-launch script source',
      { compose: { inline: COMPOSE, preLaunchScript: {} } },
      {
        path: 'compose.preLaunchScript',
        message: 'give exactly one of compose.preLaunchScript.file or compose.preLaunchScript.inline',
      },
    ],
    [
      'a mixed resources form',
      { resources: { instanceType: 'tdx.small', vcpu: 2, memoryMb: 2048 } },
      {
        path: 'resources',
        message: 'give either resources.instanceType or resources.vcpu with resources.memoryMb, not both',
      },
    ],
    [
      'vcpu without memory',
      { resources: { vcpu: 2 } },
      { path: 'resources.memoryMb', message: 'required with resources.vcpu' },
    ],
    [
      'memory in GB',
      { resources: { vcpu: 2, memoryMb: 4 } },
      { path: 'resources.memoryMb', message: 'expected a whole number of MiB, at least 1024 (4096 is 4 GiB), got 4' },
    ],
    [
      'too much disk',
      { resources: { diskGb: 4096 } },
      { path: 'resources.diskGb', message: 'expected a whole number of GB from 10 to 2048, got 4096' },
    ],
    [
      'an unknown kms',
      { kms: 'solana' },
      { path: 'kms', message: 'expected one of phala, ethereum, base, got "solana"' },
    ],
    [
      'an on-chain approval on the phala KMS',
      { onchain: { approval: 'external' } },
      { path: 'onchain', message: 'only for kms ethereum or base (apps of the phala KMS have no on-chain approval)' },
    ],
    [
      'an unknown approval',
      { kms: 'base', onchain: { approval: 'multisig' } },
      { path: 'onchain.approval', message: 'expected one of worker, external, got "multisig"' },
    ],
    [
      'an approval deadline without a unit',
      { kms: 'base', onchain: { approval: 'external', deadline: 48 } },
      {
        path: 'onchain.deadline',
        message: 'expected a duration from 10s to 30d (like 90s, 10m, 1h30m), got 48 (add a unit, e.g. 48s)',
      },
    ],
    [
      'a deadline for the worker’s own approval',
      { kms: 'base', onchain: { deadline: '1h' } },
      {
        path: 'onchain.deadline',
        message: 'only with onchain.approval: external (the worker approves at once otherwise)',
      },
    ],
    [
      'an empty image',
      { image: '' },
      { path: 'image', message: 'expected an OS image name such as dstack-0.5.7, got ""' },
    ],
    [
      'an unknown placement word',
      { placement: 'manual' },
      { path: 'placement', message: 'expected "auto" or a mapping with nodeId or nodes, got "manual"' },
    ],
    [
      'an empty node list',
      { placement: { nodes: [] } },
      { path: 'placement.nodes', message: 'expected a list of 1 to 50 node ids, got a list' },
    ],
    [
      'a bad node id',
      { placement: { nodes: [1, 'x'] } },
      { path: 'placement.nodes[1]', message: 'expected a node id (a non-negative integer), got "x"' },
    ],
    [
      'a node listed twice',
      { placement: { nodes: [4, 5, 4] } },
      { path: 'placement.nodes[2]', message: 'node 4 is listed twice (also at placement.nodes[0])' },
    ],
    [
      'both nodeId and nodes',
      { placement: { nodeId: 1, nodes: [2] } },
      { path: 'placement', message: 'give exactly one of placement.nodeId or placement.nodes' },
    ],
    [
      'fewer replicas than nodes',
      { placement: { nodes: [1, 2, 3] }, replicas: 1 },
      {
        path: 'replicas',
        message:
          '1 is fewer than the 3 nodes in placement.nodes, so nodes 2, 3 would get no CVM; list only the nodes to use or set replicas to at least 3',
      },
    ],
    [
      'an inline env value',
      { env: { DB_PASSWORD: 'hunter2' } },
      {
        path: 'env.DB_PASSWORD',
        message: 'inline values are not allowed (they would live in the spec file); use fromEnv or fromFile',
      },
    ],
    [
      'a bad env name',
      { env: { '1BAD': { fromEnv: 'X' } } },
      {
        path: 'env.1BAD',
        message: 'not a valid environment variable name: use letters, digits and _, not starting with a digit',
      },
    ],
    [
      'both env sources',
      { env: { KEY: { fromEnv: 'A', fromFile: 'b' } } },
      { path: 'env.KEY', message: 'give exactly one of fromEnv or fromFile' },
    ],
    [
      'a typo in an env source',
      { env: { KEY: { fromFiel: 'b' } } },
      { path: 'env.KEY.fromFiel', message: 'unknown key; did you mean `fromFile`?' },
    ],
    [
      'a duplicate in the env list',
      { env: ['A', 'B', 'A'] },
      { path: 'env[2]', message: 'A is listed twice (also at env[0])' },
    ],
    [
      'a non-boolean visibility flag',
      { visibility: { publicLogs: 'yes' } },
      { path: 'visibility.publicLogs', message: 'expected true or false, got "yes"' },
    ],
    [
      'a running timeout over an hour',
      { timeouts: { running: '2h' } },
      { path: 'timeouts.running', message: 'expected a duration from 30s to 1h (like 90s, 10m, 1h30m), got "2h"' },
    ],
    [
      'a timeout without a unit',
      { timeouts: { provision: 90 } },
      {
        path: 'timeouts.provision',
        message: 'expected a duration from 10s to 30m (like 90s, 10m, 1h30m), got 90 (add a unit, e.g. 90s)',
      },
    ],
    [
      'a misspelt timeout',
      { timeouts: { provison: '1m' } },
      { path: 'timeouts.provison', message: 'unknown key; did you mean `provision`?' },
    ],
    [
      'retry intervals in the wrong order',
      { retry: { initialInterval: '10s', maximumInterval: '5s' } },
      { path: 'retry.maximumInterval', message: 'expected at least retry.initialInterval (10s), got 5s' },
    ],
    [
      'too many attempts',
      { retry: { maximumAttempts: 0 } },
      { path: 'retry.maximumAttempts', message: 'expected an integer from 1 to 100, got 0' },
    ],
    [
      'a watch interval below the API range',
      { watch: { interval: 3 } },
      { path: 'watch.interval', message: 'expected a whole number of seconds from 5 to 30, got 3' },
    ],
    [
      'a watch timeout above the API range',
      { watch: { timeout: 601 } },
      { path: 'watch.timeout', message: 'expected a whole number of seconds from 10 to 600, got 601' },
    ],
    [
      'a capitalised onFailure',
      { onFailure: 'Rollback' },
      { path: 'onFailure', message: 'expected one of rollback, keep, got "Rollback"; did you mean `rollback`?' },
    ],
    [
      'an unknown ifBusy',
      { ifBusy: 'queue' },
      { path: 'ifBusy', message: 'expected one of reject, wait, got "queue"' },
    ],
    ['a misspelt top-level key', { replica: 2 }, { path: 'replica', message: 'unknown key; did you mean `replicas`?' }],
    ['an unknown kind', { kind: 'Rollout' }, { path: 'kind', message: 'expected one of Deployment, got "Rollout"' }],
    [
      'a lowercase kind',
      { kind: 'deployment' },
      { path: 'kind', message: 'expected one of Deployment, got "deployment"; did you mean `Deployment`?' },
    ],
  ];

  it.each(cases)('reports %s', (_, patch, problem) => {
    expect(problemsOf(specWith(patch))).toEqual([problem]);
  });

  it('lists the allowed keys when no key is close', () => {
    expect(problemsOf(specWith({ colour: 'blue' }))).toEqual([
      {
        path: 'colour',
        message:
          'unknown key; allowed here: apiVersion, kind, name, compose, resources, image, kms, onchain, placement, replicas, env, visibility, timeouts, retry, watch, onFailure, ifBusy, attestation',
      },
    ]);
  });

  it('reports several problems together, one line each with the file name', () => {
    const err = failure(() =>
      parseSpecText(
        [
          'apiVersion: cvmflow/v1',
          'kind: Deployment',
          'name: ab',
          'replica: 3',
          'compose: { file: missing.yml }',
          'placement: { nodes: [1, 2, 3] }',
          'replicas: 2',
          'env: { TOKEN: s3cret }',
          'watch: { interval: 1 }',
        ].join('\n'),
        options,
      ),
    );
    expect(err.code).toBe('SPEC_INVALID');
    expect(err.source).toBe('spec.yaml');
    expect(err.problems.map((p) => p.path).sort()).toEqual(
      ['compose.file', 'env.TOKEN', 'name', 'replica', 'replicas', 'watch.interval'].sort(),
    );
    expect(err.message.split('\n')).toHaveLength(6);
    expect(err.message).toContain(`spec.yaml: compose.file: cannot read ${join(dir, 'missing.yml')}: no such file`);
    expect(err.message).toContain('spec.yaml: replica: unknown key; did you mean `replicas`?');
    expect(err.message).not.toContain('s3cret');
  });

  it('refuses a compose file and script over the 200 KiB API limit', () => {
    const big = `${COMPOSE}# ${'x'.repeat(MAX_COMPOSE_BYTES)}\n`;
    expect(problemsOf(specWith({ compose: { inline: big } }))).toEqual([
      {
        path: 'compose',
        message: expect.stringMatching(/^the compose file is 200\.\d KiB; Phala Cloud accepts at most 200 KiB$/),
      },
    ]);
    const script = '#'.repeat(MAX_COMPOSE_BYTES - 10);
    expect(
      problemsOf(specWith({ compose: { inline: COMPOSE, preLaunchScript: { inline: script } } }))[0]?.message,
    ).toMatch(/^compose and pre-launch script are \d+\.\d KiB together/);
  });

  it('never repeats a value written where an env value or variable name belongs', () => {
    const secret = 'sk_live_SECRET_123';
    const problems = problemsOf(
      specWith({
        env: {
          INLINE: secret,
          NUMBER: 4242424242,
          BAD_VAR: { fromEnv: `${secret}!` },
        },
      }),
    );
    expect(problems.map((p) => p.path)).toEqual(['env.INLINE', 'env.NUMBER', 'env.BAD_VAR.fromEnv']);
    expect(problems.find((p) => p.path === 'env.BAD_VAR.fromEnv')?.message).toMatch(
      /^expected the name of a variable .* got text$/,
    );
    for (const listForm of [[`API_KEY=${secret}`], [secret.replace(/_/g, '-')], secret]) {
      const message = failure(() => validateSpec(specWith({ env: listForm }), options)).message;
      expect(message).toMatch(/env/);
      expect(message).not.toContain('SECRET');
      expect(message).not.toContain('4242');
    }
    expect(JSON.stringify(problems)).not.toContain('SECRET');
    expect(JSON.stringify(problems)).not.toContain('4242');
  });

  it('explains NAME=value entries in the env list', () => {
    expect(problemsOf(specWith({ env: ['API_KEY=abc'] }))).toEqual([
      { path: 'env[0]', message: expect.stringMatching(/^NAME=value entries are not allowed/) },
    ]);
  });
});

describe('documents that are not specs', () => {
  it('gives line and column of malformed YAML', () => {
    const err = failure(() => parseSpecText('apiVersion: cvmflow/v1\nkind: Deployment\nname: a: b\n', options));
    expect(err.problems).toEqual([
      { path: '', message: 'invalid YAML at line 3, column 7: Nested mappings are not allowed in compact mappings' },
    ]);
    expect(err.message).toBe(
      'spec.yaml: invalid YAML at line 3, column 7: Nested mappings are not allowed in compact mappings',
    );
  });

  it('rejects a duplicate key with its line', () => {
    const text = 'apiVersion: cvmflow/v1\nkind: Deployment\nreplicas: 1\nreplicas: 2\n';
    expect(failure(() => parseSpecText(text, options)).problems[0]?.message).toMatch(
      /^invalid YAML at line 4, column 1: Map keys must be unique/,
    );
  });

  it.each([
    ['', 'the spec is empty; expected a mapping starting with apiVersion: cvmflow/v1 and kind: Deployment'],
    ['- a\n- b\n', 'expected a mapping starting with apiVersion: cvmflow/v1 and kind: Deployment, got a list'],
  ])('rejects %j as a whole', (text, message) => {
    expect(failure(() => parseSpecText(text, options)).problems).toEqual([{ path: '', message }]);
  });
});

describe('loadSpecFile', () => {
  it('resolves compose files next to the spec, wherever the process runs', () => {
    const specPath = join(dir, 'deploy.yaml');
    writeFileSync(
      specPath,
      'apiVersion: cvmflow/v1\nkind: Deployment\nname: from-file\ncompose: { file: docker-compose.yml }\n',
    );
    const spec = loadSpecFile(specPath, { kinds: ['Deployment'] });
    expect(spec.compose.dockerCompose).toBe(COMPOSE);
  });

  it('names a spec file that cannot be read', () => {
    const missing = join(dir, 'absent.yaml');
    expect(failure(() => loadSpecFile(missing)).message).toBe(`${missing}: cannot read ${missing}: no such file`);
  });

  it('names the missing compose file by its resolved path', () => {
    const specPath = join(dir, 'broken.yaml');
    writeFileSync(
      specPath,
      'apiVersion: cvmflow/v1\nkind: Deployment\nname: broken-app\ncompose:\n  file: ../elsewhere/compose.yml\n',
    );
    expect(failure(() => loadSpecFile(specPath)).message).toBe(
      `${specPath}: compose.file: cannot read ${join(dir, '..', 'elsewhere', 'compose.yml')}: no such file`,
    );
  });
});
