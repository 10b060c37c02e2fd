// The dashboard's buttons, each one of the client functions the CLI calls — so every action goes through the same
// validated Update, and a refusal comes back as the validator worded it. Every action carries who (the name the
// operator gave the page, marked as coming through the dashboard) and why (required).
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import {
  abortBlueGreen,
  BlueGreenNotFoundError,
  BlueGreenRejectedError,
  promoteBlueGreen,
  rollbackBlueGreen,
} from '../client/bluegreen';
import {
  getPowerStatus,
  holdPower,
  leaseInstant,
  PowerRequestRejectedError,
  PowerScheduleNotFoundError,
} from '../client/power';
import {
  abortRollout,
  pauseRollout,
  RolloutNotFoundError,
  RolloutRequestRejectedError,
  resumeRollout,
  skipWindow,
} from '../client/rollout';

const text = (max: number) =>
  z
    .string()
    .transform((s) => s.replace(/[^\x20-\x7e\u00a0-\uffff]/g, '').trim())
    .pipe(z.string().min(1).max(max));

export const ActionRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    action: z.enum(['promote', 'abort', 'rollback']),
    kind: z.literal('bluegreen'),
    target: text(63),
    by: text(100),
    reason: text(500),
  }),
  z.strictObject({
    action: z.enum(['pause', 'resume', 'abort', 'skip-window']),
    kind: z.literal('rollout'),
    target: text(200),
    by: text(100),
    reason: text(500),
  }),
  z.strictObject({
    action: z.enum(['keep-running', 'keep-stopped']),
    kind: z.literal('power'),
    target: text(63),
    by: text(100),
    reason: text(500),
    /** ISO 8601 with an offset, or a local wall time in the schedule's zone. */
    until: text(40),
  }),
]);

export type ActionRequest = z.infer<typeof ActionRequestSchema>;

/** The request reached the workflow, which refused it; `message` is the validator's own text. */
export class ActionRefusedError extends Error {
  readonly code = 'ACTION_REFUSED';
}

const REFUSALS = [
  BlueGreenRejectedError,
  BlueGreenNotFoundError,
  RolloutRequestRejectedError,
  RolloutNotFoundError,
  PowerRequestRejectedError,
  PowerScheduleNotFoundError,
];

/** Runs one action; resolves with the workflow's answer, or throws ActionRefusedError with the refusal verbatim. */
export async function runAction(client: Client, req: ActionRequest): Promise<unknown> {
  const by = `${req.by} via dashboard`;
  try {
    switch (req.kind) {
      case 'bluegreen': {
        const call = { promote: promoteBlueGreen, abort: abortBlueGreen, rollback: rollbackBlueGreen }[req.action];
        return await call(client, req.target, { by, reason: req.reason });
      }
      case 'rollout':
        switch (req.action) {
          case 'pause':
            return await pauseRollout(client, req.target, { by, reason: req.reason });
          case 'resume':
            return await resumeRollout(client, req.target, { by, reason: req.reason });
          case 'abort':
            return await abortRollout(client, req.target, { by, reason: req.reason });
          case 'skip-window':
            return await skipWindow(client, req.target, { by, reason: req.reason });
        }
        break;
      case 'power': {
        const { timezone } = await getPowerStatus(client, req.target);
        const until = leaseInstant(req.until, timezone);
        return await holdPower(
          client,
          req.target,
          req.action === 'keep-running' ? 'keepRunning' : 'keepStopped',
          until,
          { by, reason: req.reason },
        );
      }
    }
  } catch (err) {
    if (REFUSALS.some((E) => err instanceof E)) throw new ActionRefusedError((err as Error).message);
    throw err;
  }
  throw new Error(`unknown action ${JSON.stringify(req)}`);
}
