import {
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  encodeErrorResult,
  HttpRequestError,
  InsufficientFundsError,
  InternalRpcError,
  MethodNotFoundRpcError,
  RpcRequestError,
  TimeoutError,
  TransactionExecutionError,
  WaitForTransactionReceiptTimeoutError,
} from 'viem';
import { describe, expect, it } from 'vitest';
import { dstackAppAbi } from '../../src/chain/abi';
import { ChainError, toChainError } from '../../src/chain/errors';
import { idempotencySalt, toBytes32 } from '../../src/chain/ids';

const url = 'https://rpc.example/v2/SECRET-API-KEY';
const hash = `0x${'ab'.repeat(32)}` as const;
const rpcError = (code: number) => new RpcRequestError({ body: {}, error: { code, message: 'node says no' }, url });

describe('toChainError', () => {
  it.each([
    ['unreachable node', new HttpRequestError({ url, details: 'fetch failed' }), 'RPC_UNAVAILABLE', true],
    ['provider overloaded', new HttpRequestError({ url, status: 503 }), 'RPC_UNAVAILABLE', true],
    ['rate limited', new HttpRequestError({ url, status: 429 }), 'RPC_UNAVAILABLE', true],
    ['bad API key', new HttpRequestError({ url, status: 401 }), 'RPC_ERROR', false],
    ['request timeout', new TimeoutError({ body: {}, url }), 'RPC_UNAVAILABLE', true],
    ['internal node error', new InternalRpcError(rpcError(-32603)), 'RPC_ERROR', true],
    ['unsupported method', new MethodNotFoundRpcError(rpcError(-32601)), 'RPC_ERROR', false],
    ['insufficient funds', new InsufficientFundsError(), 'INSUFFICIENT_FUNDS', false],
    ['confirmation timeout', new WaitForTransactionReceiptTimeoutError({ hash }), 'CONFIRMATION_TIMEOUT', true],
    ['a bug of ours', new TypeError('x is undefined'), 'UNEXPECTED', false],
  ])('%s → %s (retryable: %s)', (_, err, code, retryable) => {
    const mapped = toChainError(err, 'doing it');
    expect(mapped).toBeInstanceOf(ChainError);
    expect(mapped).toMatchObject({ code, retryable });
    expect(mapped.message.startsWith('doing it: ')).toBe(true);
    // viem's long messages carry the URL; ours never do.
    expect(mapped.message).not.toContain('SECRET-API-KEY');
  });

  it('decodes OwnableUnauthorizedAccount reverts as NOT_OWNER and others as REVERTED', () => {
    const revert = (errorName: 'OwnableUnauthorizedAccount' | 'AlreadyInitialized', args: readonly unknown[]) =>
      new ContractFunctionExecutionError(
        new ContractFunctionRevertedError({
          abi: dstackAppAbi,
          functionName: 'addComposeHash',
          data: encodeErrorResult({ abi: dstackAppAbi, errorName, args } as never),
        }),
        { abi: dstackAppAbi, functionName: 'addComposeHash', args: [hash] },
      );
    const sender = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
    expect(toChainError(revert('OwnableUnauthorizedAccount', [sender]), 'x')).toMatchObject({
      code: 'NOT_OWNER',
      retryable: false,
      message: `x: sender ${sender} is not the owner`,
    });
    expect(toChainError(revert('AlreadyInitialized', []), 'x')).toMatchObject({
      code: 'REVERTED',
      message: 'x: reverted: AlreadyInitialized',
    });
  });

  it('finds the cause through viem wrappers and keeps a sent transaction’s hash', () => {
    const wrapped = new TransactionExecutionError(new InsufficientFundsError(), { account: null });
    expect(toChainError(wrapped, 'x').code).toBe('INSUFFICIENT_FUNDS');
    const late = toChainError(new WaitForTransactionReceiptTimeoutError({ hash }), 'x', hash);
    expect(late.txHash).toBe(hash);
    // An existing ChainError passes through, gaining the hash if it had none.
    expect(toChainError(late, 'y')).toBe(late);
    expect(toChainError(new ChainError('REVERTED', 'r', false), 'y', hash).txHash).toBe(hash);
  });
});

describe('ids', () => {
  it('takes 32-byte values with or without 0x and lowercases them', () => {
    expect(toBytes32(`0x${'AB'.repeat(32)}`, 'composeHash')).toBe(hash);
    expect(toBytes32('ab'.repeat(32), 'composeHash')).toBe(hash);
  });

  it('refuses anything shorter, longer or not hex, naming the field', () => {
    for (const bad of ['ab'.repeat(31), 'ab'.repeat(33), `${'ab'.repeat(31)}zz`, '']) {
      expect(() => toBytes32(bad, 'deviceId')).toThrow(/^deviceId: must be 32 bytes/);
    }
  });

  it('derives one salt per idempotency key, without ambiguity between parts', () => {
    expect(idempotencySalt('wf-1', 'register-app')).toBe(idempotencySalt('wf-1', 'register-app'));
    expect(idempotencySalt('wf-1', 'register-app')).not.toBe(idempotencySalt('wf-2', 'register-app'));
    expect(idempotencySalt('a:b', 'c')).not.toBe(idempotencySalt('a', 'b:c'));
    expect(idempotencySalt('wf-1', 'register-app')).toMatch(/^0x[0-9a-f]{64}$/);
  });
});
