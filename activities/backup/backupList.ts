// The backup catalog as people see it (API, CLI, Slack): every backup of a configured database,
// including the safety backups restores took of databases they overwrote. Read-only. Reading it needs
// the storage's credentials, which only the worker holds: the API and Slack ask the worker through
// the listBackups workflow (activity listDatabaseBackups); the operator's CLI reads it directly.
import type { AppsConfig } from '../../lib/config.js';
import { resolveDatabase } from '../../lib/databaseOperations.js';
import { ConfigError } from '../../lib/config.js';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import { appOf, listCatalog, seriesOf, type BackupManifest } from './catalog.js';
import { createBackupStorage, type BackupStorage } from './storage.js';

export interface BackupSummary {
  backupId: string;
  /** The configured database. */
  database: string;
  /** The Postgres database that was dumped: the configured one, or one a restore overwrote. */
  pgDatabase: string;
  createdAt: string;
  status: BackupManifest['status'];
  isVerified: boolean;
  verifiedAt?: string;
  sizeBytes: number;
  releaseVersion: string;
  location: string;
  trigger: { source: string; actor: string };
  /** Taken by a restore just before it overwrote pgDatabase. */
  isSafetyBackup: boolean;
  /** The cluster's roles stored with it (pg_dumpall --globals-only), for a restore onto a new cluster. */
  globals?: { location: string; sizeBytes: number; sha256: string; roleCount: number };
}

/** Newest first. Unknown database names are refused with the list of configured ones. */
export async function listBackups(config: AppsConfig, database: string, storage: BackupStorage = createBackupStorage(config.storage)): Promise<BackupSummary[]> {
  const app = appOf(resolveDatabase(config, database));
  const mainSeries = seriesOf(app, database);
  const safetySeries = new Set((await storage.list(`${app}/${database}.`)).map((key) => key.slice(0, key.lastIndexOf('/') + 1)));
  const summaries: BackupSummary[] = [];
  for (const series of [mainSeries, ...safetySeries]) {
    const { manifests } = await listCatalog(storage, series);
    summaries.push(...manifests.map((manifest) => summarize(manifest, series !== mainSeries)));
  }
  return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.backupId.localeCompare(a.backupId));
}

function summarize(manifest: BackupManifest, isSafetyBackup: boolean): BackupSummary {
  return {
    backupId: manifest.backupId,
    database: manifest.database,
    pgDatabase: manifest.pgDatabase,
    createdAt: manifest.createdAt,
    status: manifest.status,
    isVerified: manifest.status === 'verified',
    ...(manifest.verification ? { verifiedAt: manifest.verification.verifiedAt } : {}),
    sizeBytes: manifest.sizeBytes,
    releaseVersion: manifest.releaseVersion,
    location: manifest.location,
    trigger: { source: manifest.trigger.source, actor: manifest.trigger.actor },
    isSafetyBackup,
    ...(manifest.globals ? { globals: { location: manifest.globals.location, sizeBytes: manifest.globals.sizeBytes, sha256: manifest.globals.sha256, roleCount: manifest.globals.roles.length } } : {}),
  };
}

export function createBackupListActivities(deps: { loadAppsConfig: () => AppsConfig }) {
  return {
    /** For the API and Slack, which hold no storage credentials (workflows/listBackups.ts). */
    async listDatabaseBackups(input: { database: string }): Promise<BackupSummary[]> {
      try {
        return await listBackups(deps.loadAppsConfig(), input.database);
      } catch (err) {
        if (err instanceof ConfigError) throw permanentFailure(PermanentError.ConfigInvalid, err.problems.join('; '));
        throw err;
      }
    },
  };
}
