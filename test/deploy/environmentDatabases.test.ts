// A deploy migrates the database of the environment it deploys to, and no other: a staging deploy of
// any branch used to apply its migrations to the app's one database, production's.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requestDeploy } from '../../lib/operations.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { SHOP_MIGRATIONS, useMigrationScratch } from '../migrations/helpers.js';
import { deployRequest, settle } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const scratch = useMigrationScratch();

const tablesOf = async (db: { query: <R extends object>(sql: string) => Promise<R[]> }) =>
  (await db.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by 1")).map((r) => r.table_name);

describe('per-environment databases in the pipeline', () => {
  it("migrates only the staging database on a staging deploy and leaves production's untouched", async () => {
    const [stagingDb, productionDb, migrations] = await Promise.all([scratch.database(), scratch.database(), scratch.folder(SHOP_MIGRATIONS)]);
    const suffix = Math.random().toString(36).slice(2, 8).toUpperCase();
    const stagingSecret = `SHOP_STAGING_DATABASE_URL_${suffix}`;
    const productionSecret = `SHOP_DATABASE_URL_${suffix}`;
    process.env[stagingSecret] = stagingDb.url;
    process.env[productionSecret] = productionDb.url;
    const app = await world.createApp({ environment: { database: { secret: stagingSecret, migrations } } });
    const environments = (world.apps[app.name] as { environments: Record<string, unknown> }).environments;
    environments.production = { flyApp: `${app.name}-prod`, database: { secret: productionSecret, migrations } };

    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status, error } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });

    expect(error).toBeUndefined();
    expect(status.stages.find((s) => s.name === 'migrate')?.state).toBe('succeeded');
    expect(await tablesOf(stagingDb)).toEqual(expect.arrayContaining(['orders', 'users']));
    expect(await tablesOf(productionDb)).toEqual([]);
  });

  it('skips the migrate stage for an environment without a database, even when another environment has one', async () => {
    const [productionDb, migrations] = await Promise.all([scratch.database(), scratch.folder(SHOP_MIGRATIONS)]);
    const productionSecret = `SHOP_DATABASE_URL_${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
    process.env[productionSecret] = productionDb.url;
    const app = await world.createApp();
    const environments = (world.apps[app.name] as { environments: Record<string, unknown> }).environments;
    environments.production = { flyApp: `${app.name}-prod`, database: { secret: productionSecret, migrations } };

    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });

    expect(status.state).toBe('succeeded');
    expect(status.stages.find((s) => s.name === 'migrate')).toMatchObject({ state: 'skipped' });
    expect(await tablesOf(productionDb)).toEqual([]);
  });
});
