// The incident runbook ("production misbehaves: assess, restart machines one by one, verify, roll
// back if that did not help"), made durable. Run by the environment's deploy queue, so it never runs
// during a deploy; a lock does not hold it, and its rollback locks deploys as any rollback does.
// One Slack message, updated at every step; the error log lines found go to its thread.
import { ApplicationFailure, condition, executeChild, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import type { FlyMachineHealth } from '../activities/fly.js';
import { PermanentError, rootMessage } from '../lib/errors.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';
import { statusQuery, type IfStillFailing, type IncidentRequest, type IncidentResult, type RollbackRequest, type RollbackResult } from '../lib/messages.js';
import { flyReadOptions, localOptions } from './activityOptions.js';
import { acceptFailureDecisions, type DecisionGate } from './approvalGate.js';
import { verifyHealth } from './health.js';
import { RunTracker } from './runTracker.js';
import { describeChecksPassed, verifySmoke } from './smoke.js';

const local = proxyActivities<Activities>(localOptions);
const fly = proxyActivities<Activities>(flyReadOptions);
/** A machine restart waits for the machine to start (flyctl: up to 5 minutes). */
const flyRestart = proxyActivities<Activities>({ ...flyReadOptions, startToCloseTimeout: '7m' });

export const INCIDENT_STAGES = ['assess', 'restart', 'verify', 'recover'];
/** What the written runbook greps for: `fly logs -n 50 | grep -i "error\|fatal\|panic"`. */
const ERROR_LOG_PATTERNS = ['\\berror\\b', '\\bfatal\\b', '\\bpanic\\b'];

export async function incidentRunbook(request: IncidentRequest): Promise<IncidentResult> {
  const run = new RunTracker({ kind: 'incident', app: request.app, environment: request.environment, trigger: request.trigger }, INCIDENT_STAGES);
  setHandler(statusQuery, () => run.status);
  const decisions = acceptFailureDecisions(run);
  run.fact('reason', request.reason);
  try {
    const target = await local.resolveDeployTarget({ app: request.app, environment: request.environment });
    run.reportTo(target.slackChannel, target.temporalUiBase);
    const ifStillFailing = request.ifStillFailing ?? target.incident?.ifStillFailing ?? target.onFailure;
    const machines = await run.stage('assess', () => assess(target, run), describeAssessment);
    const restarted = await run.stage('restart', () => restartOneByOne(target, machines, run), (r) => `${r.length} machine(s) restarted one by one, each passing its checks`)
      .catch((err: unknown) => ({ failure: rootMessage(err) }));
    const stillFailing = 'failure' in restarted ? restarted.failure : await verifyRecovery(target, run);
    if (stillFailing === undefined) {
      run.skip('recover', 'not needed');
      run.setState('succeeded', `Restarting ${describeMachines(restarted as string[])} healed ${target.flyApp}: it passes health and smoke checks.`);
      return { healedBy: 'restart', restartedMachines: restarted as string[] };
    }
    const restartedMachines = 'failure' in restarted ? [] : restarted;
    return await recover(target, request, run, decisions, ifStillFailing, stillFailing, restartedMachines);
  } catch (err) {
    if (run.status.state === 'running') run.setState('failed', `The incident runbook failed: ${rootMessage(err)}. Act now.`);
    throw err;
  } finally {
    await run.flush();
  }
}

/** Health (one look, no waiting), every machine's state and checks, and recent error log lines. */
async function assess(target: DeployTarget, run: RunTracker): Promise<FlyMachineHealth[]> {
  const [machines, errors] = await Promise.all([
    fly.flyMachineHealth(target.flyApp),
    // The logs inform; an app whose logs cannot be read is still restarted.
    fly.flyLogScan({ flyApp: target.flyApp, patterns: ERROR_LOG_PATTERNS, samples: 5 }).catch(() => undefined),
  ]);
  run.fact('machines', machines.map((m) => `${m.id} ${m.state} ${m.checksPassing}/${m.checksTotal}`).join(', ') || 'none');
  run.fact('error log lines', errors ? `${errors.matches} of the last ${errors.lines}` : 'not read');
  if (errors?.samples.length) run.thread(`Recent error log lines (${errors.matches}):\n${errors.samples.join('\n')}`);
  if (machines.length === 0) {
    throw ApplicationFailure.nonRetryable(`${target.flyApp} has no machines: nothing to restart (stopped? flightdeck start brings a stopped app back)`, PermanentError.FlyCommandFailed);
  }
  return machines;
}

/** One machine at a time, each passing its checks before the next: never more than one down. */
async function restartOneByOne(target: DeployTarget, machines: FlyMachineHealth[], run: RunTracker): Promise<string[]> {
  const restarted: string[] = [];
  for (const machine of machines) {
    run.fact('restarting', `${machine.id} (${restarted.length + 1}/${machines.length})`);
    await flyRestart.flyRestartMachine({ flyApp: target.flyApp, machineId: machine.id });
    const checks = await fly.flyMachineChecks(target.flyApp, { deadlineMs: target.health.deadlineMs, intervalMs: target.health.intervalMs, machineIds: [machine.id] });
    restarted.push(machine.id);
    if (!checks.isAllPassing) {
      run.fact('restarting', undefined);
      throw ApplicationFailure.nonRetryable(`${machine.id} did not pass its checks after its restart (${checks.failing.join('; ') || 'no checks reported'}); `
        + `the other machines were left running`, PermanentError.HealthCheckFailed);
    }
  }
  run.fact('restarting', undefined);
  return restarted;
}

/** Health and smoke as after a deploy; undefined when both pass, else why not. */
async function verifyRecovery(target: DeployTarget, run: RunTracker): Promise<string | undefined> {
  try {
    await run.stage('verify', async () => {
      const health = await verifyHealth(target);
      return verifySmoke(target, health.appUrl, undefined, (results) => { run.status.checks = results; });
    }, describeChecksPassed);
    return undefined;
  } catch (err) {
    return rootMessage(err);
  }
}

async function recover(target: DeployTarget, request: IncidentRequest, run: RunTracker, decisions: DecisionGate,
  ifStillFailing: IfStillFailing, stillFailing: string, restartedMachines: string[]): Promise<IncidentResult> {
  if (run.status.stages.find((s) => s.name === 'verify')?.state === 'pending') run.skip('verify', 'a restart did not pass its checks');
  run.thread(`:x: still failing after restarts: ${stillFailing}`);
  const unhealed = `Restarting did not heal ${target.flyApp}: ${stillFailing}`;
  if (ifStillFailing === 'report') {
    run.skip('recover', 'the health watch only restarts (action: restart)');
    run.setState('failed', `${unhealed}. Nothing else was done (watch action: restart). Act now: flightdeck rollback ${target.app} ${target.environment}.`);
    throw ApplicationFailure.nonRetryable(run.status.outcome!, PermanentError.HealthCheckFailed);
  }
  if (ifStillFailing === 'pause') {
    run.setState('waiting-for-decision', `${unhealed}. Roll back to the last known good release or keep it as it is? Rolling back in ${target.pauseTimeout} unless someone decides.`);
    const isDecided = await condition(() => decisions.decision !== undefined, target.pauseTimeout);
    if (isDecided && decisions.decision!.decision === 'keep') {
      run.fact('kept by', decisions.decision!.actor);
      run.skip('recover', `kept by ${decisions.decision!.actor}`);
      run.setState('failed', `${unhealed}. ${decisions.decision!.actor} chose to keep it as it is; no rollback. Act now.`);
      return { healedBy: 'none', restartedMachines };
    }
    run.fact('rollback decided by', isDecided ? decisions.decision!.actor : `nobody within ${target.pauseTimeout}`);
    run.setState('running');
  }
  const rollback = await run.stage('recover', () => rollBack(target, request, stillFailing), (r) => `rolled back to ${r.image}`);
  run.fact('rolled back to', rollback.image);
  run.setState('succeeded', `${unhealed}. Rolled back to ${rollback.image}, which passes health and smoke checks. The database schema was not rolled back.`);
  return { healedBy: 'rollback', restartedMachines, rolledBackTo: rollback.image };
}

/** The rollback workflow as a child: the last known good release other than what serves now. */
async function rollBack(target: DeployTarget, request: IncidentRequest, reason: string): Promise<RollbackResult> {
  const serving = (await fly.flyAppStatus(target.flyApp)).servingImage;
  const rollbackRequest: RollbackRequest = {
    app: target.app, environment: target.environment, reason: `incident: ${reason}`.slice(0, 500),
    ...(serving ? { failingImage: serving } : {}),
    // As the runbook's child: this run's message tells the story.
    trigger: { ...request.trigger, source: 'pipeline' },
  };
  return executeChild<(r: RollbackRequest) => Promise<RollbackResult>>('rollback', {
    workflowId: `${workflowInfo().workflowId}/rollback`,
    typedSearchAttributes: runSearchAttributes({ kind: 'rollback', app: request.app, environment: request.environment }),
    args: [rollbackRequest],
  });
}

function describeAssessment(machines: FlyMachineHealth[]): string {
  const unhealthy = machines.filter((m) => m.state !== 'started' || m.checksPassing < m.checksTotal).length;
  return `${machines.length} machine(s), ${unhealthy} not started or failing checks`;
}

function describeMachines(ids: string[]): string {
  return ids.length === 1 ? `machine ${ids[0]}` : `${ids.length} machines one by one`;
}
