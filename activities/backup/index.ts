// The backup and restore activities: dump, verify, record, prune, restore. Each reads the config
// anew (a changed config applies to the next run) and reaches storage and Postgres through the
// helpers beside this file. Arguments and results carry names, sizes and checks, never secrets.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readSecret, slackChannelFor, type AppsConfig, type DatabaseConfig, type EnvConfig } from '../../lib/config.js';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { CheckResult } from '../../lib/messages.js';
import { appOf, dumpKey, listCatalog, manifestKey, readManifest, seriesOf, writeManifest, type BackupManifest } from './catalog.js';
import { assertAgeAvailable, encryptionOf, withDecryption, type DumpDecryption } from './encryption.js';
import { parseConnectionString, PG_DATABASE_NAME } from './connection.js';
import { assertRestoreTarget } from './restoreTargets.js';
import { databaseConfigOf, withDatabaseSession, type DatabaseSession } from './databaseSession.js';
import { dumpToStorage, type DumpRequest, type DumpResult } from './dump.js';
import { durationToMs } from '../../lib/validate.js';
import { createClientSelector } from './pgClients.js';
import type { ParallelJobs, PgTools } from './pgTools.js';
import { withProgress } from './progress.js';
import {
  databaseExists, dropStagingDatabase, restoreIntoDatabase, restoreIntoStaging, restoreNamesFor, swapInRestored, withMaintenanceClient, type RestoreOutcome, type SwapOutcome, type SwapRequest,
} from './restore.js';
import { planRetention, type RetentionPlan } from './retention.js';
import { createBackupStorage, type BackupStorage } from './storage.js';
import { sweepOrphans } from './orphans.js';
import { applyGlobals, globalsKey, readStoredGlobals } from './globals.js';
import { describeGlobalsRestore, type GlobalsRestoreReport } from '../../lib/globalsRestore.js';
import { checkStoredChecksum, verifyStoredBackup, type VerificationResult } from './verify.js';

export interface BackupActivityDeps {
  env: EnvConfig;
  logger: Logger;
  loadAppsConfig: () => AppsConfig;
}

/** What a backup run needs to know about its database, resolved once at its start. */
export interface BackupTarget {
  database: string;
  app: string;
  series: string;
  slackChannel: string;
  compressionLevel: number;
  retention: DatabaseConfig['retention'];
  /** The Fly app whose current release is recorded with the backup, when the config links one. */
  releaseFlyApp?: string;
  /** Where the long database work runs (FLIGHTDECK_DATABASE_TASK_QUEUE, worker/taskQueues.ts); absent: the run's own queue. */
  databaseTaskQueue?: string;
}

export interface RestorePlan {
  series: string;
  backupId: string;
  backupStatus: 'unverified' | 'verified' | 'failed';
  backupCreatedAt: string;
  sizeBytes: number;
  targetDatabase: string;
  isTargetExisting: boolean;
  /** The target is a configured database's live (URL) database: this one's, or another's on the same server. */
  isProductionTarget: boolean;
  /** That configured database's name (its own series takes the safety backup). */
  targetConfigDatabase?: string;
  approvers: string[];
  slackChannel: string;
  /** Where the long database work runs (FLIGHTDECK_DATABASE_TASK_QUEUE, worker/taskQueues.ts); absent: the run's own queue. */
  databaseTaskQueue?: string;
  /** Where the dump is restored and checked before the swap (absent in plans made before staging). */
  stagingDatabase?: string;
  /** The name an overwritten target keeps after the swap. */
  preRestoreDatabase?: string;
  /** The backup has the cluster's globals stored with it (absent in plans made before they were). */
  hasGlobals?: boolean;
}

export interface BackupRef {
  database: string;
  series: string;
  backupId: string;
}

