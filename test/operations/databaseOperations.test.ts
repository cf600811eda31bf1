// Backup, restore and migration requests as the API, the CLI and Slack make them: real Temporal,
// real PostgreSQL, real pg_dump/pg_restore, local backup storage.
import { describe, beforeAll, expect, it } from 'vitest';
import { listBackups } from '../../activities/backup/backupList.js';
import { requestBackup, requestMigration, requestRestore, resolveDatabase } from '../../lib/databaseOperations.js';
import type { AppsConfig } from '../../lib/config.js';
import type { BackupResult, RestoreResult } from '../../lib/messages.js';
import { listRuns } from '../../lib/runHistory.js';
import { useBackupTestEnvironment, waitFor } from '../backups/helpers/backupTestEnvironment.js';
import { createSampleDatabase } from '../backups/helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment();
const SECRET = 'OPS_DATABASE_URL';
let config: AppsConfig;

beforeAll(async () => {
  harness.setSecret(SECRET, await createSampleDatabase(harness.serverUrl, 'ops'));
  config = harness.setConfig({
    apps: { shop: { repository: '.', environments: { production: { flyApp: 'shop-prod' } } } },
    databases: { 'ops-orders': { app: 'shop', secret: SECRET }, archive: { app: 'shop', secret: SECRET } },
  });
});

describe('database operations', () => {
  it('backs up on request, lists the verified backup, and restores it once however often the restore is asked', async () => {
    const { client } = harness.kit;
    const trigger = { source: 'cli' as const, actor: 'dana', deliveryId: harness.kit.uniqueId('cli') };
    const { backup, restoreIds, restored } = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backupId = await requestBackup(client, taskQueue, { database: 'ops-orders', trigger });
      expect(backupId).toBe(`backup/ops-orders/on-demand/${trigger.deliveryId}`);
      const backup = await client.workflow.getHandle(backupId).result() as BackupResult;
      const restoreRequest = { database: 'ops-orders', backupId: backup.backupId, trigger };
      const restoreIds = [await requestRestore(client, taskQueue, restoreRequest), await requestRestore(client, taskQueue, restoreRequest)];
      const restored = await client.workflow.getHandle(restoreIds[0]!).result() as RestoreResult;
      return { backup, restoreIds, restored };
    });

    expect(backup.isVerified).toBe(true);
    expect(restoreIds[1]).toBe(restoreIds[0]);
    expect(restoreIds[0]).toMatch(new RegExp(`^restore/ops-orders/${backup.backupId}-`));
    expect(restored.isVerified).toBe(true);

    const [newest] = await listBackups(config, 'ops-orders');
    expect(newest).toMatchObject({ backupId: backup.backupId, database: 'ops-orders', status: 'verified', isVerified: true, sizeBytes: backup.sizeBytes, isSafetyBackup: false, trigger: { source: 'cli', actor: 'dana' } });
    expect(await listBackups(config, 'archive')).toEqual([]);

    const runs = await waitFor(async () => {
      const listed = await listRuns(client, { database: 'ops-orders' });
      return listed.length >= 2 && listed.every((r) => r.status === 'COMPLETED') ? listed : undefined;
    }, 'the backup and restore runs to be listed as completed');
    expect(runs.map((r) => [r.kind, r.workflowId])).toEqual([['restore', restoreIds[0]], ['backup', `backup/ops-orders/on-demand/${trigger.deliveryId}`]]);
  });

  it('refuses to list the backups of an unknown database, naming the configured ones', async () => {
    await expect(listBackups(config, 'ordres')).rejects.toThrow(/unknown database "ordres"; configured databases: ops-orders, archive/);
    expect(() => resolveDatabase(config, 'ordres')).toThrow(/configured databases: ops-orders, archive/);
  });

  it('starts a migration under an id derived from the request, once per delivery', async () => {
    const { client } = harness.kit;
    const trigger = { source: 'api' as const, actor: 'erin', deliveryId: harness.kit.uniqueId('idem') };
    const request = { app: 'shop', environment: 'production', action: 'status' as const, trigger };
    // No worker polls this queue: the run only has to exist.
    const taskQueue = harness.kit.uniqueId('no-worker');
    const first = await requestMigration(client, taskQueue, request);
    const repeated = await requestMigration(client, taskQueue, request);
    try {
      expect(first).toBe(`migrate/shop/production/status-${trigger.deliveryId}`);
      expect(repeated).toBe(first);
      const listed = await waitFor(async () => (await listRuns(client, { app: 'shop', kind: 'migrate' })).find((r) => r.workflowId === first), 'the migration to be listed');
      expect(listed).toMatchObject({ kind: 'migrate', app: 'shop', environment: 'production', status: 'RUNNING' });
    } finally {
      await client.workflow.getHandle(first).terminate('test over');
    }
  });
});
