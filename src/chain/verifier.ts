// Connects the simulator's on-chain hook to a real chain: registration and allow-lists are read from the
// DstackKms / DstackApp contracts over RPC, exactly as the real Phala KMS does before it lets a CVM boot.
import type { ChainClient } from './client';

export interface ChainVerifierOptions {
  chain: ChainClient;
  chainId: number;
  kmsContractAddress: string;
  rpcEndpoint?: string;
}

const asAddress = (appId: string) => (appId.startsWith('0x') ? appId : `0x${appId}`);
const asBytes32 = (hex: string) => (hex.startsWith('0x') ? hex : `0x${hex}`);

/** An implementation of the simulator's OnChainVerifier (structurally typed, so src/chain stays independent). */
export function chainVerifier(opts: ChainVerifierOptions) {
  const { chain } = opts;
  const registered = (appId: string) =>
    chain.isAppRegistered({ kmsAddress: opts.kmsContractAddress, appId: asAddress(appId) });
  return {
    chainId: opts.chainId,
    kmsContractAddress: opts.kmsContractAddress,
    rpcEndpoint: opts.rpcEndpoint,
    isAppRegistered: registered,
    // An address that is not a registered app has no allow-lists to read (and may have no code at all).
    async isComposeHashAllowed(appId: string, composeHash: string): Promise<boolean> {
      return (
        (await registered(appId)) &&
        chain.isComposeHashAllowed({ appId: asAddress(appId), composeHash: asBytes32(composeHash) })
      );
    },
    async isDeviceAllowed(appId: string, deviceId: string): Promise<boolean> {
      if (!(await registered(appId))) return false;
      const app = asAddress(appId);
      return (
        (await chain.allowsAnyDevice({ appId: app })) ||
        chain.isDeviceAllowed({ appId: app, deviceId: asBytes32(deviceId) })
      );
    },
  };
}
