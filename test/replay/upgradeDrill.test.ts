// The upgrade drill (docs/operations.md, "Upgrading Flightdeck"): runs start on the RELEASED code (the
// commit the replay fixtures come from, extracted with git archive, its own worker fixture in a child
// process), that worker is stopped while they wait for approval, a worker on today's code takes over,
// and every run finishes correctly; the deploy queue moves onto today's code by continuing as new.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAppsConfig } from '../../lib/config.js';
import { approvalUpdate, type BackupResult, type RestoreResult } from '../../lib/messages.js';
import { decideApproval, deployQueueId, requestDeploy } from '../../lib/operations.js';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';
import { deployRequest, settle, waitForStatus, waitUntil } from '../deploy/support.js';
import { FLY_TOKEN, SLACK_TOKEN, useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { createDatabase, withAdminClient } from '../helpers/postgres.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { readManifest } from './fixtures.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld();
const releasedCommit = readManifest().commit;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-drill-'));
const releasedTree = path.join(scratch, 'released');
const releasedBundle = path.join(scratch, 'released-workflows.js');
const configPath = path.join(scratch, 'flightdeck.yaml');
const SECRET = `DRILL_DATABASE_URL_${process.pid}`;
const ALICE = { isApproved: true, actor: 'U_ALICE' };
let liveUrl = '';
let oldWorker: ChildProcess | undefined;

beforeAll(async () => {
  // The released code, as it was: its workflows, activities and worker, with today's node_modules.
  fs.mkdirSync(releasedTree);
  const archive = execFileSync('git', ['archive', '--format=tar', releasedCommit], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', releasedTree], { input: archive });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(releasedTree, 'node_modules'), 'dir');
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(releasedTree, 'workflows/index.ts'), logger: new DefaultLogger('WARN') });
  fs.writeFileSync(releasedBundle, code);

  liveUrl = await createDatabase(inject('postgresUrl'), 'drill');
  await withAdminClient(liveUrl, (c) => c.query(`create table orders (id int primary key); insert into orders select generate_series(1, 50)`));
  process.env[SECRET] = liveUrl;
}, 120_000);

