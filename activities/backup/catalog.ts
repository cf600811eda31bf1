// The backup catalog is the manifests stored beside the dumps: one JSON file per backup, in the same
// storage, so the catalog survives restarts, moves with the backups and needs no other database.
//   <app>/<database>/<backupId>.manifest.json
//   <app>/<database>/<backupId>_release-<version>.dump   (a custom-format archive, or a tar of a directory-format dump: dumpFormat)
//   <app>/<database>/<backupId>.globals.sql
import { z } from 'zod';
import type { DatabaseConfig } from '../../lib/config.js';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import { databasePropertiesSchema } from './databaseProperties.js';
import { readText, StorageObjectMissing, writeText, type BackupStorage } from './storage.js';

export const DUMP_FORMATS = ['custom', 'directory-tar'] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

const checkSchema = z.object({ name: z.string(), isPassed: z.boolean(), detail: z.string() });

const inventorySchema = z.object({
  tables: z.array(z.string()),
  indexes: z.array(z.string()),
  sequences: z.array(z.string()),
  rowCounts: z.record(z.string(), z.number()),
});

export const manifestSchema = z.object({
  formatVersion: z.literal(1),
  backupId: z.string(),
  app: z.string(),
  /** The configured database (config name). */
  database: z.string(),
  /** The Postgres database that was dumped. */
  pgDatabase: z.string(),
  series: z.string(),
  dumpKey: z.string(),
  location: z.string(),
  createdAt: z.iso.datetime(),
  releaseVersion: z.string(),
  trigger: z.object({ source: z.string(), actor: z.string() }),
  compressionLevel: z.number().int(),
  /**
   * What the stored object is: `custom`, a pg_dump --format=custom archive; `directory-tar`, a tar of
   * a pg_dump --format=directory dump (parallelJobs > 1). Absent in older manifests: custom.
   */
  dumpFormat: z.enum(DUMP_FORMATS).optional(),
  sizeBytes: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  dumpDurationMs: z.number(),
  throughputBytesPerSecond: z.number(),
  /** unverified: dumped, verification not recorded (yet). Only `verified` counts for retention. */
  status: z.enum(['unverified', 'verified', 'failed']),
  verification: z.object({
    verifiedAt: z.iso.datetime(),
    durationMs: z.number(),
    checks: z.array(checkSchema),
    failureType: z.string().optional(),
  }).optional(),
  /** The source's inventory, taken inside the dump's snapshot: what a restore must bring back. */
  source: inventorySchema,
  /** Encoding, locale, owner, ACL and settings of the dumped database (absent in older manifests). */
  databaseProperties: databasePropertiesSchema.optional(),
  /** `pg_dumpall --globals-only --no-role-passwords`, stored beside the dump (absent in older manifests, or when it failed). */
  globals: z.object({ key: z.string(), location: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), sizeBytes: z.number().int(), roles: z.array(z.string()) }).optional(),
  /** Why the globals could not be stored: the backup of the database itself stands. */
  globalsError: z.string().optional(),
  /** The dump is encrypted with age for these recipients (sha256 and size are of the stored ciphertext). */
  encryption: z.object({ method: z.literal('age'), recipients: z.array(z.string()).min(1) }).optional(),
  /** A safety backup taken by a restore: never prunes its series. */
  isSafetyBackup: z.boolean().optional(),
  /** Runs that need this backup kept (a restore from plan to finish): retention never deletes it. */
  holds: z.array(z.object({ holder: z.string(), reason: z.string(), since: z.iso.datetime() })).optional(),
});

export type BackupManifest = z.infer<typeof manifestSchema>;
export type BackupStatus = BackupManifest['status'];

/** Manifests written before parallel dumps have no dumpFormat: their dumps are custom-format archives. */
export function dumpFormatOf(manifest: Pick<BackupManifest, 'dumpFormat'>): DumpFormat {
  return manifest.dumpFormat ?? 'custom';
}

/** Object names carry the app; a database not linked to an app says so. */
export function appOf(dbConfig: DatabaseConfig): string {
  return dbConfig.app ?? dbConfig.flyProxy?.app ?? 'unknown';
}

/** A database's backups form a series; a restore's safety backup of another database, its own. */
export function seriesOf(app: string, database: string, pgDatabase?: string): string {
  return pgDatabase ? `${app}/${database}.${pgDatabase}/` : `${app}/${database}/`;
}

export function manifestKey(series: string, backupId: string): string {
  return `${series}${backupId}.manifest.json`;
}

export function dumpKey(series: string, backupId: string, releaseVersion: string): string {
  return `${series}${backupId}_release-${releaseVersion}.dump`;
}

export async function writeManifest(storage: BackupStorage, manifest: BackupManifest): Promise<void> {
  await writeText(storage, manifestKey(manifest.series, manifest.backupId), `${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`);
}

export async function readManifest(storage: BackupStorage, series: string, backupId: string): Promise<BackupManifest> {
  const key = manifestKey(series, backupId);
  let text: string;
  try {
    text = await readText(storage, key);
  } catch (err) {
    if (err instanceof StorageObjectMissing) throw permanentFailure(PermanentError.InvalidInput, `no backup ${backupId} in ${storage.locationOf(series)}`);
    throw err;
  }
  return manifestSchema.parse(JSON.parse(text));
}

export interface Catalog {
  /** Newest first. */
  manifests: BackupManifest[];
  /** Manifests that could not be read: reported, never deleted, never counted. */
  unreadable: string[];
}

export async function listCatalog(storage: BackupStorage, series: string): Promise<Catalog> {
  const keys = (await storage.list(series)).filter((key) => key.endsWith('.manifest.json') && !key.slice(series.length).includes('/'));
  const manifests: BackupManifest[] = [];
  const unreadable: string[] = [];
  for (const key of keys) {
    try {
      manifests.push(manifestSchema.parse(JSON.parse(await readText(storage, key))));
    } catch {
      unreadable.push(key);
    }
  }
  manifests.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.backupId.localeCompare(a.backupId));
  return { manifests, unreadable };
}
