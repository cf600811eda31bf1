// Every privileged action (deploy, rollback, approve, restore, lock, …) is logged with who asked,
// what for, and what came of it, as one structured line: `audit: true` makes the trail easy to filter.
import type { Logger } from './log.js';

export type AuditOutcome = 'allowed' | 'refused' | 'failed' | 'duplicate';

export interface AuditEntry {
  /** Who asked: a Slack user id, a CI identity, an API token's name. */
  actor: string;
  /** What they asked for: deploy, rollback, approve, reject, cancel, backup, restore, migrate, lock, unlock. */
  action: string;
  /** What it concerns: app/environment, a database, or a run's workflow id. */
  target: string;
  outcome: AuditOutcome;
  /** Where the request came from: slack, github, ci, api, cli. */
  source: string;
  /** Why it was refused or failed, or the run it started. */
  detail?: string;
}

export function auditLog(logger: Logger, entry: AuditEntry): void {
  const line = `audit: ${entry.actor} ${entry.action} ${entry.target}: ${entry.outcome}`;
  if (entry.outcome === 'allowed' || entry.outcome === 'duplicate') logger.info({ audit: true, ...entry }, line);
  else logger.warn({ audit: true, ...entry }, line);
}
