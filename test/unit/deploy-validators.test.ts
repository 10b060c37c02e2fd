// The deploy run's state and its approval rule as pure functions: which approval transaction fits which state, what
// a refusal says, how phases are timed, what the result and the failure say. The same functions serve the running
// workflow (deploy-messages.ts, deploy-rollback.ts); the workflow test (test/workflow/deploy-control) runs them there.
import { describe, expect, it } from 'vitest';
import { toDeployInput } from '../../src/client/deploy';
import { approvalDeadlineText, DeployState, deployResult, failureText } from '../../src/workflows/deploy-state';
import type { PendingApproval } from '../../src/workflows/deploy-types';
import { validateApprovalTx } from '../../src/workflows/deploy-validators';
import { testSpec } from '../support/specs';

const T0 = Date.parse('2026-12-07T12:00:00Z');
const TX = `0x${'ab'.repeat(32)}`;

const pending = (rejected: PendingApproval['rejected'] = []): PendingApproval => ({
  app: 'webapp',
  appId: '0xapp',
  chainId: 31337,
  contract: '0xapp',
  function: 'addComposeHash(bytes32)',
  args: ['0xhash'],
  calldata: '0xcalldata',
  composeHash: '0xhash',
  owner: '0xowner',
  requestedAt: new Date(T0).toISOString(),
  deadline: new Date(T0 + 60_000).toISOString(),
  rejected,
});

function state(more: { onFailure?: 'rollback' | 'keep' } = {}): DeployState {
  return new DeployState({ ...toDeployInput(testSpec({ name: 'webapp' }), undefined), ...more }, T0);
}

function waiting(): DeployState {
  const s = state();
  s.enterPhase('approve', T0);
  s.pendingApproval = pending();
  return s;
}

describe('validateApprovalTx', () => {
  it('accepts a transaction hash while an approval is awaited', () => {
    expect(() => validateApprovalTx(waiting(), { txHash: TX })).not.toThrow();
    expect(() =>
      validateApprovalTx(waiting(), { txHash: TX, reason: 'signed by the multisig', by: 'ops' }),
    ).not.toThrow();
  });

  it.each([
    ['0x1234', '"0x1234"'],
    [`0x${'zz'.repeat(32)}`, `"0x${'zz'.repeat(32)}"`],
    [undefined, '"undefined"'],
    [42, '"42"'],
  ])('refuses %s as not a transaction hash, before looking at the state', (txHash, shown) => {
    expect(() => validateApprovalTx(state(), { txHash } as never)).toThrow(
      `not a transaction hash: expected 0x followed by 64 hex digits, got ${shown}`,
    );
  });

  it('refuses a request without a body', () => {
    expect(() => validateApprovalTx(waiting(), undefined)).toThrow(/not a transaction hash/);
  });

  it('refuses when no approval is awaited, naming the app and the phase', () => {
    const s = state();
    s.enterPhase('provision', T0);
    expect(() => validateApprovalTx(s, { txHash: TX })).toThrow(
      'deploy of webapp is not waiting for an on-chain approval (phase provision)',
    );
  });

  it('refuses once an approval was accepted', () => {
    const s = waiting();
    s.accepted = { txHash: TX, blockNumber: 7, composeHash: '0xhash' };
    expect(() => validateApprovalTx(s, { txHash: TX })).toThrow(
      /not waiting for an on-chain approval \(phase approve\)/,
    );
  });

  it('refuses a second transaction while one is being verified', () => {
    const s = waiting();
    s.verifying = `0x${'cd'.repeat(32)}`;
    expect(() => validateApprovalTx(s, { txHash: TX })).toThrow(
      `transaction 0x${'cd'.repeat(32)} is being verified; wait for its answer`,
    );
  });

  it('checks the reason by the one note rule (under either name)', () => {
    expect(() => validateApprovalTx(waiting(), { txHash: TX, reason: 'x'.repeat(501) })).toThrow(/keep it under 500/);
    expect(() => validateApprovalTx(waiting(), { txHash: TX, note: 'x'.repeat(501) })).toThrow(/keep it under 500/);
  });
});

describe('DeployState', () => {
  it('times each phase left, adding up phases entered twice, and never times the start', () => {
    const s = state();
    s.enterPhase('inspect', T0 + 5);
    s.enterPhase('update', T0 + 15);
    s.enterPhase('approve', T0 + 20);
    s.enterPhase('update', T0 + 120);
    s.enterPhase('done', T0 + 150);
    expect(s.status.phase).toBe('done');
    expect(s.status.timingsMs).toEqual({ inspect: 10, update: 35, approve: 100 });
  });

  it('records a CVM once, replacing its entry, with its attestation evidence', () => {
    const s = state();
    s.recordCvm({ cvmId: 'c1', nodeId: 1, status: 'starting', created: true });
    s.recordCvm({ cvmId: 'c2', nodeId: 2, status: 'starting', created: true });
    const evidence = {
      composeHash: 'h',
      registers: null,
      quoteDigest: null,
      quoteVerified: false,
      quoteStatus: 'absent',
      checks: 3,
    };
    s.attestations.set('c1', evidence);
    s.recordCvm({ cvmId: 'c1', nodeId: 1, status: 'running', created: true });
    expect(s.status.cvms).toEqual([
      { cvmId: 'c1', nodeId: 1, status: 'running', created: true, attestation: evidence },
      { cvmId: 'c2', nodeId: 2, status: 'starting', created: true },
    ]);
  });

  it('builds the result from the status', () => {
    const s = state();
    Object.assign(s.status, { appId: 'app1', composeHash: 'h2', previousComposeHash: 'h1', mode: 'update' });
    s.recordCvm({ cvmId: 'c1', nodeId: null, status: 'running', created: false });
    expect(deployResult(s)).toEqual({
      app: 'webapp',
      appId: 'app1',
      composeHash: 'h2',
      mode: 'update',
      previousComposeHash: 'h1',
      cvms: [{ cvmId: 'c1', nodeId: null, status: 'running', created: false }],
      timingsMs: {},
    });
  });
});

describe('failure texts', () => {
  it('say where the deploy failed, why, and what was undone or kept', () => {
    expect(failureText(state(), 'commit', 'boom', ['delete every CVM of app a1'])).toBe(
      'deploy of webapp failed in phase commit: boom; rolled back: delete every CVM of app a1',
    );
    expect(failureText(state(), 'inspect', 'boom', [])).toBe(
      'deploy of webapp failed in phase inspect: boom; nothing to roll back',
    );
    expect(failureText(state({ onFailure: 'keep' }), 'running', 'boom', [])).toBe(
      'deploy of webapp failed in phase running: boom; kept everything for debugging (onFailure: keep)',
    );
  });

  it('name the approval deadline and the last rejected transaction', () => {
    expect(approvalDeadlineText(pending())).toBe(
      `no transaction approving compose hash 0xhash on app 0xapp arrived by the deadline ${new Date(T0 + 60_000).toISOString()}`,
    );
    expect(
      approvalDeadlineText(
        pending([
          { txHash: TX, reason: 'a' },
          { txHash: TX, reason: 'reverted' },
        ]),
      ),
    ).toMatch(/arrived by the deadline .*Z \(2 submitted transaction\(s\) rejected, last: reverted\)$/);
  });
});
