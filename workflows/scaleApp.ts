// Scaling the running app, made durable and checked: the emergency stop (`fly scale count 0`, with
// approval where deploys need one, remembering the per-region counts), the way back (those counts,
// then health), and `fly scale count N [--region r]` with verification. Run by the environment's
// deploy queue, so never during a deploy. The stopped counts live in the queue (durable until start),
// and the stop locks deploys, so no deploy brings machines back behind the operators' backs.
import { ApplicationFailure, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { describeRegions, totalMachines } from '../lib/fleetCounts.js';
import { PermanentError, rootMessage } from '../lib/errors.js';
import { statusQuery, type ScaleRequest, type ScaleResult, type StoppedFleet } from '../lib/messages.js';
import { flyReadOptions, localOptions } from './activityOptions.js';
import { acceptApprovals, awaitApproval } from './approvalGate.js';
import { verifyHealth } from './health.js';
import { RunTracker } from './runTracker.js';

const local = proxyActivities<Activities>(localOptions);
const fly = proxyActivities<Activities>(flyReadOptions);
/** `fly scale count` creates machines and waits for each to start. */
const flyScale = proxyActivities<Activities>({ ...flyReadOptions, startToCloseTimeout: '12m', retry: { ...flyReadOptions.retry, maximumAttempts: 3 } });

const STAGES: Record<ScaleRequest['action'], string[]> = {
  stop: ['approval', 'record', 'scale', 'verify'],
  start: ['resolve', 'scale', 'health'],
  scale: ['scale', 'health'],
};

export async function scaleApp(request: ScaleRequest): Promise<ScaleResult> {
  const run = new RunTracker({ kind: 'scale', app: request.app, environment: request.environment, trigger: request.trigger }, STAGES[request.action]);
  setHandler(statusQuery, () => run.status);
  const approval = acceptApprovals(run, (actor) => `${actor} is not an approver for ${request.app} ${request.environment}`);
  run.fact('action', request.action);
  run.fact('reason', request.reason);
  try {
    const target = await local.resolveDeployTarget({ app: request.app, environment: request.environment });
    run.reportTo(target.slackChannel, target.temporalUiBase);
    if (request.action === 'stop') return await stop(target, request, run, approval);
    if (request.action === 'start') return await start(target, run);
    return await scale(target, request, run);
  } catch (err) {
    if (run.status.state === 'running') run.setState('failed', `${request.action} failed: ${rootMessage(err)}`);
    throw err;
  } finally {
    await run.flush();
  }
}

/** The emergency stop: every machine goes, and the counts they had are kept for start. */
async function stop(target: DeployTarget, request: ScaleRequest, run: RunTracker, approval: ReturnType<typeof acceptApprovals>): Promise<ScaleResult> {
  if (target.approval.isRequired) {
    await run.stage('approval', () => awaitApproval(run, approval, target.approval, { nothingChanged: 'nothing was stopped', rejectedType: 'StopRejected' },
      `Stop every machine of ${target.flyApp}? It serves nothing until someone runs flightdeck start.`));
  } else {
    run.skip('approval', 'not required');
  }
  const record = await run.stage('record', async () => {
    const regions = await fly.flyRegionCounts(target.flyApp);
    const fleet: StoppedFleet = { regions, since: new Date().toISOString(), by: request.trigger.actor, reason: request.reason, workflowId: workflowInfo().workflowId };
    // An app already stopped by Flightdeck keeps the counts of its first stop: those are the ones to bring back.
    return local.recordStoppedFleet({ app: target.app, environment: target.environment, record: fleet });
  }, (fleet) => `remembered ${describeRegions(fleet.regions)}; deploys locked`);
  run.fact('start brings back', describeRegions(record.regions));
  await run.stage('scale', () => flyScale.flyScaleCount({ flyApp: target.flyApp, count: 0 }), () => 'fly scale count 0');
  const after = await run.stage('verify', () => expectCounts(target, {}), () => 'no machines left');
  run.setState('succeeded', `Stopped ${target.flyApp}: no machines run. Deploys are locked; flightdeck start ${target.app} ${target.environment} brings back ${describeRegions(record.regions)}.`);
  return { regions: after };
}

/** The way back: the counts the stop remembered, region by region, then health. */
async function start(target: DeployTarget, run: RunTracker): Promise<ScaleResult> {
  const fleet = await run.stage('resolve', async () => {
    const stopped = await local.readStoppedFleet({ app: target.app, environment: target.environment });
    if (!stopped) {
      throw ApplicationFailure.nonRetryable(`${target.app} ${target.environment} was not stopped by flightdeck stop, so there are no counts to bring back; `
        + `use flightdeck scale ${target.app} ${target.environment} <count> [--region r]`, PermanentError.InvalidInput);
    }
    return stopped;
  }, (stopped) => `${describeRegions(stopped.regions)}, stopped by ${stopped.by} at ${stopped.since}`);
  await run.stage('scale', async () => {
    for (const [region, count] of Object.entries(fleet.regions).sort(([a], [b]) => a.localeCompare(b))) {
      await flyScale.flyScaleCount({ flyApp: target.flyApp, count, region });
    }
    return expectCounts(target, fleet.regions);
  }, describeRegions);
  const health = await run.stage('health', () => verifyIfAny(target, totalMachines(fleet.regions)), (detail) => detail);
  await local.clearStoppedFleet({ app: target.app, environment: target.environment, workflowId: fleet.workflowId });
  run.setState('succeeded', `Started ${target.flyApp} again: ${describeRegions(fleet.regions)}, as before the stop; ${health}. The stop's deploy lock is lifted.`);
  return { regions: fleet.regions };
}

async function scale(target: DeployTarget, request: ScaleRequest, run: RunTracker): Promise<ScaleResult> {
  const count = request.count!;
  const where = request.region ? ` in ${request.region}` : '';
  const regions = await run.stage('scale', async () => {
    await flyScale.flyScaleCount({ flyApp: target.flyApp, count, region: request.region });
    const after = await fly.flyRegionCounts(target.flyApp);
    const inScope = request.region ? (after[request.region] ?? 0) : totalMachines(after);
    if (inScope !== count) {
      throw ApplicationFailure.nonRetryable(`asked for ${count} machine(s)${where}, but ${target.flyApp} has ${inScope} (${describeRegions(after)})`, PermanentError.FlyCommandFailed);
    }
    return after;
  }, describeRegions);
  const health = await run.stage('health', () => verifyIfAny(target, totalMachines(regions)), (detail) => detail);
  run.setState('succeeded', `Scaled ${target.flyApp} to ${count} machine(s)${where}: ${describeRegions(regions)}; ${health}.`);
  return { regions };
}

/** The app's counts must be exactly these (regions with 0 may be absent). */
async function expectCounts(target: DeployTarget, expected: Record<string, number>): Promise<Record<string, number>> {
  const actual = await fly.flyRegionCounts(target.flyApp);
  if (describeRegions(actual) !== describeRegions(expected)) {
    throw ApplicationFailure.nonRetryable(`${target.flyApp} runs ${describeRegions(actual)}, expected ${describeRegions(expected)}`, PermanentError.FlyCommandFailed);
  }
  return actual;
}

async function verifyIfAny(target: DeployTarget, machines: number): Promise<string> {
  if (machines === 0) return 'no machines to check';
  return (await verifyHealth(target)).detail;
}
