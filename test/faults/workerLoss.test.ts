// Issue 13's acceptance: whatever happens to a worker, a run's outcome is the undisturbed run's. Each
// row of the table runs one scenario on the real Temporal server and the Fly simulator, loses the
// worker at a point inside one stage (a graceful shutdown, or a SIGKILL), starts a new worker, and
// checks the outcome: the verdict, the image serving, the rollouts in the simulator's call log, and
// that the disturbed activity really was interrupted and retried (so no row can pass vacuously).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { requestDeploy, runStatus } from '../../lib/operations.js';
import type { RunState } from '../../lib/messages.js';
import type { SimAppManifest, SimBehaviour } from '../../sim/testing.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { slots } from '../helpers/slots.js';
import { useWorkerProcesses, type WorkerLoss, type WorkerProcess } from '../helpers/workerProcess.js';
import { deployRequest, machineImages, releasesOf, rolloutsOf, settle, waitUntil } from '../deploy/support.js';

const world = useDeployWorld();
const workers = useWorkerProcesses();
let client: Client;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});
// Repository commands run sandboxed, with a private /tmp and as another user: the gates live where
// that user can see them.
const gates = fs.mkdtempSync(path.join('/var/tmp', 'flightdeck-gates-'));
fs.chmodSync(gates, 0o755);
afterAll(async () => {
  await connection?.close();
  fs.rmSync(gates, { recursive: true, force: true });
});

/** A worker stopped by SIGTERM gets this long before its running activities are cancelled. */
const SHUTDOWN_GRACE_MS = 500;

/** An app command (tests, smoke command) that runs until the gate file exists, then passes. */
function gatedCommand(gate: string): string[] {
  return ['node', '-e', 'setInterval(() => { if (require("fs").existsSync(process.argv[1])) process.exit(0); }, 100)', gate];
}

/** Where a run is when its worker is lost: an activity's attempt under way for a while. */
interface LossPoint {
  /** Whose activity: the pipeline's own, or its rollback child's. */
  workflow: 'pipeline' | 'rollback';
  activity: string;
  /** How long the attempt has been running. */
  afterMs: number;
  /** A further condition (in the simulator) that must hold as well. */
  when?: (app: TestApp) => Promise<boolean>;
}

interface DeployScenario {
  /** The stage in which the worker is lost, and what runs there. */
  stage: string;
  what: string;
  behaviour: SimBehaviour;
  environment?: Record<string, unknown>;
  /** App settings; `gate` is a file that appears once the first worker is gone. */
  app?: (gate: string) => Record<string, unknown>;
  lossPoint: LossPoint;
  expected: { state: RunState; serves: 'new' | 'previous'; rollouts: number };
  /** The previous image's behaviour, beyond serving v1. */
  image?: Partial<SimAppManifest>;
}

const healthyProbe = { consecutiveSuccesses: 100, interval: '100ms', deadline: '30s', requestTimeout: '2s' };

