// On-chain app registration and compose-hash / device approval, exactly once.
//
// Every write first reads the chain and sends nothing when the change is already there ({alreadyDone: true}). A
// caller that kept the hash of a transaction from an earlier attempt passes it as `knownTxHash`: the write then
// waits for that transaction instead of sending another. `onSubmitted` hands the hash over as soon as it exists, so
// an activity can heartbeat it before waiting for confirmations. App registration is not idempotent by state (each
// call deploys a new app), so it goes through the factory's CREATE2 variant keyed by a caller-chosen salt: the app id
// is known before sending, and a retry finds the app already deployed (see contracts/DstackKms.sol).
import {
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeFunctionData,
  getAddress,
  type Hex,
  http,
  isAddressEqual,
  type LocalAccount,
  type PublicClient,
  parseEventLogs,
  TransactionNotFoundError,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from 'viem';
import { anvil, base, baseSepolia, mainnet, sepolia } from 'viem/chains';
import { dstackAppAbi, dstackKmsAbi, dstackKmsBytecode } from './abi';
import { type ChainConfig, rpcHost } from './config';
import { ChainError, toChainError } from './errors';
import { toAddress, toBytes32, ZERO_BYTES32 } from './ids';
import { once, serially } from './serial';

export interface WriteOptions {
  /** Hash of the transaction an earlier attempt sent for this same write: wait for it rather than send again. */
  knownTxHash?: string;
  /** Called with the hash right after sending, before waiting for confirmations. */
  onSubmitted?: (txHash: Hex) => void | Promise<void>;
}

/** Block numbers are plain numbers so results travel through JSON (Temporal payloads) unchanged. */
export type WriteResult = { alreadyDone: true } | { alreadyDone: false; txHash: Hex; blockNumber: number };

export interface RegisterAppParams extends WriteOptions {
  kmsAddress: string;
  /** 32 bytes derived from the caller's idempotency key (see idempotencySalt); one salt, one app. */
  salt: string;
  composeHash: string;
  /** Omitted → no device yet (the zero id), as the Phala CLI does before it knows the node. */
  deviceId?: string;
  allowAnyDevice?: boolean;
  /** Omitted → the sender. */
  owner?: string;
}

export interface RegisterAppResult {
  appId: Address;
  alreadyDone: boolean;
  /** The registering transaction; when alreadyDone, found in the KMS's logs if the node still serves them. */
  txHash?: Hex;
  blockNumber?: number;
}

export interface AppRegistration {
  appId: Address;
  deployer: Address;
  txHash: Hex;
  blockNumber: number;
}

/** What a transaction someone else sent did for an app's compose-hash allow-list (see verifyComposeHashTx). */
export type ComposeHashTxCheck =
  | { approved: true; blockNumber: number; from: Address }
  | { approved: false; reason: string };

export interface ChainClient {
  /** The signer's address; undefined for a read-only client. */
  readonly sender: Address | undefined;
  /** The chain the node is on (checked against the configured one). */
  getChainId(): Promise<number>;
  /** Deploys a fresh DstackKms (local chains and tests; not idempotent). */
  deployKms(): Promise<{ kmsAddress: Address; txHash: Hex; blockNumber: number }>;
  registerApp(params: RegisterAppParams): Promise<RegisterAppResult>;
  addComposeHash(params: { appId: string; composeHash: string } & WriteOptions): Promise<WriteResult>;
  addDevice(params: { appId: string; deviceId: string } & WriteOptions): Promise<WriteResult>;
  /** The app id `registerApp` gives (or gave) `salt` for `deployer` (default: the sender). */
  appIdFor(params: { kmsAddress: string; salt: string; deployer?: string }): Promise<Address>;
  isAppRegistered(params: { kmsAddress: string; appId: string }): Promise<boolean>;
  isComposeHashAllowed(params: { appId: string; composeHash: string }): Promise<boolean>;
  /** Whether the device is on the app's list; `allowsAnyDevice` says whether the list is enforced at all. */
  isDeviceAllowed(params: { appId: string; deviceId: string }): Promise<boolean>;
  allowsAnyDevice(params: { appId: string }): Promise<boolean>;
  getAppOwner(params: { appId: string }): Promise<Address>;
  /**
   * Whether `txHash` put `composeHash` on the app's allow-list: mined (with the configured confirmations),
   * successful, and the app contract itself emitted ComposeHashAdded for that hash in it — whether the owner called
   * the app directly or through a multisig whose transaction goes to the wallet contract. Reasons are for people.
   */
  verifyComposeHashTx(params: { appId: string; composeHash: string; txHash: string }): Promise<ComposeHashTxCheck>;
  /** The first `AppDeployedViaFactory` event matching the filters, from `fromBlock` (default 0) on. */
  findAppRegistration(params: {
    kmsAddress: string;
    appId?: string;
    deployer?: string;
    fromBlock?: number;
  }): Promise<AppRegistration | undefined>;
}

/** Per-request limit; a write's wait for confirmations has its own (ChainConfig.timeoutMs). */
const RPC_TIMEOUT_MS = 10_000;
/** Chains whose viem definitions carry formatters we want (OP-stack transaction types on Base). */
const KNOWN_CHAINS: Chain[] = [mainnet, base, sepolia, baseSepolia, anvil];

interface Connected {
  chainId: number;
  publicClient: PublicClient<Transport, Chain>;
  walletClient?: WalletClient<Transport, Chain, LocalAccount>;
}

interface WriteSpec {
  /** For messages: "addComposeHash(0x…) on app 0x…". */
  what: string;
  to: Address;
  data: Hex;
  isDone(): Promise<boolean>;
  authorize?(sender: Address): Promise<void>;
  send(wallet: WalletClient<Transport, Chain, LocalAccount>): Promise<Hex>;
}

/** The app contract's allow-lists: the call that adds an id to one, and the read that says whether it is on it. */
const APP_LISTS = {
  composeHash: { add: 'addComposeHash', has: 'allowedComposeHashes' },
  device: { add: 'addDevice', has: 'allowedDeviceIds' },
} as const;
type AppList = keyof typeof APP_LISTS;

type WriteOutcome = { alreadyDone: true } | { alreadyDone: false; receipt: TransactionReceipt };

function onAppList(client: PublicClient<Transport, Chain>, list: AppList, appId: Address, id: Hex): Promise<boolean> {
  return client.readContract({ address: appId, abi: dstackAppAbi, functionName: APP_LISTS[list].has, args: [id] });
}

export function createChainClient(config: ChainConfig): ChainClient {
  const host = rpcHost(config.rpcUrl);
  const transport = http(config.rpcUrl, { timeout: RPC_TIMEOUT_MS });
  const pollingInterval = config.pollingIntervalMs;
  let connecting: Promise<Connected> | undefined;

  // The chain id is checked once per client, before its first call, so nothing is read from or sent to a node on
  // another chain. A failed check is not cached: the next call asks again.
  function connected(): Promise<Connected> {
    connecting ??= connect().catch((err: unknown) => {
      connecting = undefined;
      throw err;
    });
    return connecting;
  }

  async function connect(): Promise<Connected> {
    let chainId: number;
    try {
      chainId = await createPublicClient({ transport }).getChainId();
    } catch (err) {
      throw toChainError(err, `eth_chainId on ${host}`);
    }
    if (config.chainId !== undefined && chainId !== config.chainId) {
      throw new ChainError(
        'WRONG_CHAIN',
        `${host} is on chain ${chainId}, but chain ${config.chainId} is configured; check ETH_RPC_URL and ETH_CHAIN_ID`,
        false,
      );
    }
    const chain =
      KNOWN_CHAINS.find((c) => c.id === chainId) ??
      defineChain({
        id: chainId,
        name: `chain ${chainId}`,
        nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
        rpcUrls: { default: { http: [config.rpcUrl] } },
      });
    const publicClient = createPublicClient({ chain, transport, pollingInterval });
    const walletClient = config.account
      ? createWalletClient({ account: config.account, chain, transport, pollingInterval })
      : undefined;
    return { chainId, publicClient, walletClient };
  }

  async function read<T>(what: string, fn: (client: PublicClient<Transport, Chain>) => Promise<T>): Promise<T> {
    const { publicClient } = await connected();
    try {
      return await fn(publicClient);
    } catch (err) {
      throw toChainError(err, what);
    }
  }

  async function signer(what: string): Promise<Connected & { walletClient: NonNullable<Connected['walletClient']> }> {
    const c = await connected();
    if (!c.walletClient) {
      throw new ChainError('CONFIG_INVALID', `${what}: no signer; set PRIVATE_KEY or PRIVATE_KEY_FILE`, false);
    }
    return { ...c, walletClient: c.walletClient };
  }

  async function confirm(publicClient: PublicClient<Transport, Chain>, hash: Hex): Promise<TransactionReceipt> {
    return publicClient.waitForTransactionReceipt({
      hash,
      confirmations: config.confirmations,
      timeout: config.timeoutMs,
    });
  }

  /** `confirm`, its failure told as a failure of `what` with the transaction's hash. */
  async function confirmed(
    publicClient: PublicClient<Transport, Chain>,
    hash: Hex,
    what: string,
  ): Promise<TransactionReceipt> {
    try {
      return await confirm(publicClient, hash);
    } catch (err) {
      throw toChainError(err, what, hash);
    }
  }

  /** Waits for a transaction an earlier attempt sent; undefined when the node does not know it (never arrived or dropped). */
  async function resume(
    publicClient: PublicClient<Transport, Chain>,
    hash: Hex,
    spec: WriteSpec,
  ): Promise<TransactionReceipt | undefined> {
    let tx: Awaited<ReturnType<typeof publicClient.getTransaction>>;
    try {
      tx = await publicClient.getTransaction({ hash });
    } catch (err) {
      if (err instanceof TransactionNotFoundError) return undefined;
      throw toChainError(err, `looking up ${hash}`);
    }
    // A hash of some other call would make us report a change that never happened.
    if (!tx.to || !isAddressEqual(tx.to, spec.to) || tx.input.toLowerCase() !== spec.data.toLowerCase()) {
      throw new ChainError('INVALID_ARGUMENT', `knownTxHash ${hash} is not ${spec.what}`, false);
    }
    return confirmed(publicClient, hash, spec.what);
  }

  async function write(spec: WriteSpec, options: WriteOptions): Promise<WriteOutcome> {
    const { chainId, publicClient, walletClient } = await signer(spec.what);
    const sender = walletClient.account.address;
    return once(`${chainId}:${sender}:${spec.to}:${spec.data}`, async () => {
      if (options.knownTxHash) {
        const receipt = await resume(publicClient, toBytes32(options.knownTxHash, 'knownTxHash'), spec);
        if (receipt?.status === 'success') return { alreadyDone: false, receipt };
        // Reverted or unknown: it changed nothing, so the state check below decides, and sending again is not a
        // duplicate. (Unknown may also mean a node that has not seen it yet; a second send then costs gas at worst,
        // since every write here is a no-op or a revert when repeated.)
      }
      try {
        if (await spec.isDone()) return { alreadyDone: true };
        await spec.authorize?.(sender);
      } catch (err) {
        throw toChainError(err, spec.what);
      }
      let hash: Hex;
      try {
        hash = await serially(`${chainId}:${sender}`, () => spec.send(walletClient));
      } catch (err) {
        const failure = toChainError(err, spec.what);
        const reverted = failure.code === 'REVERTED' || failure.code === 'CONFLICT';
        if (reverted && (await lostRaceTo(spec))) return { alreadyDone: true };
        throw failure;
      }
      let receipt: TransactionReceipt;
      try {
        await options.onSubmitted?.(hash);
        receipt = await confirm(publicClient, hash);
      } catch (err) {
        throw toChainError(err, spec.what, hash);
      }
      if (receipt.status !== 'success') {
        if (await lostRaceTo(spec)) return { alreadyDone: true };
        throw new ChainError('REVERTED', `${spec.what}: transaction ${hash} reverted`, false, { txHash: hash });
      }
      return { alreadyDone: false, receipt };
    });
  }

  /**
   * After a revert: did an identical write from elsewhere (another worker, an attempt that outlived its timeout) land
   * between our state check and our send? Then the change is there and this write is done.
   */
  async function lostRaceTo(spec: WriteSpec): Promise<boolean> {
    try {
      return await spec.isDone();
    } catch {
      return false;
    }
  }

  const done = (outcome: WriteOutcome): WriteResult =>
    outcome.alreadyDone
      ? { alreadyDone: true }
      : {
          alreadyDone: false,
          txHash: outcome.receipt.transactionHash,
          blockNumber: Number(outcome.receipt.blockNumber),
        };

  /**
   * Puts an id on one of the app's allow-lists; done already when the list's own read says it is on it — the list
   * itself for devices, not allowAnyDevice: the caller asked for this device to be on it, which still matters if the
   * app later stops allowing any device.
   */
  async function addToAppList(list: AppList, appId: Address, id: Hex, options: WriteOptions): Promise<WriteResult> {
    const { add } = APP_LISTS[list];
    const { publicClient } = await connected();
    const call = { address: appId, abi: dstackAppAbi, functionName: add, args: [id] } as const;
    return done(
      await write(
        {
          what: `${add}(${id}) on app ${appId}`,
          to: appId,
          data: encodeFunctionData(call),
          isDone: () => onAppList(publicClient, list, appId, id),
          authorize: (sender) => requireOwner(appId, sender),
          send: (w) => w.writeContract(call),
        },
        options,
      ),
    );
  }

  function isOnAppList(list: AppList, appId: Address, id: Hex): Promise<boolean> {
    return read(`${APP_LISTS[list].has}(${id}) on app ${appId}`, (c) => onAppList(c, list, appId, id));
  }

  async function requireOwner(appId: Address, sender: Address): Promise<void> {
    const { publicClient } = await connected();
    const owner = await publicClient.readContract({ address: appId, abi: dstackAppAbi, functionName: 'owner' });
    if (!isAddressEqual(owner, sender)) {
      throw new ChainError('NOT_OWNER', `sender ${sender} is not the owner ${owner} of app ${appId}`, false);
    }
  }

  async function appIdFor(kms: Address, deployer: Address, salt: Hex): Promise<Address> {
    return read(`appIdFor on KMS ${kms} (the salted registration needs cvmflow's DstackKms)`, (c) =>
      c.readContract({ address: kms, abi: dstackKmsAbi, functionName: 'appIdFor', args: [deployer, salt] }),
    );
  }

  async function findAppRegistration(params: {
    kmsAddress: string;
    appId?: string;
    deployer?: string;
    fromBlock?: number;
  }): Promise<AppRegistration | undefined> {
    const kms = toAddress(params.kmsAddress, 'kmsAddress');
    const appId = params.appId === undefined ? undefined : toAddress(params.appId, 'appId');
    const deployer = params.deployer === undefined ? undefined : toAddress(params.deployer, 'deployer');
    const logs = await read(`AppDeployedViaFactory logs of KMS ${kms}`, (c) =>
      c.getContractEvents({
        address: kms,
        abi: dstackKmsAbi,
        eventName: 'AppDeployedViaFactory',
        args: { appId, deployer },
        fromBlock: BigInt(params.fromBlock ?? 0),
        toBlock: 'latest',
        strict: true,
      }),
    );
    const first = logs[0];
    if (!first) return undefined;
    return {
      appId: getAddress(first.args.appId),
      deployer: getAddress(first.args.deployer),
      txHash: first.transactionHash,
      blockNumber: Number(first.blockNumber),
    };
  }

  return {
    get sender() {
      return config.account?.address;
    },

    async deployKms() {
      const what = 'deploying DstackKms';
      const { chainId, publicClient, walletClient } = await signer(what);
      let hash: Hex;
      try {
        hash = await serially(`${chainId}:${walletClient.account.address}`, () =>
          walletClient.deployContract({ abi: dstackKmsAbi, bytecode: dstackKmsBytecode }),
        );
      } catch (err) {
        throw toChainError(err, what);
      }
      const receipt = await confirmed(publicClient, hash, what);
      if (receipt.status !== 'success' || !receipt.contractAddress) {
        throw new ChainError('REVERTED', `${what}: transaction ${hash} reverted`, false, { txHash: hash });
      }
      return {
        kmsAddress: getAddress(receipt.contractAddress),
        txHash: hash,
        blockNumber: Number(receipt.blockNumber),
      };
    },

    async registerApp(params) {
      const kms = toAddress(params.kmsAddress, 'kmsAddress');
      const salt = toBytes32(params.salt, 'salt');
      const composeHash = toBytes32(params.composeHash, 'composeHash');
      const deviceId = params.deviceId === undefined ? ZERO_BYTES32 : toBytes32(params.deviceId, 'deviceId');
      const what = `registerApp(salt ${salt}) on KMS ${kms}`;
      const { publicClient, walletClient } = await signer(what);
      const sender = walletClient.account.address;
      const owner = params.owner === undefined ? sender : toAddress(params.owner, 'owner');
      const appId = await appIdFor(kms, sender, salt);
      const args = [owner, false, params.allowAnyDevice ?? false, deviceId, composeHash, salt] as const;
      const outcome = await write(
        {
          what,
          to: kms,
          data: encodeFunctionData({ abi: dstackKmsAbi, functionName: 'deployAndRegisterAppWithSalt', args }),
          // Only the factory can put code at this address (CREATE2 from its own address), and it registers the app
          // in the same transaction; `registeredApps` alone would not do, since anyone may register any address.
          isDone: async () => ((await publicClient.getCode({ address: appId })) ?? '0x') !== '0x',
          send: (w) =>
            w.writeContract({ address: kms, abi: dstackKmsAbi, functionName: 'deployAndRegisterAppWithSalt', args }),
        },
        params,
      );
      if (outcome.alreadyDone) {
        // The app exists either way; a provider that limits log queries only costs us the hash.
        const found = await findAppRegistration({ kmsAddress: kms, appId }).catch(() => undefined);
        return { appId, alreadyDone: true, txHash: found?.txHash, blockNumber: found?.blockNumber };
      }
      const event = parseEventLogs({
        abi: dstackKmsAbi,
        eventName: 'AppDeployedViaFactory',
        logs: outcome.receipt.logs,
      }).find((log) => isAddressEqual(log.address, kms));
      if (!event || !isAddressEqual(event.args.appId, appId)) {
        throw new ChainError(
          'NO_CONTRACT',
          `${what}: the KMS did not report app ${appId}; is ${kms} cvmflow's DstackKms?`,
          false,
          { txHash: outcome.receipt.transactionHash },
        );
      }
      return {
        appId,
        alreadyDone: false,
        txHash: outcome.receipt.transactionHash,
        blockNumber: Number(outcome.receipt.blockNumber),
      };
    },

    addComposeHash: async (params) =>
      addToAppList(
        'composeHash',
        toAddress(params.appId, 'appId'),
        toBytes32(params.composeHash, 'composeHash'),
        params,
      ),

    addDevice: async (params) =>
      addToAppList('device', toAddress(params.appId, 'appId'), toBytes32(params.deviceId, 'deviceId'), params),

    async appIdFor(params) {
      const kms = toAddress(params.kmsAddress, 'kmsAddress');
      const salt = toBytes32(params.salt, 'salt');
      const deployer =
        params.deployer === undefined
          ? (await signer(`appIdFor on KMS ${kms}`)).walletClient.account.address
          : toAddress(params.deployer, 'deployer');
      return appIdFor(kms, deployer, salt);
    },

    async isAppRegistered(params) {
      const kms = toAddress(params.kmsAddress, 'kmsAddress');
      const appId = toAddress(params.appId, 'appId');
      return read(`registeredApps(${appId}) on KMS ${kms}`, (c) =>
        c.readContract({ address: kms, abi: dstackKmsAbi, functionName: 'registeredApps', args: [appId] }),
      );
    },

    isComposeHashAllowed: async (params) =>
      isOnAppList('composeHash', toAddress(params.appId, 'appId'), toBytes32(params.composeHash, 'composeHash')),

    isDeviceAllowed: async (params) =>
      isOnAppList('device', toAddress(params.appId, 'appId'), toBytes32(params.deviceId, 'deviceId')),

    async allowsAnyDevice(params) {
      const appId = toAddress(params.appId, 'appId');
      return read(`allowAnyDevice() on app ${appId}`, (c) =>
        c.readContract({ address: appId, abi: dstackAppAbi, functionName: 'allowAnyDevice' }),
      );
    },

    async getAppOwner(params) {
      const appId = toAddress(params.appId, 'appId');
      return read(`owner() of app ${appId}`, (c) =>
        c.readContract({ address: appId, abi: dstackAppAbi, functionName: 'owner' }),
      );
    },

    findAppRegistration,

    async getChainId() {
      return (await connected()).chainId;
    },

    async verifyComposeHashTx(params) {
      const appId = toAddress(params.appId, 'appId');
      const composeHash = toBytes32(params.composeHash, 'composeHash');
      const hash = toBytes32(params.txHash, 'txHash');
      const { chainId, publicClient } = await connected();
      const what = `checking transaction ${hash}`;
      try {
        await publicClient.getTransaction({ hash });
      } catch (err) {
        if (err instanceof TransactionNotFoundError) {
          return {
            approved: false,
            reason: `transaction ${hash} is unknown on chain ${chainId}; check the hash and the network it was sent on`,
          };
        }
        throw toChainError(err, what);
      }
      const receipt = await confirmed(publicClient, hash, what);
      const block = Number(receipt.blockNumber);
      if (receipt.status !== 'success') {
        return { approved: false, reason: `transaction ${hash} reverted in block ${block}; it approved nothing` };
      }
      const added = parseEventLogs({ abi: dstackAppAbi, eventName: 'ComposeHashAdded', logs: receipt.logs }).filter(
        (log) => isAddressEqual(log.address, appId),
      );
      if (!added.some((log) => log.args.composeHash.toLowerCase() === composeHash)) {
        const other = added.map((log) => log.args.composeHash);
        const target =
          receipt.to && !isAddressEqual(receipt.to, appId) ? ` (it was sent to ${getAddress(receipt.to)})` : '';
        return {
          approved: false,
          reason: other.length
            ? `transaction ${hash} added compose hash ${other.join(', ')} to app ${appId}, not ${composeHash}`
            : `transaction ${hash} did not add compose hash ${composeHash} to app ${appId}${target}`,
        };
      }
      // Removed again since: the hash is not allowed, whatever the transaction once did.
      const allowed = await read(`allowedComposeHashes(${composeHash}) on app ${appId}`, (c) =>
        c.readContract({
          address: appId,
          abi: dstackAppAbi,
          functionName: 'allowedComposeHashes',
          args: [composeHash],
        }),
      );
      if (!allowed) {
        return {
          approved: false,
          reason: `transaction ${hash} added compose hash ${composeHash}, but it has been removed from app ${appId} since`,
        };
      }
      return { approved: true, blockNumber: block, from: getAddress(receipt.from) };
    },
  };
}
