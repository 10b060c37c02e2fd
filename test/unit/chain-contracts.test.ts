import { readFileSync } from 'node:fs';
import { dstackAppAbi as sdkAppAbi } from '@phala/cloud';
import { type Abi, type AbiParameter, toEventSelector, toFunctionSelector } from 'viem';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS_FILE, type Artifacts, compileContracts, serializeArtifacts } from '../../scripts/build-contracts';
import { dstackAppAbi, dstackKmsAbi } from '../../src/chain/abi';

const committed = JSON.parse(readFileSync(ARTIFACTS_FILE, 'utf8')) as Artifacts;
/**
 * One line per item (kind, name, parameter types and indexed flags, mutability; parameter names unless `wire`, since
 * they do not reach the chain), sorted.
 */
const signatures = (abi: Abi, wire = false) =>
  abi
    .map((item) => {
      const param = (p: AbiParameter) =>
        `${p.type}${'indexed' in p && p.indexed ? ' indexed' : ''}${p.name && !wire ? ` ${p.name}` : ''}`;
      const name = 'name' in item ? item.name : '';
      const inputs = 'inputs' in item ? item.inputs.map(param).join(', ') : '';
      const outputs =
        'outputs' in item && item.outputs.length > 0 ? ` returns (${item.outputs.map((o) => o.type)})` : '';
      const mutability = 'stateMutability' in item ? ` ${item.stateMutability}` : '';
      return `${item.type} ${name}(${inputs})${outputs}${mutability}`;
    })
    .sort();

describe('contract artifacts', () => {
  it('compiling the committed sources gives exactly the committed artifacts.json', () => {
    expect(serializeArtifacts(compileContracts())).toBe(readFileSync(ARTIFACTS_FILE, 'utf8'));
  });

  it('the typed ABIs in abi.ts are the compiled ones', () => {
    expect(signatures(dstackKmsAbi)).toEqual(signatures(committed.contracts.DstackKms.abi as Abi));
    expect(signatures(dstackAppAbi)).toEqual(signatures(committed.contracts.DstackApp.abi as Abi));
  });
});

describe('compatibility with @phala/cloud 0.2.9', () => {
  const kmsSelectors = new Set(
    dstackKmsAbi.map((i) =>
      i.type === 'function' ? toFunctionSelector(i) : i.type === 'event' ? toEventSelector(i) : '',
    ),
  );

  it('has the factory function and events deployAppAuth uses, with the same selectors and topics', () => {
    // The SDK's own fragments, as it encodes them (src/actions/blockchains/deploy_app_auth.ts).
    expect(kmsSelectors).toContain(toFunctionSelector('deployAndRegisterApp(address,bool,bool,bytes32,bytes32)'));
    expect(kmsSelectors).toContain(toEventSelector('AppDeployedViaFactory(address,address)'));
    expect(kmsSelectors).toContain(toEventSelector('AppRegistered(address)'));
    const event = dstackKmsAbi.find((i) => i.type === 'event' && i.name === 'AppDeployedViaFactory');
    // Indexed flags decide which topics carry the app id and deployer; the SDK parses them from topics.
    expect(event && 'inputs' in event && event.inputs.map((i) => i.indexed)).toEqual([true, true]);
  });

  it('has every function, event and error of the SDK’s DstackApp ABI, identically', () => {
    const ours = new Set(signatures(dstackAppAbi, true));
    for (const sig of signatures(sdkAppAbi as Abi, true)) expect(ours).toContain(sig);
    // Not in the SDK's exported ABI, but what its addComposeHash sends and parses.
    expect(ours).toContain('function addComposeHash(bytes32) nonpayable');
    expect(ours).toContain('event ComposeHashAdded(bytes32)');
  });
});
