// Run history from Temporal's visibility store, on the real dev server. The runs are started on a
// task queue no worker polls: listing needs only their type, id and status.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listRuns, parseRunId, WORKFLOW_TYPE_OF_KIND, type RunFilter, type RunSummary } from '../../lib/runHistory.js';
import type { RunKind } from '../../lib/messages.js';
import { waitFor } from '../backups/helpers/backupTestEnvironment.js';

let connection: Connection;
let client: Client;
const suffix = randomUUID().slice(0, 6);
const app = `shop${suffix}`;
const otherApp = `shop${suffix}x`;
const database = `orders${suffix}`;
const started: string[] = [];

/** Started oldest first, so the expected newest-first order is the reverse. */
const runs: Array<[RunKind, string]> = [
  ['deploy', `deploy/${app}/production/abc1234-00000001`],
  ['rollback', `deploy/${app}/production/abc1234-00000001/rollback`],
  ['deploy', `deploy/${app}/staging/def5678-00000002`],
  ['deploy', `deploy/${otherApp}/production/abc1234-00000003`],
  ['rollback', `rollback/${app}/production/00000004`],
  ['migrate', `migrate/${app}/-/status-00000005`],
  ['backup', `backup/${database}-2026-11-22T02:00:00Z`],
  ['backup', `backup/${database}/on-demand/delivery-1`],
  ['restore', `restore/${database}/backup-1-00000006`],
  ['backup', `restore/${database}/backup-1-00000006/safety-backup`],
  ['backup', `backup/${database}x/on-demand/delivery-2`],
];

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  for (const [kind, workflowId] of runs) {
    await client.workflow.start(WORKFLOW_TYPE_OF_KIND[kind], { workflowId, taskQueue: `no-worker-${suffix}`, args: [] });
    started.push(workflowId);
  }
  // Visibility is eventually consistent: wait until every run can be listed.
  await waitFor(async () => ((await listRuns(client, { limit: 1000 })).filter((r) => started.includes(r.workflowId)).length === runs.length ? true : undefined), 'the runs to be visible');
});

afterAll(async () => {
  for (const workflowId of started) await client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
  await connection?.close();
});

const idsOf = (list: RunSummary[]) => list.map((r) => r.workflowId);
const expectedIds = (predicate: (kind: RunKind, id: string) => boolean) => runs.filter(([kind, id]) => predicate(kind, id)).map(([, id]) => id).reverse();

describe('listRuns', () => {
  it("lists an app's deploys, rollbacks and migrations in every environment, newest first", async () => {
    const listed = await listRuns(client, { app });
    expect(idsOf(listed)).toEqual(expectedIds((kind, id) => id.includes(`/${app}/`)));
    expect(listed[0]).toMatchObject({ kind: 'migrate', app, status: 'RUNNING' });
    expect(listed[0]!.environment).toBeUndefined();
    expect(Date.parse(listed[0]!.startedAt)).not.toBeNaN();
  });

  it('narrows to one environment and one kind, including a pipeline’s automatic rollback', async () => {
    const filter: RunFilter = { app, environment: 'production', kind: 'rollback' };
    expect(idsOf(await listRuns(client, filter))).toEqual([`rollback/${app}/production/00000004`, `deploy/${app}/production/abc1234-00000001/rollback`]);
    expect(idsOf(await listRuns(client, { app, environment: 'staging' }))).toEqual([`deploy/${app}/staging/def5678-00000002`]);
  });

  it("lists a database's scheduled, on-demand and safety backups and its restores, not a similarly named database's", async () => {
    const listed = await listRuns(client, { database });
    expect(idsOf(listed)).toEqual(expectedIds((_kind, id) => id.includes(`/${database}/`) || id.includes(`/${database}-`)));
    expect(listed.every((run) => run.database === database)).toBe(true);
    expect(idsOf(await listRuns(client, { database, kind: 'restore' }))).toEqual([`restore/${database}/backup-1-00000006`]);
  });

  it('keeps the newest runs up to the limit', async () => {
    expect(idsOf(await listRuns(client, { app, limit: 2 }))).toEqual(expectedIds((kind, id) => id.includes(`/${app}/`)).slice(0, 2));
  });

  it('reports closed runs with their final status and close time', async () => {
    const workflowId = `deploy/${app}/closed/aaa0000-00000009`;
    await client.workflow.start(WORKFLOW_TYPE_OF_KIND.deploy, { workflowId, taskQueue: `no-worker-${suffix}`, args: [] });
    started.push(workflowId);
    await client.workflow.getHandle(workflowId).terminate('superseded by hand');
    const closed = await waitFor(async () => (await listRuns(client, { app, environment: 'closed' })).find((r) => r.status !== 'RUNNING'), 'the terminated run to be listed as closed');
    expect(closed).toMatchObject({ workflowId, status: 'TERMINATED', environment: 'closed' });
    expect(Date.parse(closed.closedAt!)).toBeGreaterThanOrEqual(Date.parse(closed.startedAt));
  });

  it('refuses a limit that is not a positive whole number', async () => {
    await expect(listRuns(client, { limit: 0 })).rejects.toThrow(/limit must be a positive whole number/);
  });
});

describe('parseRunId', () => {
  it('reads the app and environment, or the database, from the ids every starter uses', () => {
    expect(parseRunId('deploy/shop/production/abc-1', 'deploy')).toEqual({ app: 'shop', environment: 'production' });
    expect(parseRunId('migrate/shop/-/apply-1', 'migrate')).toEqual({ app: 'shop', environment: undefined });
    expect(parseRunId('backup/orders-eu-2026-11-22T02:00:00Z', 'backup')).toEqual({ database: 'orders-eu' });
    expect(parseRunId('backup/orders-eu/on-demand/x', 'backup')).toEqual({ database: 'orders-eu' });
    expect(parseRunId('restore/orders/b-1/safety-backup', 'backup')).toEqual({ database: 'orders' });
  });
});