export function createBackupActivities(deps: BackupActivityDeps) {
  const selectTools = createClientSelector(deps.env.PG_BIN_DIR);
  /** pg_dump and pg_restore of the majors this server needs (activities/backup/pgClients.ts). */
  const toolsFor = async (db: DatabaseSession): Promise<PgTools> => {
    const client = await db.connect();
    try {
      return await selectTools(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const context = () => {
    const config = deps.loadAppsConfig();
    return { config, storage: createBackupStorage(config.storage) };
  };
  const session = <T>(config: AppsConfig, database: string, signal: AbortSignal, fn: (db: DatabaseSession) => Promise<T>) =>
    withDatabaseSession({ config, database, env: deps.env, signal }, fn);
  /** fn gets the backup's decryption when its dump is encrypted (the identities, from the named secret). */
  const decrypting = <T>(config: AppsConfig, database: string, manifest: BackupManifest, fn: (decryption: DumpDecryption | undefined) => Promise<T>) =>
    withDecryption({ config, dbConfig: databaseConfigOf(config, database), database, manifest, agePath: deps.env.AGE_PATH }, fn);
  /** The database's parallelJobs, and the worker's spool for parallel dumps and restores. */
  const parallelOf = (dbConfig: DatabaseConfig): ParallelJobs => ({ jobs: dbConfig.parallelJobs, spoolDir: path.resolve(deps.env.FLIGHTDECK_BACKUP_SPOOL_DIR) });
  /** The server's pg_restore, the database's parallel jobs, and age with the identities for an encrypted dump. */
  const restoreToolsFor = async (db: DatabaseSession, dbConfig: DatabaseConfig, decryption: DumpDecryption | undefined): Promise<PgTools> =>
    ({ ...await toolsFor(db), parallel: parallelOf(dbConfig), ...(decryption ? { decryption } : {}) });

  /** A backup id names its configured database: its manifest is in that database's series or one of its safety series. */
  async function findManifest(config: AppsConfig, database: string, backupId: string) {
    const { storage } = context();
    const app = appOf(databaseConfigOf(config, database));
    const direct = await readManifest(storage, seriesOf(app, database), backupId).catch(() => undefined);
    if (direct) return direct;
    const key = (await storage.list(`${app}/${database}.`)).find((k) => k.endsWith(`/${backupId}.manifest.json`));
    if (!key) throw permanentFailure(PermanentError.InvalidInput, `no backup ${backupId} of database ${database}`);
    return readManifest(storage, key.slice(0, key.lastIndexOf('/') + 1), backupId);
  }

  /** Sweeping is housekeeping: trouble with it is logged, never a reason to skip a backup. */
  async function sweepSeries(storage: BackupStorage, series: string): Promise<string[]> {
    try {
      const swept = await sweepOrphans(storage, series);
      if (swept.length) deps.logger.warn({ series, swept }, `deleted ${swept.length} orphaned backup object(s) with no manifest: ${swept.join(', ')}`);
      return swept;
    } catch (err) {
      deps.logger.warn({ series, err: (err as Error).message }, 'sweeping orphaned backup objects failed');
      return [];
    }
  }

  return {
    async prepareBackup(input: { database: string; pgDatabase?: string }): Promise<BackupTarget> {
      const { config } = context();
      const dbConfig = databaseConfigOf(config, input.database);
      if (input.pgDatabase !== undefined) assertDatabaseName(input.pgDatabase);
      const app = appOf(dbConfig);
      return {
        database: input.database,
        app,
        series: seriesOf(app, input.database, input.pgDatabase),
        slackChannel: slackChannelFor(config, deps.env, { app: dbConfig.app }),
        compressionLevel: dbConfig.compressionLevel,
        retention: dbConfig.retention,
        releaseFlyApp: releaseFlyAppOf(config, dbConfig),
        databaseTaskQueue: deps.env.FLIGHTDECK_DATABASE_TASK_QUEUE,
      };
    },

    async dumpDatabase(request: DumpRequest): Promise<DumpResult> {
      const { config, storage } = context();
      const sweptOrphans = await sweepSeries(storage, seriesOf(request.app, request.database, request.pgDatabase));
      const encryption = encryptionOf(config, databaseConfigOf(config, request.database));
      if (encryption) assertAgeAvailable(deps.env.AGE_PATH);
      const dump = await withProgress('connect', (progress) => session(config, request.database, progress.signal, async (db) =>
        dumpToStorage({
          ...request,
          lockWaitTimeoutMs: durationToMs(databaseConfigOf(config, request.database).lockWaitTimeout),
          stallTimeoutMs: durationToMs(databaseConfigOf(config, request.database).stallTimeout),
          ...(encryption ? { encryption: { agePath: deps.env.AGE_PATH, recipients: encryption.recipients } } : {}),
        }, db, storage, { ...await toolsFor(db), parallel: parallelOf(databaseConfigOf(config, request.database)) }, progress)));
      deps.logger.info({ backup: { ...dump, database: request.database } }, `backup ${dump.backupId} dumped to ${dump.location}`);
      return sweptOrphans.length ? { ...dump, sweptOrphans } : dump;
    },

    async verifyBackup(ref: BackupRef): Promise<VerificationResult> {
      const { config, storage } = context();
      const manifest = await readManifest(storage, ref.series, ref.backupId);
      const dbConfig = databaseConfigOf(config, ref.database);
      // A separate verify server keeps the scratch copy's writes and disk off production; else a preflight checks the room.
      const verifySecret = dbConfig.verifySecret;
      const verification = await decrypting(config, ref.database, manifest, (decryption) => withProgress('connect', (progress) =>
        withDatabaseSession({ config, database: ref.database, env: deps.env, signal: progress.signal, serverSecret: verifySecret }, async (db) =>
          verifyStoredBackup(manifest, db, storage, await restoreToolsFor(db, dbConfig, decryption), progress,
            verifySecret ? { adminDatabase: db.defaultDatabase } : { adminDatabase: manifest.pgDatabase, minFreePercent: dbConfig.verifyMinFreePercent }))));
      const failed = verification.checks.filter((check) => !check.isPassed);
      if (verification.isVerified) deps.logger.info({ backupId: ref.backupId, durationMs: verification.durationMs }, `backup ${ref.backupId} verified`);
      else deps.logger.warn({ backupId: ref.backupId, failureType: verification.failureType, failed }, `backup ${ref.backupId} FAILED verification`);
      return verification;
    },

    /** Records the verification in the manifest: from here on, the catalog says what it proved. */
    async recordVerification(input: BackupRef & { verification: VerificationResult }): Promise<{ location: string }> {
      const { storage } = context();
      const manifest = await readManifest(storage, input.series, input.backupId);
      const { verification } = input;
      await writeManifest(storage, {
        ...manifest,
        status: verification.isVerified ? 'verified' : 'failed',
        verification: { verifiedAt: new Date().toISOString(), durationMs: verification.durationMs, checks: verification.checks, failureType: verification.failureType },
      });
      return { location: storage.locationOf(manifestKey(input.series, input.backupId)) };
    },

    async planBackupRetention(input: { database: string; series: string }): Promise<RetentionPlan & { unreadable: string[] }> {
      const { config, storage } = context();
      const dbConfig = databaseConfigOf(config, input.database);
      const catalog = await listCatalog(storage, input.series);
      const plan = planRetention(catalog.manifests, dbConfig.retention, new Date());
      return { ...plan, unreadable: catalog.unreadable };
    },

    /** Deletes each backup's dump, then its manifest: an interrupted deletion is finished by the retry. */
    async deleteBackups(input: { series: string; backupIds: string[] }): Promise<string[]> {
      const { storage } = context();
      for (const backupId of input.backupIds) {
        const manifest = await readManifest(storage, input.series, backupId).catch(() => undefined);
        if (manifest) await storage.delete(manifest.dumpKey);
        if (manifest?.globals) await storage.delete(manifest.globals.key);
        await storage.delete(manifestKey(input.series, backupId));
        deps.logger.info({ backupId, series: input.series }, `backup ${backupId} deleted by retention`);
      }
      return input.backupIds;
    },

    /**
     * What a cancelled backup run leaves: nothing. Its dump by key (the dump may be stored while its
     * manifest is not), then its manifest; deleting what is not there succeeds, so a retry is harmless.
     */
    async discardBackup(input: { series: string; backupId: string; releaseVersion: string }): Promise<void> {
      const { storage } = context();
      await storage.delete(dumpKey(input.series, input.backupId, input.releaseVersion));
      await storage.delete(globalsKey(input.series, input.backupId));
      await storage.delete(manifestKey(input.series, input.backupId));
      deps.logger.info({ backupId: input.backupId, series: input.series }, `backup ${input.backupId} discarded: its run was cancelled`);
    },

    async prepareRestore(input: { database: string; backupId: string; targetDatabase?: string; isCrossDatabaseConfirmed?: boolean }): Promise<RestorePlan> {
      const { config } = context();
      const dbConfig = databaseConfigOf(config, input.database);
      if (input.targetDatabase !== undefined) assertDatabaseName(input.targetDatabase);
      const manifest = await findManifest(config, input.database, input.backupId);
      return withProgress('connect', (progress) => session(config, input.database, progress.signal, async (db) => {
        const target = await withMaintenanceClient(db, input.targetDatabase ?? db.defaultDatabase, async (client) => {
          if (!input.targetDatabase) return { targetDatabase: await freeRestoreName(client, manifest.pgDatabase, manifest.createdAt), isTargetExisting: false, isTargetTemplate: false };
          const { rows: [row] } = await client.query<{ isTemplate: boolean }>('select datistemplate as "isTemplate" from pg_database where datname = $1', [input.targetDatabase]);
          return { targetDatabase: input.targetDatabase, isTargetExisting: row !== undefined, isTargetTemplate: row?.isTemplate ?? false };
        });
        const { targetDatabase, isTargetExisting } = target;
        assertRestoreTarget({
          ...target, database: input.database, sourcePgDatabase: manifest.pgDatabase, allowedTargets: dbConfig.restoreTargets,
          isCrossDatabaseConfirmed: input.isCrossDatabaseConfirmed === true,
        });
        // Whose database the target is: its own restorers decide, not the source's.
        const owner = liveDatabaseOwner(config, dbConfig, targetDatabase) ?? (targetDatabase === db.defaultDatabase ? [input.database, dbConfig] as const : undefined);
        return {
          ...restoreNamesFor(targetDatabase, new Date()),
          series: manifest.series,
          backupId: manifest.backupId,
          backupStatus: manifest.status,
          backupCreatedAt: manifest.createdAt,
          sizeBytes: manifest.sizeBytes,
          hasGlobals: manifest.globals !== undefined,
          targetDatabase,
          isTargetExisting,
          isProductionTarget: owner !== undefined,
          targetConfigDatabase: owner?.[0],
          approvers: restoreApproversOf(config, owner?.[1] ?? dbConfig),
          slackChannel: slackChannelFor(config, deps.env, { app: dbConfig.app }),
          databaseTaskQueue: deps.env.FLIGHTDECK_DATABASE_TASK_QUEUE,
        };
      }));
    },

    async verifyBackupChecksum(ref: BackupRef): Promise<CheckResult> {
      const { storage } = context();
      const manifest = await readManifest(storage, ref.series, ref.backupId);
      return withProgress('checksum', (progress) => checkStoredChecksum(manifest, storage, progress));
    },

    /** Restores into the plan's staging database and checks it there; the target is not touched. */
    async restoreBackupIntoStaging(input: BackupRef & { stagingDatabase: string }): Promise<RestoreOutcome> {
      const { config, storage } = context();
      assertDatabaseName(input.stagingDatabase);
      const manifest = await readManifest(storage, input.series, input.backupId);
      const outcome = await decrypting(config, input.database, manifest, (decryption) => withProgress('connect', (progress) => session(config, input.database, progress.signal, async (db) =>
        restoreIntoStaging(manifest, input.stagingDatabase, db, storage, await restoreToolsFor(db, databaseConfigOf(config, input.database), decryption), progress))));
      deps.logger.info({ backupId: input.backupId, stagingDatabase: input.stagingDatabase, isVerified: outcome.isVerified }, `backup ${input.backupId} restored into ${input.stagingDatabase}`);
      return outcome;
    },

    /** A cancelled restore's staging copy is dropped; the target was never touched. */
    async discardStagingDatabase(input: { database: string; stagingDatabase: string }): Promise<void> {
      const { config } = context();
      assertDatabaseName(input.stagingDatabase);
      await withProgress('drop staging', (progress) => session(config, input.database, progress.signal, (db) => dropStagingDatabase(db, input.stagingDatabase)));
    },

    /** The short window: the staging database takes the target's name; an existing target is kept renamed. */
    async swapInRestoredDatabase(input: { database: string } & SwapRequest): Promise<SwapOutcome> {
      const { config } = context();
      for (const name of [input.targetDatabase, input.stagingDatabase, input.preRestoreDatabase]) assertDatabaseName(name);
      const swap = await withProgress('swap', (progress) => session(config, input.database, progress.signal, (db) => swapInRestored(db, input)));
      deps.logger.info({ ...swap, targetDatabase: input.targetDatabase }, `restored copy swapped in as ${input.targetDatabase}`);
      return swap;
    },

    /**
     * Creates the roles this server lacks from the backup's stored globals (checksum checked first);
     * existing roles are left as they are. Disaster recovery onto a new cluster, on request only.
     */
    async restoreBackupGlobals(ref: BackupRef): Promise<GlobalsRestoreReport> {
      const { config, storage } = context();
      const manifest = await readManifest(storage, ref.series, ref.backupId);
      const sql = await readStoredGlobals(manifest, storage);
      const report = await withProgress('roles', (progress) => session(config, ref.database, progress.signal, (db) =>
        withMaintenanceClient(db, [], (client) => applyGlobals(client, sql))));
      deps.logger.info({ backupId: ref.backupId, created: report.created, existing: report.existing, failed: report.failed }, `roles of backup ${ref.backupId}: ${describeGlobalsRestore(report)}`);
      return report;
    },

    /** A restore run's hold on its backup: retention keeps a held backup, whatever its age. */
    async holdBackup(input: BackupRef & { holder: string; reason: string }): Promise<void> {
      const { storage } = context();
      const manifest = await readManifest(storage, input.series, input.backupId);
      const holds = (manifest.holds ?? []).filter((hold) => hold.holder !== input.holder);
      await writeManifest(storage, { ...manifest, holds: [...holds, { holder: input.holder, reason: input.reason, since: new Date().toISOString() }] });
    },

    async releaseBackupHold(input: BackupRef & { holder: string }): Promise<void> {
      const { storage } = context();
      const manifest = await readManifest(storage, input.series, input.backupId).catch(() => undefined);
      if (!manifest?.holds?.some((hold) => hold.holder === input.holder)) return;
      const holds = manifest.holds.filter((hold) => hold.holder !== input.holder);
      await writeManifest(storage, { ...manifest, holds: holds.length ? holds : undefined });
    },

    async restoreBackup(input: BackupRef & { targetDatabase: string; isOverwrite: boolean }): Promise<RestoreOutcome> {
      const { config, storage } = context();
      assertDatabaseName(input.targetDatabase);
      const manifest = await readManifest(storage, input.series, input.backupId);
      const outcome = await decrypting(config, input.database, manifest, (decryption) => withProgress('connect', (progress) => session(config, input.database, progress.signal, async (db) =>
        restoreIntoDatabase(manifest, input.targetDatabase, input.isOverwrite, db, storage, await restoreToolsFor(db, databaseConfigOf(config, input.database), decryption), progress))));
      deps.logger.info({ backupId: input.backupId, targetDatabase: input.targetDatabase, isVerified: outcome.isVerified }, `backup ${input.backupId} restored into ${input.targetDatabase}`);
      return outcome;
    },
  };
}

export type BackupActivities = ReturnType<typeof createBackupActivities>;

function assertDatabaseName(name: string): void {
  if (!PG_DATABASE_NAME.test(name)) throw permanentFailure(PermanentError.InvalidInput, `"${name}" is not a database name we create or overwrite (lowercase letters, digits, underscores)`);
}


/** The app's production Fly app (or its only one): its current release is what the data belongs to. */
function releaseFlyAppOf(config: AppsConfig, dbConfig: DatabaseConfig): string | undefined {
  const app = dbConfig.app ? config.apps[dbConfig.app] : undefined;
  if (!app) return undefined;
  const environments = Object.entries(app.environments);
  const production = environments.find(([name]) => name === 'production') ?? (environments.length === 1 ? environments[0] : undefined);
  return production?.[1].flyApp;
}

/**
 * The configured database whose live (URL) database the target is, on the same server as source:
 * on a shared cluster, another app's database.
 */
function liveDatabaseOwner(config: AppsConfig, source: DatabaseConfig, targetDatabase: string): readonly [string, DatabaseConfig] | undefined {
  const endpointOf = (dbConfig: DatabaseConfig) => {
    const url = readSecret(dbConfig.secret);
    try {
      return url ? parseConnectionString(url, dbConfig.secret) : undefined;
    } catch {
      return undefined;
    }
  };
  const server = endpointOf(source);
  if (!server) return undefined;
  return Object.entries(config.databases).find(([, candidate]) => {
    const endpoint = endpointOf(candidate);
    return endpoint !== undefined && endpoint.host === server.host && endpoint.port === server.port && endpoint.database === targetDatabase;
  });
}

/** Who may approve overwriting the live database: the app's restore permissions, else its deploy approvers. */
function restoreApproversOf(config: AppsConfig, dbConfig: DatabaseConfig): string[] {
  const app = dbConfig.app ? config.apps[dbConfig.app] : undefined;
  const approvers = Object.values(app?.environments ?? {}).flatMap((env) => env.permissions.restore ?? env.approval.approvers);
  return [...new Set(approvers)];
}

/** `<db>_restored_<yyyymmddhhmm>`, with a suffix when a restore of the same backup already exists. */
async function freeRestoreName(client: Parameters<typeof databaseExists>[0], pgDatabase: string, createdAt: string): Promise<string> {
  const stamp = createdAt.replace(/\D/g, '').slice(0, 12);
  const source = pgDatabase.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_').slice(0, 30);
  const base = `${source}_restored_${stamp}`;
  for (let attempt = 1; attempt < 100; attempt++) {
    const name = attempt === 1 ? base : `${base}_${attempt}`;
    if (!(await databaseExists(client, name))) return name;
  }
  return `${base}_${randomBytes(3).toString('hex')}`;
}
