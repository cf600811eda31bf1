import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useWorkflowTestKit } from './helpers/temporal.js';
import { useTestDatabase } from './helpers/postgres.js';
import { harnessWorkflow, type HarnessActivities } from './fixtures/harnessWorkflows.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('./fixtures/harnessWorkflows.ts', import.meta.url)));
const db = useTestDatabase();

describe('test harness', () => {
  it('runs a workflow whose activity executes in this process, on the real dev server', async () => {
    const activities: HarnessActivities = {
      describeProcess: async (label) => ({ label: label.toUpperCase(), pid: process.pid }),
    };
    const result = await kit.withWorker(activities, (taskQueue) =>
      kit.client.workflow.execute(harnessWorkflow, { taskQueue, workflowId: kit.uniqueId('harness'), args: ['hello'] }));
    expect(result).toEqual({ label: 'HELLO', pid: process.pid });
  });

  it('talks to a real PostgreSQL with its own fresh database', async () => {
    const { rows } = await db.query<{ version: string; db: string }>('select version() as version, current_database() as db');
    expect(rows[0]!.version).toMatch(/^PostgreSQL \d+/);
    expect(rows[0]!.db).toBe(db.name);
    await db.query('create table t (id int)');
    await db.query('insert into t values (1), (2)');
    const { rows: count } = await db.query<{ n: string }>('select count(*) as n from t');
    expect(count[0]!.n).toBe('2');
  });
});
