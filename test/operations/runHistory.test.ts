// Run history from Temporal's visibility store, on the real dev server. The runs are started on a
// task queue no worker polls: listing needs only their search attributes (or, for runs started before
// Flightdeck had them, their type and id) and status.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listRuns, parseRunId, WORKFLOW_TYPE_OF_KIND, type RunFilter, type RunSummary } from '../../lib/runHistory.js';
import type { RunKind } from '../../lib/messages.js';
import { runSearchAttributes, type RunAttributes } from '../../lib/runSearchAttributes.js';
import { waitFor } from '../backups/helpers/backupTestEnvironment.js';

let connection: Connection;
let client: Client;
const suffix = randomUUID().slice(0, 6);
const app = `shop${suffix}`;
const otherApp = `shop${suffix}x`;
const database = `orders${suffix}`;
const started: string[] = [];

/** Runs started before the search attributes existed (none set), oldest first: the expected newest-first order is the reverse. */
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

describe('listRuns of runs started before the search attributes (found by type and id)', () => {
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

describe('listRuns of runs started with the search attributes', () => {
  const taggedApp = `tagged${suffix}`;
  const taggedDatabase = `tagged${suffix}db`;
  // Ids that follow no scheme: these runs are found by their attributes alone.
  const tagged: Array<[string, RunAttributes]> = [
    [`t-${suffix}-1`, { kind: 'deploy', app: taggedApp, environment: 'production' }],
    [`t-${suffix}-2`, { kind: 'rollback', app: taggedApp, environment: 'production' }],
    [`t-${suffix}-3`, { kind: 'deploy', app: taggedApp, environment: 'staging' }],
    [`t-${suffix}-4`, { kind: 'deploy', app: `${taggedApp}x`, environment: 'production' }],
    [`t-${suffix}-5`, { kind: 'deploy', app: taggedApp, environment: 'production', state: 'waiting-for-approval' }],
    [`t-${suffix}-6`, { kind: 'backup', database: taggedDatabase }],
  ];
  const untaggedId = `deploy/${taggedApp}/production/abc1234-00000007`;

  beforeAll(async () => {
    for (const [workflowId, attributes] of tagged) {
      await client.workflow.start(WORKFLOW_TYPE_OF_KIND[attributes.kind], {
        workflowId, taskQueue: `no-worker-${suffix}`, args: [], typedSearchAttributes: runSearchAttributes(attributes),
      });
      started.push(workflowId);
    }
    await client.workflow.start(WORKFLOW_TYPE_OF_KIND.deploy, { workflowId: untaggedId, taskQueue: `no-worker-${suffix}`, args: [] });
    started.push(untaggedId);
    await waitFor(async () => ((await listRuns(client, { app: taggedApp, limit: 100 })).length === 5 ? true : undefined), 'the tagged runs to be visible');
  });

  it("lists an app environment's runs by their attributes, whatever their ids, with older untagged runs, newest first", async () => {
    const listed = await listRuns(client, { app: taggedApp, environment: 'production' });
    expect(idsOf(listed)).toEqual([untaggedId, `t-${suffix}-5`, `t-${suffix}-2`, `t-${suffix}-1`]);
    expect(listed[1]).toMatchObject({ kind: 'deploy', app: taggedApp, environment: 'production', state: 'waiting-for-approval', status: 'RUNNING' });
    expect(listed[0]!.state).toBeUndefined();
  });

  it('keeps the newest runs up to the limit', async () => {
    expect(idsOf(await listRuns(client, { app: taggedApp, environment: 'production', limit: 2 }))).toEqual([untaggedId, `t-${suffix}-5`]);
  });

  it('narrows to one kind, and to one database', async () => {
    expect(idsOf(await listRuns(client, { app: taggedApp, kind: 'rollback' }))).toEqual([`t-${suffix}-2`]);
    expect(await listRuns(client, { database: taggedDatabase })).toEqual([expect.objectContaining({ workflowId: `t-${suffix}-6`, kind: 'backup', database: taggedDatabase })]);
  });

  it('lists the runs in one state', async () => {
    expect(idsOf(await listRuns(client, { app: taggedApp, state: 'waiting-for-approval' }))).toEqual([`t-${suffix}-5`]);
  });

  it('lists only open runs when asked for running ones', async () => {
    await client.workflow.getHandle(`t-${suffix}-3`).terminate('closed by the test');
    const filter: RunFilter = { app: taggedApp, environment: 'staging' };
    await waitFor(async () => ((await listRuns(client, filter))[0]?.status === 'TERMINATED' ? true : undefined), 'the terminated run to be listed as closed');
    expect(await listRuns(client, { ...filter, isRunning: true })).toEqual([]);
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
