// The blue-green run's messages: the `status` query and the control updates, each validated by a pure function of
// the run's state (bluegreen-validators.ts) and recording who asked, why and when. Handlers only change state and
// wake the run; the steps act on it.
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { AuditRequest } from '../domain/audit-input';
import type { BlueGreenRun } from './bluegreen-run';
import { endingText, isEnding } from './bluegreen-state';
import {
  type AuditedActor,
  blueGreenAbortUpdate,
  blueGreenFinishUpdate,
  blueGreenPauseUpdate,
  blueGreenPromoteUpdate,
  blueGreenResumeUpdate,
  blueGreenRollbackUpdate,
  blueGreenStatusQuery,
  type PromoteResult,
  type TeardownReport,
} from './bluegreen-types';
import {
  acceptedActor,
  validateAbort,
  validateFinish,
  validatePause,
  validatePromote,
  validateResume,
  validateRollback,
} from './bluegreen-validators';
import { statusView } from './bluegreen-view';

export function handleMessages(run: BlueGreenRun): void {
  /** An accepted request: its change to the state, then its audit entry, then the run wakes up to it. */
  const accept = (request: AuditRequest, kind: string, detail: string, change: (actor: AuditedActor) => void) => {
    const actor = acceptedActor(request, run.now());
    change(actor);
    run.record(kind, detail, actor);
    run.changed();
  };
  const validator =
    (rule: (s: BlueGreenRun, request: AuditRequest, nowMs: number) => void) => (request: AuditRequest) =>
      rule(run, request, run.now());

  setHandler(blueGreenStatusQuery, () => statusView(run));

  setHandler(
    blueGreenPromoteUpdate,
    async (request): Promise<PromoteResult> => {
      accept(request, 'promote', 'promotion requested', (actor) => {
        run.control.promote = actor;
      });
      await condition(() => run.promoted !== undefined || isEnding(run));
      if (!run.promoted)
        throw ApplicationFailure.create({
          type: 'PromoteFailed',
          message: `not promoted: ${run.lastError ?? endingText(run)}`,
        });
      return { promotedAtMs: run.promoted.atMs, green: run.greenId!.name, phase: run.phase };
    },
    { validator: validator(validatePromote) },
  );

  const endRequest =
    (kind: 'abort' | 'rollback') =>
    async (request: AuditRequest): Promise<TeardownReport> => {
      accept(request, kind, `${kind} requested`, (actor) => {
        run.control.end = { kind, actor };
      });
      run.interrupt();
      await condition(() => run.report !== undefined);
      return run.report!;
    };
  setHandler(blueGreenAbortUpdate, endRequest('abort'), { validator: validator(validateAbort) });
  setHandler(blueGreenRollbackUpdate, endRequest('rollback'), { validator: validator(validateRollback) });

  setHandler(
    blueGreenPauseUpdate,
    (request) => {
      accept(request, 'pause', 'automatic progress paused', (actor) => {
        run.control.paused = { ...actor, atMs: run.now() };
      });
      return statusView(run).promotion;
    },
    { validator: validator(validatePause) },
  );
  setHandler(
    blueGreenResumeUpdate,
    (request) => {
      accept(request, 'resume', 'automatic progress resumed', () => {
        run.control.paused = undefined;
        run.inconclusiveHold = false;
      });
      return statusView(run).promotion;
    },
    { validator: validator(validateResume) },
  );
  setHandler(
    blueGreenFinishUpdate,
    async (request) => {
      accept(request, 'finish', 'retire blue now', (actor) => {
        run.control.finish = actor;
      });
      await condition(() => run.phase === 'done');
      return { retired: run.blue ? [run.blue.name] : [] };
    },
    { validator: validator(validateFinish) },
  );
}
