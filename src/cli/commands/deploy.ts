import type { Command } from 'commander';
import type { DeploymentSpec } from '../../spec';
import { loadSpecFile } from '../../spec';
import type { AttestationSummary, DeployStatus, PendingApproval } from '../../workflows/deploy-types';
import { type AuditFlags, addAuditFlags, auditRequest } from '../audit-flags';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { CommandFailure, wasCancelled, workflowFailureMessage } from '../failure';
import { printNote as note, printLine as print, printJson, report } from '../output';
import { withClient } from '../temporal';

// The Temporal client (and the SDK behind it) loads only once a spec has been validated: a refused spec is answered
// without it.
const api = () => import('../../client/deploy');

interface DeployOpts {
  file?: string;
  wait?: boolean;
  json?: boolean;
}

export function renderApproval(a: PendingApproval): string[] {
  const lines = [
    `${a.app} waits for the owner of app ${a.appId} to approve compose hash ${a.composeHash} (deadline ${a.deadline})`,
    `  chain id:  ${a.chainId}`,
    `  contract:  ${a.contract}`,
    `  function:  ${a.function}`,
    `  args:      ${a.args.join(', ')}`,
    `  calldata:  ${a.calldata}`,
    `  from:      ${a.owner} (the app's owner; a multisig proposes this call to the contract)`,
  ];
  for (const r of a.rejected) lines.push(`  rejected:  ${r.txHash}: ${r.reason}`);
  lines.push(`Once it is mined: cvmflow deploy approve ${a.app} --tx <transaction hash>`);
  return lines;
}

/** A CVM's attestation evidence in one line: what it proved, and whether the quote was verified or only parsed. */
function attestationText(a: AttestationSummary | undefined): string {
  if (!a) return '';
  return `  attested: compose ${a.composeHash?.slice(0, 12)}, rtmr3 ${a.registers?.rtmr3.slice(0, 12)}…, quote ${a.quoteDigest?.slice(0, 12) ?? 'absent'} ${a.quoteStatus}`;
}

function renderProgress(p: DeployStatus): string {
  const cvms = p.cvms
    .map(
      (c) => `${c.cvmId} ${c.status}${c.nodeId !== null ? ` node ${c.nodeId}` : ''}${c.attestation ? ' attested' : ''}`,
    )
    .join(', ');
  return `${p.app}: ${p.phase}${p.mode ? ` (${p.mode})` : ''}${cvms ? ` — ${cvms}` : ''}`;
}