afterAll(() => {
  oldWorker?.kill('SIGKILL');
  delete process.env[SECRET];
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Both workers read this apps file: the deploy app (approval required) and a database it owns. */
function writeConfig(app: TestApp): void {
  const environments = (world.apps[app.name] as { environments: Record<string, unknown> }).environments;
  const config = {
    apps: { ...world.apps, [app.name]: { ...world.apps[app.name] as object, environments: { ...environments, production: { flyApp: app.name, permissions: { restore: ['U_ALICE'] } } } } },
    databases: { orders: { app: app.name, secret: SECRET } },
    storage: { type: 'local', dir: path.join(scratch, 'backups') },
  };
  fs.writeFileSync(configPath, JSON.stringify(config));
}

/** The released worker (its own test/deploy/fixtures/worker.ts) in a child process; resolves once it polls. */
async function startReleasedWorker(taskQueue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(releasedTree, 'test/deploy/fixtures/worker.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace'), TEMPORAL_TASK_QUEUE: taskQueue,
      WORKFLOW_BUNDLE_PATH: releasedBundle, FLIGHTDECK_CONFIG: configPath, FLIGHTDECK_WORK_DIR: path.join(scratch, 'work-released'),
      FLYCTL_PATH: world.sim.flyctlPath, FLY_SIM_DIR: world.sim.dir, FLY_API_TOKEN: FLY_TOKEN, PG_BIN_DIR: locatePostgresBinDir(),
      SLACK_BOT_TOKEN: SLACK_TOKEN, SLACK_API_URL: world.slack.apiUrl, LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  await waitUntil('the released worker to start polling', () => {
    if (child.exitCode !== null) throw new Error(`the released worker exited with ${child.exitCode}: ${output.slice(-2000)}`);
    return output.includes('worker ready');
  });
  return child;
}

async function stopGracefully(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('upgrade drill', () => {
  it('deploys and a restore waiting for approval on the released worker finish correctly on today\'s worker', async () => {
    const app = await world.createApp({ environment: { approval: { required: true, approvers: ['U_ALICE'], timeout: '30m' } } });
    writeConfig(app);
    const [rejected, first, second] = ['v2', 'v3', 'v4'].map((version) => app.repo.commit({ behaviour: { version } }));
    const taskQueue = kit.uniqueId('drill');
    oldWorker = await startReleasedWorker(taskQueue);

    // On the released code: a rejected deploy (so the queue passes a safe point without continuing
    // as new, which replay on today's code must reproduce), a deploy waiting for approval, a third
    // one queued behind it, and a restore over the live database waiting for approval.
    const rejectedDeploy = await requestDeploy(kit.client, taskQueue, deployRequest(app, rejected!));
    await waitForStatus(kit.client, rejectedDeploy.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
    await decideApproval(kit.client, rejectedDeploy.workflowId, { isApproved: false, actor: 'U_ALICE' });
    expect((await settle(kit.client, rejectedDeploy.workflowId)).status.state).toBe('failed');
    const firstDeploy = await requestDeploy(kit.client, taskQueue, deployRequest(app, first!));
    await waitForStatus(kit.client, firstDeploy.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
    const secondDeploy = await requestDeploy(kit.client, taskQueue, deployRequest(app, second!));
    expect(secondDeploy.disposition).toBe('queued');
    const trigger = { source: 'api', actor: 'U_ALICE' } as const;
    const backup = await kit.client.workflow.execute('backupDatabase', { taskQueue, workflowId: kit.uniqueId('drill-backup'), args: [{ database: 'orders', trigger }] }) as BackupResult;
    expect(backup.isVerified).toBe(true);
    await withAdminClient(liveUrl, (c) => c.query('delete from orders where id > 10'));
    const restore = await kit.client.workflow.start('restoreDatabase', {
      taskQueue, workflowId: kit.uniqueId('drill-restore'),
      args: [{ database: 'orders', backupId: backup.backupId, targetDatabase: new URL(liveUrl).pathname.slice(1), isOverwriteConfirmed: true, trigger }],
    });
    await waitForStatus(kit.client, restore.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');

    const queue = kit.client.workflow.getHandle(deployQueueId(app.name, 'staging'));
    const releasedQueueRun = (await queue.describe()).runId;
    expect(await stopGracefully(oldWorker)).toBe(0);

    const activities = world.activities({ loadAppsConfig: () => loadAppsConfig(configPath), temporalClient: kit.client });
    const worker = await kit.createWorker(taskQueue, activities);
    await worker.runUntil(async () => {
      await decideApproval(kit.client, firstDeploy.workflowId, ALICE);
      expect((await settle(kit.client, firstDeploy.workflowId)).status.state).toBe('succeeded');
      // The queue, started on the released code, continues as new onto today's at that safe point
      // (after a deploy), carrying the held request, and starts it.
      await waitForStatus(kit.client, secondDeploy.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      const releasedQueueHistory = await kit.client.workflow.getHandle(queue.workflowId, releasedQueueRun).fetchHistory();
      expect(releasedQueueHistory.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
      expect((await queue.describe()).runId).not.toBe(releasedQueueRun);
      await decideApproval(kit.client, secondDeploy.workflowId, ALICE);
      expect((await settle(kit.client, secondDeploy.workflowId)).status.state).toBe('succeeded');

      await restore.executeUpdate(approvalUpdate, { args: [ALICE] });
      const restored = await restore.result() as RestoreResult;
      expect(restored.isVerified).toBe(true);
    });
    expect(await world.servedBody(app)).toContain('v4');
    const { rows } = await withAdminClient(liveUrl, (c) => c.query<{ count: string }>('select count(*) from orders'));
    expect(Number(rows[0]!.count)).toBe(50);
  }, 150_000);
});
