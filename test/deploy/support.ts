// What the deploy suites share on top of deployWorld and the Temporal kit: requests, waiting on
// conditions (never fixed sleeps), and reading what the simulator did for one app.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DeployRequest, RunStatus } from '../../lib/messages.js';
import { requestDeploy, runStatus } from '../../lib/operations.js';
import type { CallRecord, Sim, SimAppManifest } from '../../sim/testing.js';
import type { WorkflowTestKit } from '../helpers/temporal.js';
import type { DeployWorld, TestApp } from '../helpers/deployWorld.js';

export function deployRequest(app: TestApp, sha: string, deliveryId?: string): DeployRequest {
  return { app: app.name, environment: 'staging', sha, trigger: { source: 'ci', actor: 'ci-bot', deliveryId } };
}

/** Polls until check() returns something other than undefined/false; fails with what was awaited. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the run's status query answers with a status that satisfies the predicate. */
export async function waitForStatus(client: Client, workflowId: string, what: string, predicate: (status: RunStatus) => boolean, timeoutMs?: number): Promise<RunStatus> {
  return waitUntil(`${workflowId}: ${what}`, async () => {
    const status = await runStatus(client, workflowId);
    return predicate(status) ? status : undefined;
  }, timeoutMs);
}

export function isStageRunning(status: RunStatus, stage: string): boolean {
  return status.stages.some((s) => s.name === stage && s.state === 'running');
}

/** The run's outcome once it has ended, whether it succeeded or failed. */
/** Waits for the run to close: its status, its error, and how Temporal closed it (COMPLETED, FAILED, CANCELLED...). */
export async function settle(client: Client, workflowId: string): Promise<{ status: RunStatus; error?: unknown; closedAs: string }> {
  let error: unknown;
  const handle = client.workflow.getHandle(workflowId);
  // A deploy's id comes from its queue, which answers after 3 s even if the run has not started yet (a busy worker).
  await waitUntil(`the run ${workflowId} to exist`, () => handle.describe().then(() => true, (err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }), 60_000);
  await handle.result().catch((err: unknown) => { error = err; });
  return { status: await runStatus(client, workflowId), error, closedAs: (await handle.describe()).status.name };
}

/** Rollouts of an app (`deploy --image`, not builds), in the order they started. */
export function rolloutsOf(sim: Sim, app: TestApp): CallRecord[] {
  return sim.callLog()
    .filter((c) => c.command === 'deploy' && c.argv.includes('--image') && c.argv.includes(app.name))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** The image each of the app's machines runs (read from the simulator's state: tests poll this). */
export async function machineImages(sim: Sim, app: TestApp): Promise<string[]> {
  return sim.machineImages(app.name);
}

/** The app's releases, newest first, as `fly releases --json` prints them (read from the simulator's state). */
export async function releasesOf(sim: Sim, app: TestApp): Promise<Array<{ Version: number; Status: string; ImageRef: string }>> {
  return sim.releases(app.name);
}

export interface StagedApp { app: TestApp; production: TestApp }

/** An app whose staging and production are two Fly apps; production's settings on top. */
export async function createStagedAppIn(world: DeployWorld, production: Record<string, unknown> = {}): Promise<StagedApp> {
  const app = await world.createApp();
  const flyApp = `${app.name}-prod`;
  const created = await world.sim.createApp(flyApp, { machines: 1, image: { version: 'v1', routes: { '/': { body: `${flyApp} v1` } } } });
  const environments = (world.apps[app.name] as { environments: Record<string, Record<string, unknown>> }).environments;
  environments.production = { ...environments.staging, flyApp, branch: undefined, ...production };
  return { app, production: { name: flyApp, repo: app.repo, initialImage: created.imageRef, appUrl: created.appUrl } };
}

/** Builds and pushes an image of the behaviour (as CI would), for a deploy of a prebuilt image: its reference. */
export async function pushPrebuiltImage(world: DeployWorld, app: TestApp, behaviour: SimAppManifest): Promise<string> {
  const label = `prebuilt-${Math.random().toString(36).slice(2, 10)}`;
  const sourceDir = world.sim.makeSourceDir({ version: 'v2', ...behaviour }, { app: app.name });
  await world.sim.runOrThrow(['deploy', sourceDir, '--build-only', '--push', '-a', app.name, '--image-label', label]);
  return `registry.fly.io/${app.name}:${label}`;
}

/**
 * Builds and pushes an image of the behaviour, then deploys it as a prebuilt image (no checkout, tests
 * or build: for suites whose subject comes after the rollout) and waits for the run to close.
 */
export async function deployPrebuiltImage(kit: WorkflowTestKit, world: DeployWorld, app: TestApp, behaviour: SimAppManifest): Promise<{ status: RunStatus; image: string }> {
  const image = await pushPrebuiltImage(world, app, behaviour);
  const request: DeployRequest = { app: app.name, environment: 'staging', image, trigger: { source: 'ci', actor: 'ci-bot' } };
  const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
    const { workflowId } = await requestDeploy(kit.client, taskQueue, request);
    return settle(kit.client, workflowId);
  });
  return { status, image };
}

/** The request a pipeline was started with, read from its history (test payloads are plain JSON). */
export async function pipelineRequest(client: Client, workflowId: string): Promise<DeployRequest> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return JSON.parse(Buffer.from(input!.data!).toString('utf8')) as DeployRequest;
}
