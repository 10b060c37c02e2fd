// The audit flags of control commands (pause, resume, overrides…): `--reason` says why and `--by` who asks (the
// local user name by default); `--note`, the older name of `--reason`, is still accepted but no longer shown.
import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import type { AuditRequest } from '../domain/audit-input';
import { UsageError } from './errors';

export interface AuditFlags {
  reason?: string;
  /** The older name of `reason`. */
  note?: string;
  by?: string;
}

export function addAuditFlags(command: Command, reasonHelp: string): Command {
  return command
    .option('--reason <text>', reasonHelp)
    .option('--by <name>', 'who asks (default: your user name)')
    .addOption(new Option('--note <text>', 'the older name of --reason').hideHelp());
}

/** The request's audit fields; a missing reason where one is required is bad input (exit 2). */
export function auditRequest(opts: AuditFlags, required: boolean): AuditRequest {
  const reason = (opts.reason ?? opts.note)?.trim();
  if (required && !reason) throw new UsageError('--reason <text> is required: say why (it goes into the audit trail)');
  return { by: opts.by?.trim() || localUser(), ...(reason ? { reason } : {}) };
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
