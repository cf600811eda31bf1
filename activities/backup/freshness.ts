// The freshness alarm's reading of the catalog: how old the newest verified backup of a database is,
// against its threshold (lib/backupFreshness.ts). The watch workflow asks through the activity; the
// operator's CLI reads it directly, as it reads the catalog.
import { assessFreshness, describeFreshness, type BackupFreshness } from '../../lib/backupFreshness.js';
import { staleAfterMs } from '../../lib/backupFreshnessThreshold.js';
import { ownValue, slackChannelFor, type AppsConfig, type EnvConfig } from '../../lib/config.js';
import { durationToMs } from '../../lib/duration.js';
import { listBackups, type BackupSummary } from './backupList.js';

/** Reads the catalog; freshnessOf judges a listing already read. */
export async function readBackupFreshness(config: AppsConfig, database: string, options: { now?: Date; since?: string } = {}): Promise<BackupFreshness> {
  return freshnessOf(config, database, await listBackups(config, database), options);
}

/** The database's own backups count: safety backups a restore took of another database do not. */
export function freshnessOf(config: AppsConfig, database: string, backups: BackupSummary[], options: { now?: Date; since?: string } = {}): BackupFreshness {
  const now = options.now ?? new Date();
  const ownBackups = backups.filter((backup) => !backup.isSafetyBackup);
  return assessFreshness({ database, backups: ownBackups, staleAfterMs: staleAfterMs(config.databases[database]!, now), now, since: options.since });
}

export type FreshnessCheck =
  | { isConfigured: false }
  | { isConfigured: true; freshness: BackupFreshness; summary: string; checkEveryMs: number; slackChannel: string };

export function createFreshnessActivities(deps: { env: EnvConfig; loadAppsConfig: () => AppsConfig }) {
  return {
    /** One look at the catalog for the watch; a database gone from the config ends its watch. */
    async checkBackupFreshness(input: { database: string; watchingSince: string }): Promise<FreshnessCheck> {
      const config = deps.loadAppsConfig();
      const dbConfig = ownValue(config.databases, input.database);
      if (!dbConfig) return { isConfigured: false };
      const freshness = await readBackupFreshness(config, input.database, { since: input.watchingSince });
      return {
        isConfigured: true, freshness, summary: describeFreshness(freshness),
        checkEveryMs: durationToMs(dbConfig.freshness.checkEvery), slackChannel: slackChannelFor(config, deps.env, { app: dbConfig.app }),
      };
    },
  };
}
