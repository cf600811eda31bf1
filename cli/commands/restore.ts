import { PG_DATABASE_NAME } from '../../activities/backup/connection.js';
import { requestRestore } from '../../lib/databaseOperations.js';
import type { RestoreRequest } from '../../lib/messages.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { UsageError } from '../usageError.js';
import { expectArguments, resolveConfiguredDatabase, text } from '../validation.js';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a catalogued backup into a new database, or over one when confirmed',
  usage: 'flightdeck restore <database> <backup-id> [--target NAME] [--overwrite] [--with-globals] [--no-wait] [--json]',
  details: `Restores <backup-id> (see flightdeck backups <database>) on <database>'s server and follows the run:
plan, approval, checksum, safety backup, restore, verification of row counts and schema.

  --target NAME  the Postgres database to restore into (default: a new one named after the backup)
  --overwrite    required when the target exists; a safety backup of it is taken first, and
                 overwriting the live database waits for an approver (flightdeck approve <run>)
  --with-globals first create the roles this server lacks from the backup's stored globals
                 (pg_dumpall --globals-only; no passwords): disaster recovery onto a new cluster

  flightdeck restore orders orders-20261122T020000Z-a1b2c3
  flightdeck restore orders orders-20261122T020000Z-a1b2c3 --target orders_staging --overwrite`,
  options: { target: { type: 'string' }, overwrite: { type: 'boolean' }, 'with-globals': { type: 'boolean' } },
  prepare({ positionals, options, config, actor, identity }) {
    const [database, backupId] = expectArguments(positionals, 'restore', 2, 2);
    resolveConfiguredDatabase(config, 'restore', database!);
    if (!/^[\w.-]{1,200}$/.test(backupId!)) throw new UsageError(`"${backupId}" is not a backup id; list them with flightdeck backups ${database}`, 'restore');
    const targetDatabase = text(options.target);
    if (targetDatabase !== undefined && !PG_DATABASE_NAME.test(targetDatabase)) {
      throw new UsageError(`--target "${targetDatabase}" is not a database name we restore into: lowercase letters, digits and underscores`, 'restore');
    }
    const request: RestoreRequest = {
      database: database!, backupId: backupId!,
      ...(targetDatabase ? { targetDatabase } : {}),
      ...(options.overwrite === true ? { isOverwriteConfirmed: true } : {}),
      ...(options['with-globals'] === true ? { shouldRestoreGlobals: true } : {}),
      trigger: { source: 'cli', actor, identity },
    };
    return async (session) => {
      const workflowId = await requestRestore(session.client, session.taskQueue, request);
      return (await reportStartedRun(session, { workflowId }, options['no-wait'] !== true)).exitCode;
    };
  },
};
