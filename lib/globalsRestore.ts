// What restoring a backup's globals (its cluster's roles) did, and how it reads in a report. Pure:
// the restore workflow and the activity that applies them (activities/backup/globals.ts) share it.

export interface GlobalsRestoreReport {
  created: string[];
  /** Roles the server already had: left exactly as they are. */
  existing: string[];
  failed: Array<{ role: string; reason: string }>;
  /** Memberships granted (only those involving a role created here). */
  memberships: string[];
  /** Statements not applied (tablespaces), by their first line. */
  skipped: string[];
}

export function describeGlobalsRestore(report: GlobalsRestoreReport): string {
  const parts = [
    `created ${report.created.length} role(s)${report.created.length ? ` (${report.created.join(', ')}; no passwords: set them)` : ''}`,
    `kept ${report.existing.length} existing${report.existing.length ? ` (${report.existing.join(', ')})` : ''}`,
  ];
  if (report.memberships.length) parts.push(`granted ${report.memberships.join(', ')}`);
  if (report.failed.length) parts.push(`FAILED ${report.failed.map((f) => `${f.role}: ${f.reason}`).join('; ')}`);
  if (report.skipped.length) parts.push(`not applied: ${report.skipped.join('; ')}`);
  return parts.join('; ');
}
