// src/chain as a library: usable without Temporal (the activities in src/activities are thin adapters over it).
export { dstackAppAbi, dstackKmsAbi } from './abi';
export { type Anvil, type AnvilOptions, type DevAccount, startAnvil } from './anvil';
export {
  type AppRegistration,
  type ChainClient,
  type ComposeHashTxCheck,
  createChainClient,
  type RegisterAppParams,
  type RegisterAppResult,
  type WriteOptions,
  type WriteResult,
} from './client';
export {
  accountFromPrivateKey,
  type ChainConfig,
  DEFAULT_CONFIRMATIONS,
  DEFAULT_TIMEOUT_MS,
  loadChainConfig,
} from './config';
export { ChainError, type ChainErrorCode } from './errors';
export { idempotencySalt, toBytes32 } from './ids';
export { type ChainVerifierOptions, chainVerifier } from './verifier';
