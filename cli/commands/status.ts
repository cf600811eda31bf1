import type { Client } from '@temporalio/client';
import { describeActivityRetry, readActivityRetries, type ActivityRetry } from '../../lib/activityRetries.js';
import { deployLockStatus } from '../../lib/deployLocks.js';
import type { DeployLock, RunStatus } from '../../lib/messages.js';
import { runStatus } from '../../lib/operations.js';
import { listRuns, type RunSummary } from '../../lib/runHistory.js';
import type { Command, Session } from '../command.js';
import { describeRun, formatOutcome, formatStageLine, formatTime } from '../format.js';
import { ExitCode } from '../usageError.js';
import { expectArguments, resolveApp, resolveAppEnvironment, runId } from '../validation.js';

export const statusCommand: Command = {
  name: 'status',
  summary: 'a run\'s stages, timings and outcome; or the current (else last) run of an app environment',
  usage: 'flightdeck status <run-id> | flightdeck status <app> [environment] [--json]',
  details: `With a run id (as printed by deploy, rollback, backup… and history), shows that run's status:
state, trigger, each stage with its duration and detail, facts and checks, and the outcome.
With an app, shows the running run of each of its environments (or the last one) and any deploy lock.

  flightdeck status deploy/shop/production/3f2c1a9-1a2b3c4d
  flightdeck status shop production`,
  prepare({ positionals, config }) {
    const [first, second] = expectArguments(positionals, 'status', 1, 2);
    if (first!.includes('/') && second === undefined) {
      const workflowId = runId(first!);
      return async (session) => {
        const run = await readRun(session.client, workflowId);
        printRun(session, run);
        session.out.result(run);
        return ExitCode.ok;
      };
    }
    const app = first!;
    const environments = second === undefined ? Object.keys(resolveApp(config, app).environments) : [resolveAppEnvironment(config, 'status', app, second).environment];
    return async (session) => {
      const results = [];
      for (const environment of environments) {
        const [latest, lock] = await Promise.all([currentRun(session.client, app, environment), deployLockStatus(session.client, { app, environment })]);
        const run = latest ? await readRun(session.client, latest.workflowId) : undefined;
        session.out.line(`${app}/${environment}`);
        if (lock) session.out.line(`  deploys LOCKED by ${lock.owner} since ${formatTime(lock.since)}${lock.expiresAt ? ` until ${formatTime(lock.expiresAt)}` : ''}: ${lock.reason}`);
        if (run) printRun(session, run, '  ');
        else session.out.line('  no runs yet');
        results.push({ app, environment, ...(lock ? { lock } : {}), ...(run ? { run } : {}) } satisfies EnvironmentStatus);
      }
      session.out.result({ environments: results });
      return ExitCode.ok;
    };
  },
};

interface EnvironmentStatus {
  app: string;
  environment: string;
  lock?: DeployLock;
  run?: RunRead;
}

/**
 * The status query's answer (with the steps between two attempts, while it runs), or, when the run
 * cannot answer (ended with no worker to replay it), what visibility knows.
 */
type RunRead = { workflowId: string; status: RunStatus; retries?: ActivityRetry[] }
  | { workflowId: string; temporalStatus: string; startedAt: string; closedAt?: string; problem: string };

async function readRun(client: Client, workflowId: string): Promise<RunRead> {
  try {
    const status = await runStatus(client, workflowId);
    if (status.finishedAt || status.state === 'queued') return { workflowId, status };
    const retries = await readActivityRetries(client, workflowId).catch(() => []);
    return { workflowId, status, ...(retries.length ? { retries } : {}) };
  } catch (err) {
    const description = await client.workflow.getHandle(workflowId).describe();
    return {
      workflowId, temporalStatus: description.status.name, startedAt: description.startTime.toISOString(),
      ...(description.closeTime ? { closedAt: description.closeTime.toISOString() } : {}),
      problem: `its status query did not answer: ${(err as Error).message}`,
    };
  }
}

/** The running run, else the newest: two one-run queries. */
async function currentRun(client: Client, app: string, environment: string): Promise<RunSummary | undefined> {
  const [running] = await listRuns(client, { app, environment, isRunning: true, limit: 1 });
  return running ?? (await listRuns(client, { app, environment, limit: 1 }))[0];
}

function printRun({ out }: Session, run: RunRead, indent = ''): void {
  if (!('status' in run)) {
    out.line(`${indent}${run.workflowId}: ${run.temporalStatus}, started ${formatTime(run.startedAt)}${run.closedAt ? `, closed ${formatTime(run.closedAt)}` : ''} (${run.problem})`);
    return;
  }
  const { status } = run;
  out.line(`${indent}${describeRun(status)}: ${status.workflowId}`);
  out.line(`${indent}  state: ${status.state}${status.currentStage ? ` (stage ${status.currentStage})` : ''}`);
  out.line(`${indent}  started ${formatTime(status.startedAt)} by ${status.trigger.actor} (${status.trigger.source})${status.finishedAt ? `, finished ${formatTime(status.finishedAt)}` : ''}`);
  for (const stage of status.stages) out.line(`${indent}  ${formatStageLine(stage, status.finishedAt !== undefined)}`);
  for (const retry of run.retries ?? []) out.line(`${indent}  ↻ ${describeActivityRetry(retry, status.currentStage)}`);
  for (const [name, value] of Object.entries(status.facts)) if (value !== undefined) out.line(`${indent}  ${name}: ${value}`);
  for (const check of status.checks ?? []) out.line(`${indent}  ${check.isPassed ? '✓' : '✗'} check ${check.name}: ${check.detail}`);
  if (status.outcome) out.line(`${indent}${formatOutcome(status)}`);
}
