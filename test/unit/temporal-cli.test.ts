import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installTemporalCli, locateTemporalCli } from '../../src/dev/temporal-cli';

const scratch = () => mkdtempSync(join(tmpdir(), 'cvmflow-cli-'));
function fakeBinary(dir: string, name = 'temporal'): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho "temporal version 0.0.0"\n');
  chmodSync(path, 0o755);
  return path;
}

describe('locateTemporalCli', () => {
  it('honours $TEMPORAL_CLI before PATH and the local venv', () => {
    const dir = scratch();
    const explicit = fakeBinary(dir, 'my-temporal');
    const onPath = join(dir, 'bin');
    mkdirSync(onPath);
    fakeBinary(onPath);
    expect(locateTemporalCli({ env: { TEMPORAL_CLI: explicit, PATH: onPath }, venvDir: join(dir, 'venv') })).toBe(
      explicit,
    );
  });

  it('rejects a $TEMPORAL_CLI that is not executable, naming the variable', () => {
    const dir = scratch();
    const path = join(dir, 'temporal');
    writeFileSync(path, 'not a program');
    chmodSync(path, 0o644);
    expect(() => locateTemporalCli({ env: { TEMPORAL_CLI: path } })).toThrow(
      /TEMPORAL_CLI=.*is not an executable file/,
    );
    expect(() => locateTemporalCli({ env: { TEMPORAL_CLI: join(dir, 'missing') } })).toThrow(
      /TEMPORAL_CLI=.*does not exist/,
    );
  });

  it('falls back to PATH, then to the project-local venv, then reports nothing', () => {
    const dir = scratch();
    const onPath = join(dir, 'bin');
    mkdirSync(onPath);
    const fromPath = fakeBinary(onPath);
    expect(locateTemporalCli({ env: { PATH: `/nonexistent:${onPath}` }, venvDir: join(dir, 'venv') })).toBe(fromPath);
    const venvBin = join(dir, 'venv', 'bin');
    mkdirSync(venvBin, { recursive: true });
    const local = fakeBinary(venvBin);
    expect(locateTemporalCli({ env: { PATH: '/nonexistent' }, venvDir: join(dir, 'venv') })).toBe(local);
    expect(locateTemporalCli({ env: { PATH: '/nonexistent' }, venvDir: join(dir, 'empty') })).toBeUndefined();
  });

  it('says what to install when python3 is missing', () => {
    expect(() =>
      installTemporalCli({ env: { PATH: '/nonexistent' }, venvDir: join(scratch(), 'venv'), log: () => {} }),
    ).toThrow(/python3 was not found.*install python3.*or set TEMPORAL_CLI/);
  });
});
