// One error type for everything src/chain throws: a stable `code`, whether retrying the same call can help, and the
// hash of a transaction already sent (so a retry can wait for it instead of sending again). Messages are built from
// viem's short messages and our own words only: viem's long messages embed request bodies, and none of ours may ever
// carry a private key or an RPC URL (whose path often holds a provider API key).
import {
  BaseError,
  ChainMismatchError,
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  ExecutionRevertedError,
  type Hex,
  HttpRequestError,
  InsufficientFundsError,
  InvalidParamsRpcError,
  MethodNotFoundRpcError,
  MethodNotSupportedRpcError,
  NonceTooHighError,
  NonceTooLowError,
  RpcRequestError,
  SocketClosedError,
  TimeoutError,
  WaitForTransactionReceiptTimeoutError,
  WebSocketRequestError,
} from 'viem';

export type ChainErrorCode =
  /** Bad environment (ETH_RPC_URL, PRIVATE_KEY, …); fix the deployment. */
  | 'CONFIG_INVALID'
  /** A caller passed something malformed (not a 32-byte hash, a knownTxHash of another call, …). */
  | 'INVALID_ARGUMENT'
  /** The node could not be reached or timed out. */
  | 'RPC_UNAVAILABLE'
  /** The node answered with an error we cannot attribute to the call itself. */
  | 'RPC_ERROR'
  /** The node is on another chain than the one configured. */
  | 'WRONG_CHAIN'
  /** No contract at the address (wrong KMS address or app id). */
  | 'NO_CONTRACT'
  | 'NOT_OWNER'
  | 'INSUFFICIENT_FUNDS'
  /** Two senders raced for a nonce; the next attempt picks a fresh one. */
  | 'NONCE_CONFLICT'
  | 'REVERTED'
  /** An identical change sent from elsewhere is still pending; a retry finds it done. */
  | 'CONFLICT'
  /** Sent, but not confirmed in time; retry with `knownTxHash` = `txHash` to keep waiting. */
  | 'CONFIRMATION_TIMEOUT'
  /** Not from the node at all: a bug of ours or of a dependency. */
  | 'UNEXPECTED';

/**
 * `cause` keeps viem's original error for local debugging; its message may include the RPC URL, so adapters that
 * put errors into workflow history should take `code`, `retryable`, `message` and `txHash`, not the cause chain.
 */
export class ChainError extends Error {
  override readonly name = 'ChainError';
  constructor(
    readonly code: ChainErrorCode,
    message: string,
    readonly retryable: boolean,
    options: { cause?: unknown; txHash?: Hex } = {},
  ) {
    super(message, { cause: options.cause });
    this.txHash = options.txHash;
  }
  /** Set once a transaction was sent: its hash, for the caller to keep as the next attempt's `knownTxHash`. */
  readonly txHash?: Hex;
}

function find<T>(err: BaseError, type: abstract new (...args: never[]) => T): T | undefined {
  return (err.walk((e) => e instanceof type) as T | null) ?? undefined;
}

/** Maps anything a viem call threw to a ChainError; `context` says what we were doing ("addComposeHash on 0x…"). */
export function toChainError(err: unknown, context: string, txHash?: Hex): ChainError {
  if (err instanceof ChainError) {
    return err.txHash || !txHash ? err : new ChainError(err.code, err.message, err.retryable, { cause: err, txHash });
  }
  const make = (code: ChainErrorCode, detail: string, retryable: boolean) =>
    new ChainError(code, `${context}: ${detail}`, retryable, { cause: err, txHash });
  if (!(err instanceof BaseError)) {
    // Retrying the same input would fail the same way.
    return make('UNEXPECTED', err instanceof Error ? err.message : String(err), false);
  }

  const reverted = find(err, ContractFunctionRevertedError);
  if (reverted) {
    if (reverted.data?.errorName === 'OwnableUnauthorizedAccount') {
      return make('NOT_OWNER', `sender ${String(reverted.data.args?.[0])} is not the owner`, false);
    }
    if (reverted.data?.errorName === 'AppAlreadyDeployed') {
      // Nodes estimate gas against pending state: the app is deployed there, not yet in a block.
      return make('CONFLICT', 'the same salted registration is pending from elsewhere; retry to find it done', true);
    }
    return make('REVERTED', `reverted: ${reverted.data?.errorName ?? reverted.reason ?? 'no reason given'}`, false);
  }
  if (find(err, ContractFunctionZeroDataError)) {
    const address = find(err, ContractFunctionExecutionError)?.contractAddress;
    return make('NO_CONTRACT', `no contract at ${address ?? 'the address'} (check the address and the chain)`, false);
  }
  if (find(err, ExecutionRevertedError)) return make('REVERTED', err.shortMessage, false);
  if (find(err, InsufficientFundsError)) {
    return make('INSUFFICIENT_FUNDS', 'the sender cannot pay for gas; fund the account', false);
  }
  if (find(err, ChainMismatchError)) return make('WRONG_CHAIN', err.shortMessage, false);
  if (find(err, NonceTooLowError) || find(err, NonceTooHighError))
    return make('NONCE_CONFLICT', err.shortMessage, true);
  if (find(err, WaitForTransactionReceiptTimeoutError)) {
    return make('CONFIRMATION_TIMEOUT', `${err.shortMessage} Retry with this transaction hash to keep waiting.`, true);
  }

  const http = find(err, HttpRequestError);
  if (http) {
    // No status: connection refused/reset; 408/429/5xx: the provider is overloaded or down. Other 4xx (a bad API key
    // in the URL, a forbidden method) stay that way.
    const status = http.status;
    const transient = status === undefined || status === 408 || status === 429 || status >= 500;
    const detail = `RPC request failed${status === undefined ? ' (unreachable)' : ` with HTTP ${status}`}`;
    return make(transient ? 'RPC_UNAVAILABLE' : 'RPC_ERROR', detail, transient);
  }
  if (find(err, TimeoutError) || find(err, WebSocketRequestError) || find(err, SocketClosedError)) {
    return make('RPC_UNAVAILABLE', err.shortMessage, true);
  }
  if (find(err, MethodNotFoundRpcError) || find(err, MethodNotSupportedRpcError) || find(err, InvalidParamsRpcError)) {
    return make('RPC_ERROR', err.shortMessage, false);
  }
  // Any other JSON-RPC error (rate limits, internal errors, "resource unavailable") is usually the provider's; a viem
  // error without one (encoding, a malformed argument) is ours and repeats.
  return make('RPC_ERROR', err.shortMessage, find(err, RpcRequestError) !== undefined);
}
