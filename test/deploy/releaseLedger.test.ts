import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';
import type { RunStatus } from '../../lib/messages.js';
import { requestDeploy, requestRollback } from '../../lib/operations.js';
import type { LedgerEntry } from '../../lib/releaseLedger.js';
import { readLedger } from '../../lib/releaseLedgerClient.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, machineImages, rolloutsOf, settle } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/**
 * One app's runs all go through one task queue, as in production: its ledger workflow lives there,
 * so a worker "restart" is a new worker on the same queue.
 */
function appWorkers(app: TestApp, extra: Parameters<typeof world.activities>[0] = {}) {
  const taskQueue = `tq-${app.name}`;
  return {
    taskQueue,
    async run<T>(fn: () => Promise<T>): Promise<T> {
      const worker = await kit.createWorker(taskQueue, world.activities(extra));
      return worker.runUntil(fn());
    },
  };
}

async function deploy(taskQueue: string, request: Parameters<typeof requestDeploy>[2]): Promise<RunStatus> {
  const { workflowId } = await requestDeploy(kit.client, taskQueue, request);
  return (await settle(kit.client, workflowId)).status;
}

async function rollBack(taskQueue: string, app: TestApp, options: { target?: { image: string }; force?: { reason: string } } = {}): Promise<RunStatus> {
  const workflowId = await requestRollback(kit.client, taskQueue, {
    app: app.name, environment: 'staging', reason: 'by hand', trigger: { source: 'cli', actor: 'dana' }, ...options,
  });
  return (await settle(kit.client, workflowId)).status;
}

const verdicts = (entries: LedgerEntry[]) => entries.map((e) => `${e.kind} ${e.verdict}`);

