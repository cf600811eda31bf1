// Where a backup may be restored (issue 16.2). A restore may create a new database, or overwrite
// the backup's own database, or a database the config allowlists for it (`restoreTargets`); never
// a system database. Overwriting a database with a dump of another one must be confirmed as such.
import { PermanentError, permanentFailure } from '../../lib/errors.js';

/** PostgreSQL's own databases: never a restore target, whatever the config says. */
export const SYSTEM_DATABASES = new Set(['postgres', 'template0', 'template1']);

export interface RestoreTargetCheck {
  /** The configured database whose backup is restored. */
  database: string;
  targetDatabase: string;
  isTargetExisting: boolean;
  isTargetTemplate: boolean;
  /** The Postgres database the backup was dumped from. */
  sourcePgDatabase: string;
  /** databases.<database>.restoreTargets */
  allowedTargets: readonly string[];
  isCrossDatabaseConfirmed: boolean;
}

export function assertRestoreTarget(check: RestoreTargetCheck): void {
  const { targetDatabase: target, sourcePgDatabase: source } = check;
  if (SYSTEM_DATABASES.has(target) || check.isTargetTemplate) {
    throw permanentFailure(PermanentError.InvalidInput, `${target} is a system database: no backup is ever restored into it`);
  }
  if (!check.isTargetExisting || target === source) return;
  if (!check.allowedTargets.includes(target)) {
    throw permanentFailure(PermanentError.InvalidInput, `${target} is neither the backup's own database (${source}), nor a new database, nor one of databases.${check.database}.restoreTargets `
      + `(${check.allowedTargets.join(', ') || 'none'}); nothing was changed`);
  }
  if (!check.isCrossDatabaseConfirmed) {
    throw permanentFailure(PermanentError.InvalidInput, `backup of ${source} into another database, ${target}: overwriting one database with a dump of another needs isCrossDatabaseConfirmed; nothing was changed`);
  }
}
