// Compiles src/chain/contracts/*.sol with the pinned solc-js and writes artifacts.json (ABI + creation bytecode per
// contract), which is committed so the library and tests never need a compiler. The settings are fixed and the
// metadata hash is left out of the bytecode, so the same sources always give the same bytes; a unit test compiles
// again and compares with the committed file.
//
// Run: npx tsx scripts/build-contracts.ts
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CONTRACTS_DIR = fileURLToPath(new URL('../src/chain/contracts/', import.meta.url));
export const ARTIFACTS_FILE = join(CONTRACTS_DIR, 'artifacts.json');
export const SOLC_VERSION = '0.8.28+commit.7893614a.Emscripten.clang';
/** Deployable contracts, in the order they are written; abstract ones (Ownable) have no bytecode. */
const DEPLOYABLE = ['DstackApp', 'DstackKms'] as const;

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  // Pinned rather than left to the compiler's default, which changes between releases.
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none' },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
} as const;

interface Solc {
  version(): string;
  compile(input: string): string;
}

interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

export interface Artifacts {
  compiler: { version: string; settings: typeof SETTINGS };
  contracts: Record<(typeof DEPLOYABLE)[number], { abi: unknown[]; bytecode: `0x${string}` }>;
}

export function compileContracts(dir = CONTRACTS_DIR): Artifacts {
  // solc-js is CommonJS without type declarations; the two calls we use are typed above.
  const solc = createRequire(import.meta.url)('solc') as Solc;
  if (solc.version() !== SOLC_VERSION) {
    throw new Error(`solc ${SOLC_VERSION} expected, found ${solc.version()}; reinstall the pinned devDependency`);
  }
  const sources: Record<string, { content: string }> = {};
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sol'))
    .sort()) {
    sources[file] = { content: readFileSync(join(dir, file), 'utf8') };
  }
  const output = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings: SETTINGS })));
  const { errors = [], contracts = {} } = output as SolcOutput;
  // Warnings fail the build too: the sources are small enough to keep clean.
  const problems = errors.filter((e) => e.severity !== 'info');
  if (problems.length > 0) throw new Error(`solc:\n${problems.map((e) => e.formattedMessage).join('\n')}`);

  const artifacts = { compiler: { version: SOLC_VERSION, settings: SETTINGS }, contracts: {} } as Artifacts;
  for (const name of DEPLOYABLE) {
    const compiled = contracts[`${name}.sol`]?.[name];
    if (!compiled) throw new Error(`solc produced no output for ${name}`);
    artifacts.contracts[name] = { abi: compiled.abi, bytecode: `0x${compiled.evm.bytecode.object}` };
  }
  return artifacts;
}

export function serializeArtifacts(artifacts: Artifacts): string {
  return `${JSON.stringify(artifacts, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(ARTIFACTS_FILE, serializeArtifacts(compileContracts()));
  console.log(`wrote ${ARTIFACTS_FILE}`);
}
