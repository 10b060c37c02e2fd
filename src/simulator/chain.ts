// The hook for on-chain KMS (DstackKms / DstackApp contracts, reference §8). Until a real local chain is connected,
// provisioning with kms ETHEREUM|BASE answers a structured "not supported in this simulator configuration" error.
import { generateKeyPairSync } from 'node:crypto';
import { keccak256 } from 'viem';
import { generatePrivateKey, privateKeyToAccount, sign } from 'viem/accounts';
import type { KmsEntry } from './catalog';

export interface OnChainVerifier {
  /** 1, 8453 or 31337: the SDK and CLI attach a viem chain only for these (reference §3.1). */
  readonly chainId: number;
  /** The DstackKms contract address reported as `kms_info.kms_contract_address`. */
  readonly kmsContractAddress: string;
  readonly rpcEndpoint?: string;
  /** app ids arrive as lowercase 40-hex without `0x`. */
  isAppRegistered(appId: string): Promise<boolean>;
  isComposeHashAllowed(appId: string, composeHash: string): Promise<boolean>;
  isDeviceAllowed(appId: string, deviceId: string): Promise<boolean>;
}

export function onChainKmsEntry(verifier: OnChainVerifier): KmsEntry {
  return {
    id: 'kms_0nCha1nS1m01',
    slug: 'onchain-sim',
    url: 'https://onchain-kms.sim.phala.invalid',
    version: 'v0.5.3',
    chain_id: verifier.chainId,
    kms_contract_address: verifier.kmsContractAddress,
    gateway_app_id: null,
  };
}

/** 33-byte compressed form (02/03 ‖ x) of an uncompressed 0x04 secp256k1 key. */
function compressPublicKey(uncompressed: string): string {
  const raw = Buffer.from(uncompressed.replace(/^0x/, ''), 'hex');
  const yOdd = (raw[64]! & 1) === 1;
  return `0x${yOdd ? '03' : '02'}${raw.subarray(1, 33).toString('hex')}`;
}

/**
 * Signs app env-encryption public keys the way the KMS does, so `verifyEnvEncryptPublicKey` of @phala/dstack-sdk
 * recovers a key: 65-byte r‖s‖recovery over keccak256("dstack-env-encrypt-pubkey" ‖ ":" ‖ appId ‖ pubkey).
 */
export class KmsSigner {
  private readonly privateKey = generatePrivateKey();
  /** Uncompressed secp256k1 public key (0x04…): the anchor clients verify env-key signatures against. */
  readonly publicKey: string = privateKeyToAccount(this.privateKey).publicKey;
  /** The KMS root CA's public key (P-256, DER SubjectPublicKeyInfo, hex): what CVMs' key-provider event names. */
  readonly caPublicKeySpki: string = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .publicKey.export({ type: 'spki', format: 'der' })
    .toString('hex');

  /**
   * The signer's compressed secp256k1 public key (02/03 ‖ x): 2026-06-23's `k256_pubkey` verification anchor.
   * Computed once: every CVM view of 2026-05-22 and later names it, and deriving it per view made a 10,000-CVM
   * listing cost seconds of the simulator's CPU.
   */
  readonly k256Pubkey: string = compressPublicKey(this.publicKey);

  async signEnvPubkey(appIdHex: string, publicKeyHex: string): Promise<string> {
    const message = Buffer.concat([
      Buffer.from('dstack-env-encrypt-pubkey:', 'utf8'),
      Buffer.from(appIdHex, 'hex'),
      Buffer.from(publicKeyHex, 'hex'),
    ]);
    const sig = await sign({ hash: keccak256(message), privateKey: this.privateKey, to: 'object' });
    return `${sig.r.slice(2)}${sig.s.slice(2)}${sig.yParity === 1 ? '01' : '00'}`;
  }
}