export function registerDeployCommand(program: Command): void {
  const deploy = program
    .command('deploy')
    .description(describeCommand('deploy'))
    .option('-f, --file <spec.yaml>', 'deployment spec (YAML or JSON); see examples/deploy.yaml')
    .option('--wait', 'stay until the deployment ends, showing progress; exit 1 if it fails')
    .option('--json', 'print machine-readable JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  cvmflow deploy -f examples/deploy.yaml --wait
  cvmflow deploy status my-app
  cvmflow deploy cancel my-app      # deletes what the deployment created so far
  cvmflow deploy approval my-app    # the transaction an on-chain app's owner must send (approval: external)

One deployment per app runs at a time; a second one is refused (or queued with ifBusy: wait in the spec).
If anything fails after a CVM was created, cvmflow deletes what this run created (onFailure: rollback).`,
    )
    .action(async (opts: DeployOpts) => {
      if (!opts.file)
        throw new DeployUsage('--file <spec.yaml> is required (e.g. cvmflow deploy -f examples/deploy.yaml)');
      const spec = loadSpecFile(opts.file, { kinds: ['Deployment'] }) as DeploymentSpec;
      const { DeployBusyError, startDeploy } = await api();
      await withClient(async (client, config) => {
        let handle: Awaited<ReturnType<typeof startDeploy>>;
        try {
          handle = await startDeploy(spec, {
            client,
            taskQueue: config.taskQueue,
            codecKeys: config.codecKeys,
            onWaiting: (id) =>
              note(`another deployment of ${spec.name} is running (${id}); waiting for it to end (ifBusy: wait)`),
          });
        } catch (err) {
          if (err instanceof DeployBusyError) {
            if (opts.json) printJson({ app: spec.name, status: 'refused', error: err.message });
            throw new CommandFailure(err.message, { jsonPrinted: opts.json });
          }
          throw err;
        }
        if (!opts.wait) {
          report(
            opts.json,
            { app: spec.name, status: 'started', workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
            () =>
              `started ${handle.workflowId} (run ${handle.firstExecutionRunId}); follow it with: cvmflow deploy status ${spec.name}`,
          );
          return;
        }
        let last = '';
        const ticker = setInterval(async () => {
          const line = await handle
            .query<DeployStatus>('status') // deployStatusQuery's name: its module would load the workflow SDK here
            .then((p) => renderProgress(p))
            .catch(() => '');
          if (line && line !== last) {
            last = line;
            note(line);
          }
        }, 1000);
        let result: Awaited<ReturnType<typeof handle.result>>;
        try {
          result = await handle.result();
        } catch (err) {
          const cancelled = wasCancelled(err);
          const error = cancelled
            ? `the deployment of ${spec.name} was cancelled; what it had created was deleted`
            : workflowFailureMessage(err);
          if (opts.json)
            printJson({
              app: spec.name,
              workflowId: handle.workflowId,
              runId: handle.firstExecutionRunId,
              status: cancelled ? 'cancelled' : 'failed',
              error,
            });
          throw new CommandFailure(error, { jsonPrinted: opts.json });
        } finally {
          clearInterval(ticker);
        }
        // The ids beside the result, so automation (the GitHub Action) can link the run it waited for.
        const ids = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
        report(opts.json, { ...ids, ...result }, () => [
          `deployed ${result.app} (${result.mode}): app ${result.appId}, compose ${result.composeHash.slice(0, 12)}`,
          ...result.cvms.map(
            (c) => `  ${c.cvmId}  ${c.status}  node ${c.nodeId ?? '-'}${attestationText(c.attestation)}`,
          ),
        ]);
      });
    });

  deploy
    .command('status <app>')
    .description("phase, CVMs and timings of the app's latest deployment")
    .option('--json', 'print JSON')
    .action(async (app: string, _opts: unknown, command: Command) => {
      // `--json` is also an option of `deploy` itself, which commander hands to the parent.
      const opts = command.optsWithGlobals<{ json?: boolean }>();
      const { deployHandle, getDeployStatus } = await api();
      await withClient(async (client) => {
        const [progress, description] = await Promise.all([
          getDeployStatus(client, app),
          deployHandle(client, app).describe(),
        ]);
        if (opts.json) printJson({ status: description.status.name, ...progress });
        else {
          print(`${renderProgress(progress)} [workflow ${description.status.name.toLowerCase()}]`);
          if (progress.phase === 'approve')
            print(`  approving the compose hash on chain; if the owner must sign: cvmflow deploy approval ${app}`);
          if (progress.lastError) print(`  last error: ${progress.lastError}`);
          if (progress.cleanedUp?.length) print(`  cleaned up: ${progress.cleanedUp.join('; ')}`);
        }
      });
    });

  deploy
    .command('approval <app>')
    .description('the on-chain transaction the deployment waits for (onchain.approval: external)')
    .option('--json', 'print JSON (null when nothing is pending)')
    .action(async (app: string, _opts: unknown, command: Command) => {
      // `--json` is also an option of `deploy` itself, which commander hands to the parent.
      const opts = command.optsWithGlobals<{ json?: boolean }>();
      const { getPendingApproval } = await api();
      await withClient(async (client) => {
        const pending = await getPendingApproval(client, app);
        if (opts.json) printJson(pending);
        else if (!pending) print(`${app}: no on-chain approval is pending`);
        else for (const line of renderApproval(pending)) print(line);
      });
    });

  addAuditFlags(
    deploy
      .command('approve <app>')
      .description("hand the owner's approval transaction to the waiting deployment; it is checked on chain first")
      .requiredOption('--tx <hash>', 'hash of the transaction that called addComposeHash'),
    'why (kept with the accepted approval)',
  )
    .option('--json', 'print JSON')
    .action(async (app: string, _opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<AuditFlags & { tx: string; json?: boolean }>();
      const request = auditRequest(opts, false);
      const { ApprovalRejectedError, submitApprovalTx } = await api();
      await withClient(async (client) => {
        try {
          const ok = await submitApprovalTx(client, app, opts.tx, request);
          report(
            opts.json,
            ok,
            () =>
              `approved by ${ok.by}: ${ok.txHash} (block ${ok.blockNumber}); the deployment of ${app} goes on${ok.reason ? ` (${ok.reason})` : ''}`,
          );
        } catch (err) {
          if (err instanceof ApprovalRejectedError) throw new UsageError(`rejected: ${err.message}`);
          throw err;
        }
      });
    });

  deploy
    .command('cancel <app>')
    .description("cancel the app's running deployment; what it created is deleted")
    .option('--json', 'print JSON')
    .action(async (app: string, _opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{ json?: boolean }>();
      const { cancelDeploy, DeployNotRunningError } = await api();
      await withClient(async (client) => {
        const cancelled = await cancelDeploy(client, app).catch((err) => {
          if (err instanceof DeployNotRunningError) throw new CommandFailure(err.message);
          throw err;
        });
        report(
          opts.json,
          { app, status: 'cancelling', workflowId: cancelled.workflowId, runId: cancelled.runId },
          () => `cancellation requested for ${app}; rollback runs before the workflow ends`,
        );
      });
    });
}

class DeployUsage extends Error {
  readonly code = 'SPEC_INVALID';
}