// Each test has its own app, task queue and ledger, and most of a test is waiting (rollouts, health
// deadlines): they run side by side, up to the config's maxConcurrency.
describe.concurrent('release ledger', () => {
  it('never rolls back to a bad image: good → bad (automatic rollback) → manual rollback', { timeout: 240_000 }, async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const good = app.repo.commit({ behaviour: { version: 'v2' } });
    const bad = app.repo.commit({ behaviour: { version: 'v3', routes: { '/': { status: 500 } } } });
    await workers.run(async () => {
      const first = await deploy(workers.taskQueue, deployRequest(app, good));
      expect(first.state).toBe('succeeded');
      const goodImage = String(first.facts.image);
      expect(goodImage).toMatch(new RegExp(`:${good.slice(0, 12)}-`));

      const second = await deploy(workers.taskQueue, deployRequest(app, bad));
      expect(second.state).toBe('rolled-back');
      expect(second.facts['rolled back to']).toBe(goodImage);
      const badImage = String(second.facts.image);

      // By hand, after the automatic rollback: the bad deploy is already undone; nothing cascades.
      const manual = await rollBack(workers.taskQueue, app);
      expect(manual.state).toBe('succeeded');
      expect(manual.outcome).toMatch(/already runs .*the last known good release.*nothing was changed/);
      const deployed = rolloutsOf(world.sim, app).map((r) => r.image);
      expect(deployed.slice(deployed.indexOf(badImage) + 1)).toEqual([goodImage]);
      expect(await world.servedBody(app)).toContain('v2');

      const entries = await readLedger(kit.client, { app: app.name, environment: 'staging' });
      expect(verdicts(entries)).toEqual(['rollback verified', 'deploy rolled-back', 'deploy verified', 'adopted verified-by-probe']);
      expect(entries.find((e) => e.image === badImage)).toMatchObject({ verdict: 'rolled-back', rolledBackTo: goodImage, stage: 'smoke' });
      expect(entries.find((e) => e.kind === 'deploy' && e.image === goodImage)).toMatchObject({ commit: good, flyConfig: { sha256: expect.any(String) } });
    });
  });

  it('records the deploy without its fly.toml when the fly.toml is too large to keep, and says so on the run', async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const sha = app.repo.commit({ behaviour: { version: 'v2' }, flyToml: { extraToml: `# padding\n${'#'.repeat(70 * 1024)}\n` } });
    await workers.run(async () => {
      const status = await deploy(workers.taskQueue, deployRequest(app, sha));
      expect(status.state).toBe('succeeded');
      expect(status.facts['fly.toml']).toMatch(/^not kept in the ledger: fly.toml is larger than 64 KiB/);
      const entries = await readLedger(kit.client, { app: app.name, environment: 'staging' });
      const entry = entries.find((e) => e.kind === 'deploy' && e.image === status.facts.image);
      expect(entry).toMatchObject({ verdict: 'verified', commit: sha });
      expect(entry?.flyConfig).toBeUndefined();
    });
  });

  it('outlives worker restarts and the deletion of the runs that wrote it', async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { workflowId } = await workers.run(async () => {
      const started = await requestDeploy(kit.client, workers.taskQueue, deployRequest(app, sha));
      await settle(kit.client, started.workflowId);
      return started;
    });
    await kit.client.workflowService.deleteWorkflowExecution({ namespace: kit.client.options.namespace, workflowExecution: { workflowId } });
    const entries = await workers.run(() => readLedger(kit.client, { app: app.name, environment: 'staging' }));
    expect(entries.find((e) => e.id === workflowId)).toMatchObject({ kind: 'deploy', verdict: 'verified', commit: sha });
    // and a rollback after the restart still finds the last known good release (the adopted v1)
    const status = await workers.run(() => rollBack(workers.taskQueue, app));
    expect(status.state).toBe('succeeded');
    expect(status.facts.image).toBe(app.initialImage);
  });

  it('does not roll back when the image cannot be fetched: nothing was rolled out', async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const missing = `registry.fly.io/${app.name}:never-pushed`;
    const status = await workers.run(() => deploy(workers.taskQueue, { ...deployRequest(app, 'f'.repeat(40)), image: missing }));
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out.*could not find image/);
    expect(status.stages.find((s) => s.name === 'rollback')).toBeUndefined();
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    const entries = await workers.run(() => readLedger(kit.client, { app: app.name, environment: 'staging' }));
    expect(entries[0]).toMatchObject({ image: missing, verdict: 'failed', reason: expect.stringMatching(/nothing was rolled out/) });
  });

  it('reports a rollback whose smoke checks fail as failed, and the ledger says so', async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const sha = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 200, body: 'v2' }, '/new': { status: 200, body: 'new' } } } });
    await workers.run(async () => {
      expect((await deploy(workers.taskQueue, deployRequest(app, sha))).state).toBe('succeeded');
      // The smoke checks now ask for an endpoint only v2 has: going back to v1 fails them.
      (world.apps[app.name] as { smokeChecks: unknown[] }).smokeChecks = [{ name: 'new', path: '/new', expectStatus: 200 }];
      const status = await rollBack(workers.taskQueue, app);
      expect(status.state).toBe('failed');
      expect(status.outcome).toMatch(/failed its smoke checks: .*Act now/);
      const entries = await readLedger(kit.client, { app: app.name, environment: 'staging' });
      expect(entries[0]).toMatchObject({ kind: 'rollback', image: app.initialImage, verdict: 'failed', stage: 'smoke' });
    });
  });

  it('rolls back with the fly.toml the good release was verified with, not the failing one', async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const good = app.repo.commit({ behaviour: { version: 'v2' } });
    // v3 moves the platform health check to a path only v3 serves: flyctl would apply that to v2 too.
    const bad = app.repo.commit({ behaviour: { version: 'v3', healthPath: '/healthz-v3' }, flyToml: { checkPath: '/healthz-v3' } });
    await workers.run(async () => {
      const first = await deploy(workers.taskQueue, deployRequest(app, good));
      const second = await deploy(workers.taskQueue, deployRequest(app, bad));
      expect(second.state, second.outcome).toBe('rolled-back');
      const rollbackDeploy = rolloutsOf(world.sim, app).at(-1)!;
      expect(rollbackDeploy.image).toBe(first.facts.image);
      expect(rollbackDeploy.argv).toContain('--config');
      expect(await machineImages(world.sim, app)).toEqual([first.facts.image, first.facts.image]);
    });
  }, 120_000); // two deploys, the health deadline (8 s) and a rollback: ~27 s on a quiet machine

  it('runs one rollback at a time per environment: a second request gets the running one', async () => {
    const app = await world.createApp();
    const workers = appWorkers(app);
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await workers.run(async () => {
      expect((await deploy(workers.taskQueue, deployRequest(app, sha))).state).toBe('succeeded');
      const request = { app: app.name, environment: 'staging', reason: 'double click', trigger: { source: 'slack' as const, actor: 'U_DANA' } };
      const [first, second] = await Promise.all([requestRollback(kit.client, workers.taskQueue, request), requestRollback(kit.client, workers.taskQueue, request)]);
      expect(second).toBe(first);
      const [runA, runB] = await Promise.all([first, second].map(async (id) => (await kit.client.workflow.getHandle(id).describe()).runId));
      expect(runB).toBe(runA);
      expect((await settle(kit.client, first)).status.state).toBe('succeeded');
      expect(rolloutsOf(world.sim, app).filter((r) => r.image === app.initialImage)).toHaveLength(1);
    });
  });

  it('refuses a manual rollback to a failed image unless forced with a reason, which is audit-logged', async () => {
    const app = await world.createApp();
    const auditLines: string[] = [];
    const destination = new Writable({ write(chunk, _encoding, done) { auditLines.push(String(chunk)); done(); } });
    const workers = appWorkers(app, { logger: createLogger({ level: 'info', destination }) });
    const bad = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 500 } } } });
    await workers.run(async () => {
      const failed = await deploy(workers.taskQueue, deployRequest(app, bad));
      expect(failed.state).toBe('rolled-back');
      const badImage = String(failed.facts.image);
      const refused = await rollBack(workers.taskQueue, app, { target: { image: badImage } });
      expect(refused.state).toBe('failed');
      expect(refused.outcome).toMatch(/is rolled-back at smoke.*--force --reason/);
      expect(rolloutsOf(world.sim, app).filter((r) => r.image === badImage)).toHaveLength(1);

      const forced = await rollBack(workers.taskQueue, app, { target: { image: badImage }, force: { reason: 'need the v2 debug endpoint' } });
      expect(forced.state).toBe('failed'); // it still fails its smoke checks, and says so
      expect(rolloutsOf(world.sim, app).filter((r) => r.image === badImage)).toHaveLength(2);
      const audit = auditLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.audit === true && l.action === 'rollback --force');
      expect(audit).toMatchObject({ actor: 'dana', outcome: 'allowed', detail: expect.stringContaining('need the v2 debug endpoint') });
      const entries = await readLedger(kit.client, { app: app.name, environment: 'staging' });
      expect(entries[0]).toMatchObject({ kind: 'rollback', image: badImage, verdict: 'failed', forcedBecause: 'need the v2 debug endpoint' });
    });
  });
});
