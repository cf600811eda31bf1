// Migration safety in the pipeline: pending migrations are linted before anything changes, and the
// environment's policy warns, asks for approval with the findings in the message, or blocks.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { decideApproval, decideOnFailure, requestDeploy } from '../../lib/operations.js';
import { readLedger } from '../../lib/releaseLedgerClient.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { useMigrationScratch } from '../migrations/helpers.js';
import { deployRequest, machineImages, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const scratch = useMigrationScratch();

const BASE_MIGRATIONS = {
  '0001_create_orders.up.sql': 'create table orders (id bigint primary key, total numeric, note text);\n',
  '0002_create_sessions.up.sql': 'create table legacy_sessions (id bigint primary key);\n',
};

type Db = Awaited<ReturnType<typeof scratch.database>>;

/**
 * An app whose only environment is `environmentName`, with a database already at BASE_MIGRATIONS and
 * `pending` waiting in its migrations folder.
 */
async function appWithPendingMigrations(pending: Record<string, string>, environmentName: string, environment: Record<string, unknown> = {}): Promise<{ app: TestApp; db: Db; secret: string }> {
  const [db, migrations] = await Promise.all([scratch.database(), scratch.folder({ ...BASE_MIGRATIONS, ...pending })]);
  await db.query(`create table orders (id bigint primary key, total numeric, note text); create table legacy_sessions (id bigint primary key);
    create table schema_migrations (version bigint primary key, dirty boolean not null); insert into schema_migrations values (2, false)`);
  const secret = `SHOP_DATABASE_URL_${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
  process.env[secret] = db.url;
  const app = await world.createApp({ environment: { database: { secret, migrations }, ...environment } });
  const environments = (world.apps[app.name] as { environments: Record<string, unknown> }).environments;
  if (environmentName !== 'staging') {
    environments[environmentName] = environments.staging;
    delete environments.staging;
  }
  return { app, db, secret };
}

/** Smoke reads `/`, which this commit answers with 500; Fly's checks and our health probe (/health) pass. */
const BROKEN_HOME = { version: 'v2', routes: { '/': { status: 500, body: 'broken\n' } } };

type Block = { type: string; elements?: Array<{ type: string; action_id?: string }> };
const buttonActions = (blocks: unknown[] | undefined) => ((blocks ?? []) as Block[]).filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => e.action_id ?? ''));

const hasTable = async (db: Db, table: string) => (await db.query('select 1 from information_schema.tables where table_name = $1', [table])).length === 1;

// Each test its own app, database and secret: side by side, up to the config's maxConcurrency.
describe.concurrent('migration safety in the pipeline', { timeout: 120_000 }, () => {
  it('waits for approval in production on a lock-risk migration, with the statement, why and how to avoid it in the message', async () => {
    const { app, db } = await appWithPendingMigrations({ '0003_index_totals.up.sql': 'create index orders_total_idx on orders (total);\n' }, 'production', {
      approval: { approvers: ['U_DBA'] },
    });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, { ...deployRequest(app, sha), environment: 'production' });
      const waiting = await waitForStatus(kit.client, workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      expect(waiting.facts['migration safety']).toBe('1 lock risk');
      const message = await waitUntil('the approval message with the findings', () =>
        world.slack.messages.find((m) => !m.threadTs && m.text.includes(app.name) && m.text.includes('waiting for approval') && m.text.includes('lock risk')));
      expect(message.text).toContain('0003_index_totals.up.sql:1 [lock risk, require-concurrent-index-creation] create index orders_total_idx on orders (total);');
      expect(message.text).toContain('Use CREATE INDEX CONCURRENTLY');
      expect(message.text).toContain('Approve to apply these migrations as they are, or reject and split the change');
      expect(await db.query("select 1 from pg_indexes where indexname = 'orders_total_idx'")).toHaveLength(0);

      await decideApproval(kit.client, workflowId, { isApproved: true, actor: 'U_DBA' });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('succeeded');
      expect(status.facts['approved by']).toBe('U_DBA');
    });
    expect(await db.query("select 1 from pg_indexes where indexname = 'orders_total_idx'")).toHaveLength(1);
  });

  it('stops before anything changes when the policy blocks a rollback-incompatible migration, saying which statement, why and how to split it', async () => {
    const { app, db } = await appWithPendingMigrations({
      '0003_drop_sessions.up.sql': 'alter table orders add column paid_at timestamptz;\ndrop table legacy_sessions;\n',
    }, 'staging', { migrationSafety: { rollbackIncompatible: 'block' } });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status, error } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });

    expect(error).toBeDefined();
    expect(status.state).toBe('failed');
    expect(status.outcome).toContain('Migration safety blocks rollback-incompatible migrations in staging: 0003_drop_sessions.up.sql:2 drop table legacy_sessions;');
    expect(status.outcome).toContain('expand');
    expect(status.outcome).toContain('Nothing was deployed.');
    expect(status.stages.find((s) => s.name === 'migrate')?.state).toBe('pending');
    expect(await hasTable(db, 'legacy_sessions')).toBe(true);
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
  });

  it('warns in staging by default: the findings go to the thread and the deploy goes on', async () => {
    const { app, db } = await appWithPendingMigrations({ '0003_rename_note.up.sql': 'alter table orders rename column note to remark;\n' }, 'staging');
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });

    expect(status.state).toBe('succeeded');
    expect(status.facts['migration safety']).toBe('1 rollback-incompatible');
    expect(status.stages.find((s) => s.name === 'approval')?.state).toBe('skipped');
    const thread = world.slack.messages.find((m) => m.threadTs && m.text.includes('0003_rename_note.up.sql:1 [rollback-incompatible, renaming-column]'));
    expect(thread?.text).toContain('Add the new column and write both');
    expect((await db.query("select 1 from information_schema.columns where table_name = 'orders' and column_name = 'remark'"))).toHaveLength(1);
  });

  it('pauses instead of rolling back when smoke fails after a rollback-incompatible migration, says why in Slack, and rolls back only when told to', async () => {
    const { app } = await appWithPendingMigrations({ '0003_rename_note.up.sql': 'alter table orders rename column note to remark;\n' }, 'staging');
    const sha = app.repo.commit({ behaviour: BROKEN_HOME });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      const waiting = await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision');
      expect(waiting.outcome).toMatch(/^smoke failed: .*This deploy applied a rollback-incompatible migration \(3_rename_note: alter table orders rename column note to remark;\): the previous image may not work with the schema as it is now, so Flightdeck does not roll back by itself\./);
      expect(waiting.outcome).toContain('no backup was taken before the migrations');
      expect(waiting.stages.find((s) => s.name === 'rollback')).toBeUndefined();
      const question = await waitUntil('the Slack question with its buttons', () =>
        world.slack.messages.find((m) => !m.threadTs && m.text.includes(app.name) && m.text.includes('does not roll back by itself') && buttonActions(m.blocks).length > 0));
      expect(buttonActions(question.blocks)).toEqual(['flightdeck_rollback', 'flightdeck_keep']);
      await expect(decideOnFailure(kit.client, workflowId, { decision: 'restore', actor: 'U_ALICE' })).rejects.toThrow(/not one of this deploy's choices: rollback, keep/);

      await decideOnFailure(kit.client, workflowId, { decision: 'rollback', actor: 'U_ALICE' });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('rolled-back');
      expect(status.facts['rollback decided by']).toBe('U_ALICE');
      expect(status.outcome).toContain('The database schema was not rolled back.');
    });
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('records the applied migrations, their findings and the verified backup taken before them with the release, and offers to restore it', async () => {
    const { app, secret } = await appWithPendingMigrations({ '0003_drop_sessions.up.sql': 'drop table legacy_sessions;\n' }, 'staging');
    const backupDir = await scratch.folder({});
    const loadAppsConfig = () => parseAppsConfig({ apps: world.apps, databases: { 'shop-db': { secret } }, storage: { type: 'local', dir: backupDir } });
    const sha = app.repo.commit({ behaviour: BROKEN_HOME });
    await kit.withWorker(world.activities({ loadAppsConfig }), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      const waiting = await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision');
      const entry = (await readLedger(kit.client, { app: app.name, environment: 'staging' })).find((e) => e.id === workflowId);
      expect(entry?.migrations).toMatchObject({
        appliedVersions: [3],
        findings: [{ migration: '3_drop_sessions', rule: 'ban-drop-table', category: 'rollbackIncompatible', statement: 'drop table legacy_sessions;' }],
        preMigrationBackupId: expect.any(String),
        backupDatabase: 'shop-db',
      });
      expect(waiting.outcome).toContain(`or restore the pre-migration backup ${entry!.migrations!.preMigrationBackupId} (and roll back the image)`);
      expect(waiting.decisionOptions).toEqual(['rollback', 'keep', 'restore']);

      await decideOnFailure(kit.client, workflowId, { decision: 'keep', actor: 'U_ALICE' });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('failed');
      expect(status.facts['kept by']).toBe('U_ALICE');
    });
  });

  it('rolls back and starts the restore of the pre-migration backup over the migrated database when told to, which its restorers approve', async () => {
    const { app, db, secret } = await appWithPendingMigrations({ '0003_drop_sessions.up.sql': 'drop table legacy_sessions;\n' }, 'staging', {
      permissions: { restore: ['U_DBA'] },
    });
    const backupDir = await scratch.folder({});
    // The database's app names who may approve overwriting it: its environments' restorers.
    const loadAppsConfig = () => parseAppsConfig({ apps: world.apps, databases: { 'shop-db': { app: app.name, secret } }, storage: { type: 'local', dir: backupDir } });
    const dbName = new URL(db.url).pathname.slice(1);
    const sha = app.repo.commit({ behaviour: BROKEN_HOME });
    await kit.withWorker(world.activities({ loadAppsConfig }), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision', 90_000);
      const question = await waitUntil('the Slack question with the restore button', () =>
        world.slack.messages.find((m) => !m.threadTs && m.text.includes(app.name) && buttonActions(m.blocks).includes('flightdeck_restore_backup')));
      expect(buttonActions(question.blocks)).toEqual(['flightdeck_rollback', 'flightdeck_keep', 'flightdeck_restore_backup']);
      expect(await hasTable(db, 'legacy_sessions')).toBe(false);

      await decideOnFailure(kit.client, workflowId, { decision: 'restore', actor: 'U_ALICE' });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('rolled-back');
      expect(status.facts.restore).toBe(`${workflowId}/restore`);
      expect(status.outcome).toMatch(/Restoring the pre-migration backup \S+ over \w+: run \S+\/restore, which asks the database's restorers to approve\./);

      // The restore is the restoreDatabase workflow's own: over the live database only with its restorers' approval.
      const restoreId = `${workflowId}/restore`;
      const restore = await waitForStatus(kit.client, restoreId, 'the restore waiting for approval', (s) => s.state === 'waiting-for-approval', 90_000);
      const entry = (await readLedger(kit.client, { app: app.name, environment: 'staging' })).find((e) => e.id === workflowId);
      expect(restore.outcome).toBe(`Overwriting the live database ${dbName} with ${entry?.migrations?.preMigrationBackupId} needs approval from U_DBA.`);
      await decideApproval(kit.client, restoreId, { isApproved: false, actor: 'U_DBA', comment: 'end of test' });
      await settle(kit.client, restoreId);
    });
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });
});
