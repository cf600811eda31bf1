// Where a backup may be restored on a shared cluster (issue 16.2): its own database, a new one, or
// an allowlisted one with confirmation and the target's own approvers; never a system database.
import { WorkflowFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { failureType, rootMessage } from '../../lib/errors.js';
import { listCatalog, seriesOf } from '../../activities/backup/catalog.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import { approvalUpdate, type RestoreRequest, type RestoreResult } from '../../lib/messages.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { restoreDatabase } from '../../workflows/restoreDatabase.js';
import { createDatabase, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment();
const trigger = { source: 'api', actor: 'alice' } as const;
const names: Record<string, string> = {};
let backupId = '';

async function tablesIn(name: string): Promise<string[]> {
  const url = new URL(harness.serverUrl);
  url.pathname = `/${name}`;
  return withAdminClient(url.toString(), async (c) => (await c.query<{ t: string }>(`select tablename as t from pg_tables where schemaname = 'public' order by 1`)).rows.map((r) => r.t));
}

beforeAll(async () => {
  for (const [db, table] of [['shop', 'orders'], ['billing', 'invoices'], ['reports', 'figures']] as const) {
    const url = await createDatabase(harness.serverUrl, db);
    await withAdminClient(url, (c) => c.query(`create table ${table} (id int); insert into ${table} values (1)`));
    names[db] = new URL(url).pathname.slice(1);
    harness.setSecret(`${db.toUpperCase()}_DATABASE_URL`, url);
  }
  const app = (restorer: string) => ({ repository: '.', environments: { production: { flyApp: 'shop-prod', permissions: { restore: [restorer] } } } });
  harness.setConfig({
    apps: { shop: app('alice'), billing: app('bob'), reports: app('carol') },
    databases: {
      shop: { app: 'shop', secret: 'SHOP_DATABASE_URL', restoreTargets: [names.billing] },
      billing: { app: 'billing', secret: 'BILLING_DATABASE_URL' },
      reports: { app: 'reports', secret: 'REPORTS_DATABASE_URL' },
    },
  });
  await harness.sim.createApp('shop-prod', { machines: 1 });
  backupId = (await harness.kit.withWorker(harness.activities(), (taskQueue) =>
    harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'shop', trigger }] }))).backupId;
});

async function restore(request: Omit<RestoreRequest, 'database' | 'backupId' | 'trigger'>, approve?: (handle: Awaited<ReturnType<typeof harness.kit.client.workflow.start<typeof restoreDatabase>>>) => Promise<void>) {
  return harness.kit.withWorker(harness.activities(), async (taskQueue) => {
    const handle = await harness.kit.client.workflow.start(restoreDatabase, {
      taskQueue, workflowId: harness.kit.uniqueId('restore'), args: [{ database: 'shop', backupId, trigger, isOverwriteConfirmed: true, ...request }],
    });
    await approve?.(handle);
    return handle.result().catch((err: unknown) => err);
  });
}

describe('restore targets', () => {
  it('refuses a system database as the target', async () => {
    const refusal = await restore({ targetDatabase: 'template1' });

    expect(refusal).toBeInstanceOf(WorkflowFailedError);
    expect(failureType(refusal)).toBe('InvalidInput');
    expect(rootMessage(refusal)).toMatch(/template1 is a system database/);
  });

  it('refuses another app\'s live database that the backup\'s config does not allowlist, and changes nothing', async () => {
    const refusal = await restore({ targetDatabase: names.reports!, isCrossDatabaseConfirmed: true });

    expect(failureType(refusal)).toBe('InvalidInput');
    expect(rootMessage(refusal)).toMatch(new RegExp(`${names.reports} is neither the backup's own database \\(${names.shop}\\), nor a new database, nor one of databases.shop.restoreTargets`));
    expect(await tablesIn(names.reports!)).toEqual(['figures']);
  });

  it('refuses an allowlisted database unless the restore confirms it is another database\'s dump', async () => {
    const refusal = await restore({ targetDatabase: names.billing! });

    expect(failureType(refusal)).toBe('InvalidInput');
    expect(rootMessage(refusal)).toMatch(/needs isCrossDatabaseConfirmed/);
    expect(await tablesIn(names.billing!)).toEqual(['invoices']);
  });

  it('overwrites an allowlisted database once confirmed, with the approval of the target\'s restorers, not the source\'s', async () => {
    const restored = await restore({ targetDatabase: names.billing!, isCrossDatabaseConfirmed: true }, async (handle) => {
      await waitFor(async () => ((await handle.query('status') as { state: string }).state === 'waiting-for-approval' ? true : undefined), 'the approval request', 60_000);
      const refused = await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'alice' }] }).catch((err: unknown) => err);
      expect(rootMessage(refused)).toMatch(/alice may not approve/);
      await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'bob' }] });
    });

    expect(restored).toMatchObject({ targetDatabase: names.billing, isVerified: true });
    expect(await tablesIn(names.billing!)).toEqual(['orders']);
    // The safety backup is of what was overwritten, in the target's own catalog.
    const safety = (await listCatalog(createLocalStorage(harness.storageDir), seriesOf('billing', 'billing'))).manifests.find((m) => m.backupId === (restored as RestoreResult).safetyBackupId);
    expect(safety?.source.tables).toEqual(['public.invoices']);
    expect(harness.slack.allText()).toContain(`Overwriting the live database ${names.billing} with ${backupId} needs approval from bob`);
  });
});