const scenarios: DeployScenario[] = [
  {
    stage: 'test', what: 'the app\'s tests, passing', behaviour: { version: 'v2' }, app: (gate) => ({ testCommand: gatedCommand(gate) }),
    // The checkout and the tests are one activity (patch one-trip-stages): its retry checks out again and re-runs the tests.
    lossPoint: { workflow: 'pipeline', activity: 'checkoutAndTest', afterMs: 1000 },
    expected: { state: 'succeeded', serves: 'new', rollouts: 1 },
  },
  {
    stage: 'deploy', what: 'a rollout in progress', behaviour: { version: 'v2', healthyAfterMs: 4000 },
    lossPoint: { workflow: 'pipeline', activity: 'flyDeployImage', afterMs: 0, when: (app) => newestRelease(app, 'running') },
    expected: { state: 'succeeded', serves: 'new', rollouts: 1 },
  },
  {
    stage: 'health', what: 'the probe of a healthy release', behaviour: { version: 'v2' }, environment: { health: healthyProbe },
    lossPoint: { workflow: 'pipeline', activity: 'verifyAppHealth', afterMs: 500, when: (app) => newestRelease(app, 'complete') },
    expected: { state: 'succeeded', serves: 'new', rollouts: 1 },
  },
  {
    stage: 'health', what: 'the probe of an unhealthy release', behaviour: { version: 'v2', routes: { '/': { status: 503 } } },
    environment: { health: { path: '/', consecutiveSuccesses: 2, interval: '100ms', deadline: '10s', requestTimeout: '1s' } },
    lossPoint: { workflow: 'pipeline', activity: 'verifyAppHealth', afterMs: 1000, when: (app) => newestRelease(app, 'complete') },
    expected: { state: 'rolled-back', serves: 'previous', rollouts: 2 },
  },
  {
    stage: 'smoke', what: 'the smoke command, passing', behaviour: { version: 'v2' }, app: (gate) => ({ smokeCommand: gatedCommand(gate) }),
    lossPoint: { workflow: 'pipeline', activity: 'runWorkspaceCommand', afterMs: 1000, when: (app) => newestRelease(app, 'complete') },
    expected: { state: 'succeeded', serves: 'new', rollouts: 1 },
  },
  {
    stage: 'bake', what: 'the bake of a healthy release', behaviour: { version: 'v2' }, environment: { bake: '15s' },
    lossPoint: { workflow: 'pipeline', activity: 'bakeProbe', afterMs: 2000 },
    expected: { state: 'succeeded', serves: 'new', rollouts: 1 },
  },
  {
    // The previous image's machines take seconds to start, one after the other: the rollback's rollout
    // outlives the worker's grace time.
    stage: 'rollback', what: 'the rollback after failing smoke checks', behaviour: 'smoke-fails', image: { startDelayMs: 3000 }, environment: { rollbackStrategy: 'rolling' },
    lossPoint: { workflow: 'rollback', activity: 'flyDeployImage', afterMs: 0, when: (app) => isRollingBack(app) },
    expected: { state: 'rolled-back', serves: 'previous', rollouts: 2 },
  },
];

/** The rollback's release (the previous image's, again) is rolling out. */
async function isRollingBack(app: TestApp): Promise<boolean> {
  const releases = await releasesOf(world.sim, app);
  const [newest] = releases;
  return newest?.ImageRef === app.initialImage && newest.Status === 'running' && releases.some((r) => r.ImageRef !== app.initialImage);
}

/** The newest release is the new image's, in this state (a probe or command under way after it is health's or smoke's). */
async function newestRelease(app: TestApp, status: 'running' | 'complete'): Promise<boolean> {
  const [newest] = await releasesOf(world.sim, app);
  return newest !== undefined && newest.ImageRef !== app.initialImage && newest.Status === status;
}

function workflowIdOf(pipelineId: string, workflow: LossPoint['workflow']): string {
  return workflow === 'pipeline' ? pipelineId : `${pipelineId}/rollback`;
}

/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED (its package is not ours to import). */
const PENDING_ACTIVITY_STATE_STARTED = 2;

/** Resolves once the loss point is reached: the activity's attempt has been under way for afterMs. */
async function reach(point: LossPoint, pipelineId: string, app: TestApp): Promise<void> {
  const workflowId = workflowIdOf(pipelineId, point.workflow);
  await waitUntil(`${point.activity} under way for ${point.afterMs} ms in ${workflowId}`, async () => {
    const { raw } = await client.workflow.getHandle(workflowId).describe();
    const isUnderWay = (raw.pendingActivities ?? []).some((activity) => activity.activityType?.name === point.activity
      && activity.state === PENDING_ACTIVITY_STATE_STARTED
      && Date.now() - Number(activity.lastStartedTime?.seconds ?? 0) * 1000 >= point.afterMs);
    return isUnderWay && (!point.when || await point.when(app));
  }, 90_000).catch(async (err: unknown) => {
    // Where the run is instead: a loss point never reached is a failed row, with the reason in sight.
    const status = await runStatus(client, pipelineId).catch(() => undefined);
    throw new Error(`${(err as Error).message}; the pipeline is ${status ? `${status.state} at ${status.currentStage ?? '-'}: ${status.outcome ?? ''}` : 'unreadable'}`);
  });
}

const HOW: Record<WorkerLoss, string> = { shutdown: 'shut down gracefully', kill: 'SIGKILLed' };

