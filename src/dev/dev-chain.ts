// The embedded stack's chain: anvil on loopback with a freshly deployed DstackKms, and the simulator's on-chain
// verifier reading it, so `kms: ethereum|base` deployments follow the real registration flow locally.
import {
  type Anvil,
  accountFromPrivateKey,
  type ChainClient,
  chainVerifier,
  createChainClient,
  startAnvil,
} from '../chain';

export interface DevChain {
  rpcUrl: string;
  chainId: number;
  kmsAddress: string;
  /** Signs with anvil's first development account (the worker registers apps on chain with it). */
  client: ChainClient;
  /** That account's key: anvil's published development key, for workers the user runs beside the stack. */
  devPrivateKey: string;
  verifier: ReturnType<typeof chainVerifier>;
  pid: number;
  stop(): Promise<void>;
}

export async function startDevChain(): Promise<DevChain> {
  const anvil: Anvil = await startAnvil();
  try {
    const deployer = anvil.accounts[0];
    if (!deployer) throw new Error('anvil reported no development accounts');
    const chain = createChainClient({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      account: accountFromPrivateKey(deployer.privateKey, 'anvil account 0'),
      confirmations: 1,
      timeoutMs: 30_000,
      pollingIntervalMs: 100,
    });
    const { kmsAddress } = await chain.deployKms();
    return {
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      kmsAddress,
      client: chain,
      devPrivateKey: deployer.privateKey,
      verifier: chainVerifier({
        chain,
        chainId: anvil.chainId,
        kmsContractAddress: kmsAddress,
        rpcEndpoint: anvil.rpcUrl,
      }),
      pid: anvil.pid,
      stop: () => anvil.stop(),
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}
