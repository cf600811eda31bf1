import { listBackups } from '../../activities/backup/backupList.js';
import { freshnessOf } from '../../activities/backup/freshness.js';
import { describeFreshness } from '../../lib/backupFreshness.js';
import type { Command } from '../command.js';
import { formatBytes } from '../../lib/units.js';
import { formatTable, formatTime } from '../format.js';
import { ExitCode } from '../usageError.js';
import { expectArguments, resolveConfiguredDatabase } from '../validation.js';

export const backupsCommand: Command = {
  name: 'backups',
  summary: 'the backup catalog of a database: ids, sizes, verification, newest first',
  usage: 'flightdeck backups <database> [--json]',
  details: `Lists the backups stored for <database>, read from the backup storage's catalog (no Temporal
connection needed), including safety backups that restores took before overwriting a database.
Only backups with status "verified" were proven restorable. ROLES: the cluster's roles stored with
the backup (pg_dumpall --globals-only; restore --with-globals recreates the missing ones).
The first line says how old the newest verified backup is against the freshness alarm's threshold
(freshness.staleAfter; by default the schedule's longest gap plus 2 h: 26 h for a nightly one).

  flightdeck backups orders`,
  isOffline: true,
  prepare({ positionals, config }) {
    const [database] = expectArguments(positionals, 'backups', 1, 1);
    resolveConfiguredDatabase(config, 'backups', database!);
    return async ({ out }) => {
      const backups = await listBackups(config, database!);
      const freshness = freshnessOf(config, database!, backups);
      out.line(`${database}: ${describeFreshness(freshness)}`);
      if (backups.length === 0) out.line(`no backups of ${database} yet`);
      else {
        out.line(formatTable(['CREATED', 'BACKUP', 'STATUS', 'SIZE', 'RELEASE', 'OF', 'ROLES'], backups.map((b) => [
          formatTime(b.createdAt), b.backupId, b.status, formatBytes(b.sizeBytes), b.releaseVersion, b.isSafetyBackup ? `${b.pgDatabase} (safety)` : b.pgDatabase,
          b.globals ? String(b.globals.roleCount) : '-',
        ])));
      }
      out.result({ backups, freshness });
      return ExitCode.ok;
    };
  },
};
