// `npm start`'s sandbox: a second start resumes with the state the first one left, a stop leaves no
// process behind, and a taken port is refused before anything starts.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { requestBackup } from '../../lib/databaseOperations.js';
import { isProcessRunning } from '../../sim/testing.js';
import { DEMO_DATABASE_NAME } from '../../scripts/sandbox/demoDatabase.js';
import { anyFreePorts, assertPortsFree } from '../../scripts/sandbox/ports.js';
import { SANDBOX_TASK_QUEUE, startSandbox, type Sandbox } from '../../scripts/sandbox/sandbox.js';
import { DEMO_DATABASE } from '../../scripts/sandbox/sandboxConfig.js';

const START_TIMEOUT_MS = 300_000;

async function withTemporal<T>(sandbox: Sandbox, fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: sandbox.temporal.address });
  try {
    return await fn(new Client({ connection, namespace: sandbox.temporal.namespace }));
  } finally {
    await connection.close();
  }
}

async function demoRowCount(sandbox: Sandbox): Promise<number> {
  const password = fs.readFileSync(`${sandbox.paths.postgres}.password`, 'utf8').trim();
  const port = fs.readFileSync(path.join(sandbox.paths.postgres, 'postmaster.pid'), 'utf8').split('\n')[3];
  const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DEMO_DATABASE_NAME}` });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>('select count(*) as count from orders');
    return Number(rows[0]!.count);
  } finally {
    await client.end();
  }
}

describe('the sandbox', () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-sandbox-test-'));
  afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  it('resumes on a second start with the runs, the demo app, the database and the Slack messages of the first', async () => {
    const first = await startSandbox({ stateDir, ports: await anyFreePorts() });
    let workflowId: string;
    let firstPids: number[];
    try {
      workflowId = await withTemporal(first, async (client) => {
        const id = await requestBackup(client, SANDBOX_TASK_QUEUE, { database: DEMO_DATABASE, trigger: { source: 'cli', actor: 'test' } });
        await client.workflow.getHandle(id).result();
        return id;
      });
      expect(first.slack.messages.length).toBeGreaterThan(0);
      firstPids = first.processIds();
    } finally {
      await first.stop();
    }
    expect(firstPids.filter((pid) => isProcessRunning(pid))).toEqual([]);

    const second = await startSandbox({ stateDir, ports: await anyFreePorts() });
    try {
      const description = await withTemporal(second, (client) => client.workflow.getHandle(workflowId).describe());
      expect(description.status.name).toBe('COMPLETED');
      expect(second.appUrl).toBe(first.appUrl);
      expect(await (await fetch(`${second.appUrl}/`)).text()).toContain('flightdeck-demo v1');
      expect(await demoRowCount(second)).toBe(500);
      expect(second.slack.messages.map((m) => m.ts)).toEqual(first.slack.messages.map((m) => m.ts));
      expect(second.secrets).toEqual(first.secrets);
    } finally {
      await second.stop();
    }
  }, START_TIMEOUT_MS);

  it('refuses to start when one of its ports is taken, naming the port and what it is for', async () => {
    const ports = await anyFreePorts();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(ports.api, '127.0.0.1', resolve));
    try {
      await expect(assertPortsFree(ports)).rejects.toThrow(`port ${ports.api} (the Flightdeck API) is already in use`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    await expect(assertPortsFree(ports)).resolves.toBeUndefined();
  });
});