// Rows run three at a time: most of a row is waiting (for a heartbeat timeout, a rollout, a bake),
// but each starts two worker processes, which is all a small machine can take at once.
const rowSlots = slots(3);

for (const scenario of scenarios) {
  describe.concurrent(`${scenario.stage}: ${scenario.what}`, () => {
    for (const loss of ['shutdown', 'kill'] as const) {
      it(`a worker ${HOW[loss]} mid-stage: a new worker finishes the run with the undisturbed outcome`, ({ expect }) => rowSlots(async () => {
        const gate = path.join(gates, `${scenario.stage}-${loss}-${randomUUID().slice(0, 8)}`);
        const app = await world.createApp({ environment: { lockAfterRollback: false, ...scenario.environment }, app: scenario.app?.(gate), image: scenario.image });
        const sha = app.repo.commit({ behaviour: scenario.behaviour });
        const taskQueue = `faults-${app.name}`;
        const firstWorker = await workers.start(taskQueue, world.workerProcessEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });

        const { workflowId } = await requestDeploy(client, taskQueue, deployRequest(app, sha));
        await reach(scenario.lossPoint, workflowId, app);
        await firstWorker.stop(loss);
        fs.writeFileSync(gate, '');
        const secondWorker = await workers.start(taskQueue, world.workerProcessEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });

        const { status } = await settleOrExplain(workflowIdOf(workflowId, scenario.lossPoint.workflow), workflowId, secondWorker);
        const newImage = status.facts.image as string;
        const expectedImage = scenario.expected.serves === 'new' ? newImage : app.initialImage;
        expect({ state: status.state, outcome: status.outcome }).toMatchObject({ state: scenario.expected.state });
        expect(await machineImages(world.sim, app)).toEqual([expectedImage, expectedImage]);
        expect(await world.servedBody(app)).toContain(scenario.expected.serves === 'new' ? 'v2' : 'v1');
        expect(rolloutsOf(world.sim, app)).toHaveLength(scenario.expected.rollouts);
        expect(world.sim.deployCount(newImage)).toBe(1);
        expect(Boolean(status.facts['rolled back to'])).toBe(scenario.expected.state === 'rolled-back');
        const { workflow, activity } = scenario.lossPoint;
        const attempts = await activityAttempts(workflowIdOf(workflowId, workflow));
        expect(Math.max(0, ...attempts.filter((a) => a.activity === activity).map((a) => a.attempt)), JSON.stringify(attempts)).toBeGreaterThanOrEqual(2);
      }), 600_000);
    }
  });
}

/** A row's whole run takes under a minute; past this, where it is stuck is the failure. */
const SETTLE_LIMIT_MS = 300_000;

/** The pipeline's outcome; or, past SETTLE_LIMIT_MS, an error saying where the run is and what the new worker logged. */
async function settleOrExplain(lossWorkflowId: string, pipelineId: string, worker: WorkerProcess): ReturnType<typeof settle> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => void explainStuck(lossWorkflowId, pipelineId, worker).then(reject, reject), SETTLE_LIMIT_MS);
  });
  try {
    return await Promise.race([settle(client, pipelineId), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

async function explainStuck(lossWorkflowId: string, pipelineId: string, worker: WorkerProcess): Promise<Error> {
  const status = await runStatus(client, pipelineId).catch(() => undefined);
  const { raw } = await client.workflow.getHandle(lossWorkflowId).describe();
  const pending = (raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt} (state ${a.state}${a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : ''})`);
  return new Error(`the run did not end within ${SETTLE_LIMIT_MS / 1000} s: ${status ? `${status.state} at ${status.currentStage ?? '-'}` : 'status unreadable'}; `
    + `pending in ${lossWorkflowId}: ${pending.join('; ') || 'none'}; the new worker's last output: ${worker.outputTail()}`);
}

/** Each activity the run completed or failed, with the attempt that ended it. */
async function activityAttempts(workflowId: string): Promise<Array<{ activity: string; attempt: number }>> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const typeOf = new Map(events
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType?.name ?? '?']));
  return events
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => ({
      activity: typeOf.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)) ?? '?',
      attempt: e.activityTaskStartedEventAttributes!.attempt ?? 0,
    }));
}
