// Recording run (see deploys.record.ts): a backup, restores and a migration against the run's real
// PostgreSQL, each history saved as a replay fixture.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery, type BackupResult } from '../../../lib/messages.js';
import { useBackupTestEnvironment, waitFor } from '../../../test/backups/helpers/backupTestEnvironment.js';
import { withClient } from '../../../test/backups/helpers/sampleDatabase.js';
import { createDatabase } from '../../../test/helpers/postgres.js';
import { useWorkflowTestKit } from '../../../test/helpers/temporal.js';
import { SHOP_MIGRATIONS } from '../../../test/migrations/helpers.js';
import { saveHistory, saveInFlight } from './save.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const kit = useWorkflowTestKit(fileURLToPath(new URL('../../../workflows/index.ts', import.meta.url)));
const SECRET = 'SHOP_DATABASE_URL';
const trigger = { source: 'api', actor: 'alice' } as const;
let liveUrl = '';
let workspace = '';
let backup: BackupResult | undefined;

beforeAll(async () => {
  liveUrl = await createDatabase(harness.serverUrl, 'shop');
  await withClient(liveUrl, async (c) => {
    await c.query('create table signups (id serial primary key, email text not null)');
    await c.query(`insert into signups (email) select 'user' || n || '@example.com' from generate_series(1, 100) n`);
  });
  await harness.sim.createApp('shop-prod', { machines: 1 });
  harness.setSecret(SECRET, liveUrl);
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-record-migrations-'));
  fs.mkdirSync(path.join(workspace, 'db/migrations'), { recursive: true });
  for (const [name, sql] of Object.entries(SHOP_MIGRATIONS)) fs.writeFileSync(path.join(workspace, 'db/migrations', name), sql);
  harness.setConfig({
    apps: {
      shop: {
        repository: workspace,
        database: { secret: SECRET, migrations: 'db/migrations' },
        environments: { production: { flyApp: 'shop-prod', permissions: { restore: ['alice'] } } },
      },
    },
    databases: { shop: { app: 'shop', secret: SECRET } },
  });
});

afterAll(() => { if (workspace) fs.rmSync(workspace, { recursive: true, force: true }); });

function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return kit.withWorker(harness.activities(), fn);
}

describe('recording databases', () => {
  it('backupDatabase/verified, restoreDatabase/new-database', async () => {
    await withWorker(async (taskQueue) => {
      const backupId = kit.uniqueId('backup');
      backup = await kit.client.workflow.execute('backupDatabase', { taskQueue, workflowId: backupId, args: [{ database: 'shop', trigger }] }) as BackupResult;
      expect(backup.isVerified).toBe(true);
      await saveHistory(kit.client, { workflowId: backupId, workflowType: 'backupDatabase', scenario: 'verified' });

      const restoreId = kit.uniqueId('restore');
      await kit.client.workflow.execute('restoreDatabase', { taskQueue, workflowId: restoreId, args: [{ database: 'shop', backupId: backup.backupId, trigger }] });
      await saveHistory(kit.client, { workflowId: restoreId, workflowType: 'restoreDatabase', scenario: 'new-database' });
    });
  });

  it('restoreDatabase/waiting-for-approval (in flight)', async () => {
    await withWorker(async (taskQueue) => {
      const restoreId = kit.uniqueId('restore-live');
      const handle = await kit.client.workflow.start('restoreDatabase', {
        taskQueue, workflowId: restoreId,
        args: [{ database: 'shop', backupId: backup!.backupId, targetDatabase: new URL(liveUrl).pathname.slice(1), isOverwriteConfirmed: true, trigger }],
      });
      await waitFor(async () => ((await handle.query(statusQuery)).state === 'waiting-for-approval' ? true : undefined), 'the approval request');
      await saveInFlight(kit.client, { workflowId: restoreId, workflowType: 'restoreDatabase', scenario: 'waiting-for-approval' });
    });
  });

  it('migrateDatabase/apply-with-backup', async () => {
    await withWorker(async (taskQueue) => {
      const migrateId = kit.uniqueId('migrate');
      await kit.client.workflow.execute('migrateDatabase', {
        taskQueue, workflowId: migrateId, args: [{ app: 'shop', environment: 'production', action: 'apply', workspace, backupFirst: true, trigger }],
      });
      await saveHistory(kit.client, { workflowId: migrateId, workflowType: 'migrateDatabase', scenario: 'apply-with-backup' });
    });
  });
});
