// 2026-06-23's KMS contract shape: the contract's k256 key is the anchor env-key signatures verify against, so the
// key a client recovers from a signed app env key must be the key the contract publishes; its CA key is a real SPKI.
import { createPublicKey } from 'node:crypto';
import { verifyEnvEncryptPublicKey } from '@phala/cloud';
import { describe, expect, it } from 'vitest';
import { PHALA_KMS } from '../../src/simulator/catalog';
import { SimCore } from '../../src/simulator/core';
import { resolveOptions } from '../../src/simulator/options';
import { findKmsContract, kmsContract, kmsContractId } from '../../src/simulator/shapes/kms-contracts';

describe('KMS contract shapes', () => {
  it('publish the key that env-key signatures recover to, and resolve by slug, kc_ id and sentinel address', async () => {
    const core = new SimCore(resolveOptions({ apiKeys: ['k'] }));
    try {
      const appId = '12'.repeat(20);
      const envKey = '34'.repeat(32);
      const sig = await core.signer.signEnvPubkey(appId, envKey);
      const recovered = verifyEnvEncryptPublicKey(Buffer.from(envKey, 'hex'), Buffer.from(sig, 'hex'), appId);
      const contract = kmsContract(core, PHALA_KMS);
      expect(contract).toMatchObject({ contract_address: 'phala', chain_id: 0, node_count: 1, slug: PHALA_KMS.slug });
      expect(contract.k256_pubkey).toBe(recovered);
      const ca = createPublicKey({ key: Buffer.from(contract.ca_pubkey, 'hex'), format: 'der', type: 'spki' });
      expect(ca.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      for (const ref of [PHALA_KMS.slug, kmsContractId(PHALA_KMS), 'phala']) {
        expect(findKmsContract(core, ref)).toBe(PHALA_KMS);
      }
      expect(findKmsContract(core, 'nope')).toBeUndefined();
    } finally {
      core.close();
    }
  });
});
