import { requestBackup } from '../../lib/databaseOperations.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { expectArguments, resolveConfiguredDatabase } from '../validation.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'back up a configured database now: dump, verify by restoring, store, prune',
  usage: 'flightdeck backup <database> [--no-wait] [--json]',
  details: `Starts a backup of <database> (a name from the config file's databases) outside its schedule
and follows it: dump, checksum, verification (a real restore into a scratch database), store, prune.
Exit code 0 when the backup is verified, 1 otherwise. List backups with flightdeck backups <database>.

  flightdeck backup orders`,
  prepare({ positionals, options, config, actor }) {
    const [database] = expectArguments(positionals, 'backup', 1, 1);
    resolveConfiguredDatabase(config, 'backup', database!);
    return async (session) => {
      const workflowId = await requestBackup(session.client, session.taskQueue, { database: database!, trigger: { source: 'cli', actor } });
      return (await reportStartedRun(session, { workflowId }, options['no-wait'] !== true)).exitCode;
    };
  },
};
