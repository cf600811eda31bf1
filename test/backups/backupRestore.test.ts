// Backups and restores end to end: real Temporal, real PostgreSQL, real pg_dump/pg_restore, local storage.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { WorkflowFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { dumpKey, listCatalog, manifestKey, seriesOf, writeManifest, type BackupManifest } from '../../activities/backup/catalog.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import { failureType, rootMessage } from '../../lib/errors.js';
import { approvalUpdate, type BackupRequest, type RestoreRequest } from '../../lib/messages.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { restoreDatabase } from '../../workflows/restoreDatabase.js';
import { createDatabase, databaseUrl } from '../helpers/postgres.js';
import { useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';
import { createSampleDatabase, describeDatabase, withClient } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment();
const SECRET = 'SHOP_DATABASE_URL';
const GHOST_SECRET = 'GHOST_DATABASE_URL';
const EMPTY_SECRET = 'FRESH_DATABASE_URL';
const trigger = { source: 'api', actor: 'alice' } as const;
let sourceUrl = '';
let emptyUrl = '';
/** The release the Fly app runs (the simulator's `fly status`): backups record it. */
let releaseVersion = '';
/** The first test's verified backup, reused by tests that only need some backup to exist. */
let verifiedBackupId = '';

beforeAll(async () => {
  sourceUrl = await createSampleDatabase(harness.serverUrl, 'shop');
  emptyUrl = await createDatabase(harness.serverUrl, 'fresh');
  await harness.sim.createApp('shop-prod', { machines: 1 });
  releaseVersion = `v${(await harness.sim.runJson(['status', '-a', 'shop-prod']) as { Version: number }).Version}`;
  harness.setSecret(SECRET, sourceUrl);
  harness.setSecret(EMPTY_SECRET, emptyUrl);
  harness.setSecret(GHOST_SECRET, databaseUrl(harness.serverUrl, 'no_such_database'));
  harness.setConfig({
    apps: {
      shop: {
        repository: '.',
        environments: { production: { flyApp: 'shop-prod', permissions: { restore: ['alice'] } } },
      },
    },
    databases: {
      shop: { app: 'shop', secret: SECRET },
      // The same data under a second name: its own catalog series, with a tight retention policy.
      ledger: { app: 'shop', secret: SECRET, retention: { maxAge: '30d', maxCount: 4, minVerified: 3 } },
      ghost: { app: 'shop', secret: GHOST_SECRET },
      // A brand-new database: no tables yet (a first migration wants a backup of it all the same).
      fresh: { app: 'shop', secret: EMPTY_SECRET },
    },
  });
});

const backupRequest: BackupRequest = { database: 'shop', trigger };

describe('backupDatabase and restoreDatabase', () => {
  it('makes a verified backup that restores into a new database with the same rows and schema', async () => {
    const backupId = harness.kit.uniqueId('backup');
    const restoreId = harness.kit.uniqueId('restore');
    const { backup, restored } = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: backupId, args: [backupRequest] });
      const restored = await harness.kit.client.workflow.execute(restoreDatabase, {
        taskQueue, workflowId: restoreId, args: [{ database: 'shop', backupId: backup.backupId, trigger }],
      });
      return { backup, restored };
    });

    expect(backup.isVerified).toBe(true);
    verifiedBackupId = backup.backupId;
    expect(backup.checks.map((c) => c.name)).toEqual(['checksum', 'globals checksum', 'archive contents', 'free space', 'scratch restore', 'tables', 'indexes', 'sequences', 'row counts']);
    expect(backup.releaseVersion).toBe(releaseVersion);
    expect(path.basename(backup.location)).toMatch(new RegExp(`^shop-\\d{8}T\\d{6}Z-\\w{6}_release-${releaseVersion}\\.dump$`));
    expect(backup.location.startsWith(path.join(harness.storageDir, 'shop', 'shop'))).toBe(true);
    expect(fs.statSync(backup.location).size).toBe(backup.sizeBytes);
    const manifest = JSON.parse(fs.readFileSync(path.join(harness.storageDir, manifestKey(seriesOf('shop', 'shop'), backup.backupId)), 'utf8'));
    expect(manifest).toMatchObject({ status: 'verified', sha256: backup.sha256, releaseVersion, app: 'shop', database: 'shop' });

    expect(restored.isVerified).toBe(true);
    expect(restored.safetyBackupId).toBeUndefined();
    const source = await describeDatabase(sourceUrl);
    expect(source.rowCounts).toMatchObject({ pgbench_accounts: 100_000, customers: 2000, invoices: 3000 });
    expect(await describeDatabase(databaseUrl(harness.serverUrl, restored.targetDatabase))).toEqual(source);

    const report = harness.slack.messages.find((m) => m.history.some((t) => t.includes(backup.backupId)) && !m.threadTs)!;
    expect(report.text).toMatch(/backup shop: succeeded/);
    expect(report.text).toMatch(/size: [\d.]+ (KiB|MiB)/);
    expect(report.text).toMatch(/throughput: [\d.]+ (KiB|MiB)\/s/);
    expect(report.text).toContain('verified: yes');
    await harness.expectNoSecretLeaked([backupId, restoreId]);
  });

  it('backs up an empty database (no tables), verifies it, and restores it', async () => {
    const backupId = harness.kit.uniqueId('backup-fresh');
    const { backup, restored } = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: backupId, args: [{ database: 'fresh', trigger }] });
      const restored = await harness.kit.client.workflow.execute(restoreDatabase, {
        taskQueue, workflowId: harness.kit.uniqueId('restore-fresh'), args: [{ database: 'fresh', backupId: backup.backupId, trigger }],
      });
      return { backup, restored };
    });

    expect(backup.isVerified).toBe(true);
    expect(backup.checks.find((c) => c.name === 'archive contents')).toMatchObject({ isPassed: true, detail: expect.stringMatching(/no entries \(the source database was empty\)/) });
    expect(backup.checks.find((c) => c.name === 'tables')).toMatchObject({ isPassed: true, detail: '0 tables match' });
    expect(restored.isVerified).toBe(true);
    const empty = { rowCounts: {}, columns: [], indexes: [], sequences: [] };
    expect(await describeDatabase(emptyUrl)).toEqual(empty);
    expect(await describeDatabase(databaseUrl(harness.serverUrl, restored.targetDatabase))).toEqual(empty);
    const report = harness.slack.messages.find((m) => m.history.some((t) => t.includes(backup.backupId)) && !m.threadTs)!;
    expect(report.text).toMatch(/backup fresh: succeeded/);
  });

  it('catches a corrupted stored dump: the backup is failed, alerted, and never counted by retention', async () => {
    const activities = harness.activities();
    const corruptingActivities = harness.activities({
      // A byte flips on disk after the dump was written and checksummed.
      dumpDatabase: async (request) => {
        const dump = await activities.dumpDatabase(request);
        const file = fs.openSync(dump.location, 'r+');
        const position = Math.floor(dump.sizeBytes / 2);
        const byte = Buffer.alloc(1);
        fs.readSync(file, byte, 0, 1, position);
        fs.writeSync(file, Buffer.from([byte[0]! ^ 0xff]), 0, 1, position);
        fs.closeSync(file);
        return dump;
      },
    });
    const result = await harness.kit.withWorker(corruptingActivities, (taskQueue) =>
      harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup-corrupt'), args: [backupRequest] }));

    expect(result.isVerified).toBe(false);
    expect(result.checks).toEqual([expect.objectContaining({ name: 'checksum', isPassed: false }), expect.objectContaining({ name: 'globals checksum', isPassed: true })]);
    // Announced in the channel itself (not only in the run's thread), where people are notified.
    const alert = harness.slack.messages.find((m) => !m.threadTs && m.text.startsWith(':rotating_light:') && m.text.includes(result.backupId));
    expect(alert?.text).toContain('<!here>');
    expect(alert?.text).toMatch(/checksum: the stored dump reads back as sha256/);
    expect(harness.slack.allText()).toMatch(new RegExp(`backup shop: FAILED[^]*${result.backupId}`));

    const catalog = await listCatalog(createLocalStorage(harness.storageDir), seriesOf('shop', 'shop'));
    const entry = catalog.manifests.find((m) => m.backupId === result.backupId)!;
    expect(entry.status).toBe('failed');
    expect(entry.verification?.failureType).toBe('BackupChecksumMismatch');
    const plan = await activities.planBackupRetention({ database: 'shop', series: seriesOf('shop', 'shop') });
    expect(plan.verifiedKept).toBe(catalog.manifests.filter((m) => m.status === 'verified').length);
    expect(plan.keep.find((d) => d.backupId === result.backupId)?.status).toBe('failed');
  });

  it('fails loudly when the dump cannot be made, and stores nothing', async () => {
    const workflowId = harness.kit.uniqueId('backup-ghost');
    const failure = await harness.kit.withWorker(harness.activities(), (taskQueue) =>
      harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId, args: [{ database: 'ghost', trigger }] }).catch((err: unknown) => err));

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failureType(failure)).toBe('DatabaseUnreachable');
    expect(rootMessage(failure)).toMatch(/database "no_such_database" does not exist/);
    const alert = harness.slack.messages.find((m) => !m.threadTs && m.text.includes('Backup of *ghost* FAILED'));
    expect(alert?.text).toMatch(/^:rotating_light: <!here> .*No new backup was made\.$/);
    expect(fs.existsSync(path.join(harness.storageDir, 'shop', 'ghost'))).toBe(false);
    await harness.expectNoSecretLeaked([workflowId]);
  });

  it('refuses to overwrite an existing database without confirmation', async () => {
    const existing = new URL(sourceUrl).pathname.slice(1);
    const refusal = await harness.kit.withWorker(harness.activities(), (taskQueue) => harness.kit.client.workflow.execute(restoreDatabase, {
      taskQueue, workflowId: harness.kit.uniqueId('restore'), args: [{ database: 'shop', backupId: verifiedBackupId, targetDatabase: existing, trigger }],
    }).catch((err: unknown) => err));
    expect(refusal).toBeInstanceOf(WorkflowFailedError);
    expect(failureType(refusal)).toBe('InvalidInput');
    expect(rootMessage(refusal)).toMatch(/exists; overwriting it needs isOverwriteConfirmed/);
    expect((await describeDatabase(sourceUrl)).rowCounts.pgbench_accounts).toBe(100_000);
  });

  it('overwrites the live database only after approval, with a safety backup of what it replaces', async () => {
    const restoreId = harness.kit.uniqueId('restore-live');
    const live = new URL(sourceUrl).pathname.slice(1);
    await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [backupRequest] });
      const before = await describeDatabase(sourceUrl);
      // Damage after the backup: the restore must bring the backed-up state back.
      await withClient(sourceUrl, async (c) => {
        await c.query('delete from invoices where number % 2 = 0');
        await c.query('create table scratch_notes (note text)');
      });
      const request: RestoreRequest = { database: 'shop', backupId: backup.backupId, targetDatabase: live, isOverwriteConfirmed: true, trigger };
      const handle = await harness.kit.client.workflow.start(restoreDatabase, { taskQueue, workflowId: restoreId, args: [request] });
      await waitFor(async () => ((await handle.query('status') as { state: string }).state === 'waiting-for-approval' ? true : undefined), 'the approval request');
      const refused = await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'mallory' }] }).catch((err: unknown) => err);
      expect(rootMessage(refused)).toMatch(/mallory may not approve restores of shop/);
      await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'alice' }] });
      const restored = await handle.result();

      expect(restored).toMatchObject({ targetDatabase: live, isVerified: true });
      expect(await describeDatabase(sourceUrl)).toEqual(before);
      const catalog = await listCatalog(createLocalStorage(harness.storageDir), seriesOf('shop', 'shop'));
      const safety = catalog.manifests.find((m) => m.backupId === restored.safetyBackupId)!;
      expect(safety.status).toBe('verified');
      expect(safety.source.tables).toContain('public.scratch_notes');
      expect(safety.source.rowCounts['public.invoices']).toBe(1500);
    });
    expect(harness.slack.allText()).toContain('needs approval from alice');
    await harness.expectNoSecretLeaked([restoreId, `${restoreId}/safety-backup`]);
  });

  it('prunes by age and count in real storage, keeping K verified backups and the in-progress grace', async () => {
    const storage = createLocalStorage(harness.storageDir);
    const series = seriesOf('shop', 'ledger');
    const existing = [
      ...[31, 32, 33, 34].map((days, i) => olderBackup(`ledger-verified-${i + 1}`, days, 'verified')),
      olderBackup('ledger-failed-1', 1, 'failed'),
      olderBackup('ledger-unverified-1', 40, 'unverified'),
    ];
    for (const manifest of existing) {
      await storage.write(manifest.dumpKey, Readable.from([Buffer.from('not really a dump')]));
      await writeManifest(storage, manifest);
    }
    const result = await harness.kit.withWorker(harness.activities(), (taskQueue) =>
      harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup-ledger'), args: [{ database: 'ledger', trigger }] }));

    expect(result.isVerified).toBe(true);
    expect(result.prunedBackupIds).toEqual(['ledger-verified-3', 'ledger-verified-4', 'ledger-unverified-1']);
    const remaining = (await listCatalog(storage, series)).manifests.map((m) => m.backupId);
    expect(remaining).toEqual([result.backupId, 'ledger-failed-1', 'ledger-verified-1', 'ledger-verified-2']);
    const files = fs.readdirSync(path.join(harness.storageDir, series));
    expect(files.filter((f) => f.includes('verified-3') || f.includes('unverified-1'))).toEqual([]);
    expect(harness.slack.allText()).toMatch(/Retention \(keep 30d \/ at most 4, never fewer than 3 verified\): keeping 4 \(3 verified\), deleting 3/);
    expect(harness.slack.allText()).toContain('delete ledger-unverified-1 (unverified): older than 30d');
  });
});

function olderBackup(backupId: string, ageDays: number, status: BackupManifest['status']): BackupManifest {
  const series = seriesOf('shop', 'ledger');
  return {
    formatVersion: 1, backupId, app: 'shop', database: 'ledger', pgDatabase: 'ledger', series,
    dumpKey: dumpKey(series, backupId, 'unknown'), location: 'n/a',
    createdAt: new Date(Date.now() - ageDays * 86_400_000).toISOString(), releaseVersion: 'unknown',
    trigger: { source: 'schedule', actor: 'schedule' }, compressionLevel: 6, sizeBytes: 17, sha256: '0'.repeat(64),
    dumpDurationMs: 1, throughputBytesPerSecond: 17, status, source: { tables: [], indexes: [], sequences: [], rowCounts: {} },
  };
}
