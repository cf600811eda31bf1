// `npm run demo`: the sandbox scenario, unattended, in a fresh temporary state directory.
//   1. a good deploy (branch main)  2. a bad deploy (branch broken) that rolls back by itself
//   3. a rollback by hand, as someone would type it after the alarm: the bad image is never redeployed
//   4. a verified backup of the demo database
// and a summary of what deployed, what rolled back and why, and the backup's size and verification.
// It goes through the same operations the API and the CLI call (lib/operations, lib/databaseOperations).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { requestBackup } from '../../lib/databaseOperations.js';
import type { BackupResult, RunStatus, StageState, Trigger } from '../../lib/messages.js';
import { requestDeploy, requestRollback, runStatus } from '../../lib/operations.js';
import { formatBytes } from '../../lib/units.js';
import { BAD_BRANCH, GOOD_BRANCH } from './demoRepository.js';
import { isEntryPoint } from './entryPoint.js';
import { anyFreePorts } from './ports.js';
import { SANDBOX_TASK_QUEUE, startSandbox, type Sandbox } from './sandbox.js';
import { DEMO_APP, DEMO_DATABASE, DEMO_ENVIRONMENT, DEMO_SLACK_CHANNEL } from './sandboxConfig.js';
import { formatSlackEvent } from './slackPrinter.js';

const DEMO_TRIGGER: Trigger = { source: 'cli', actor: 'npm run demo' };
const PIPELINE_TIMEOUT_MS = 120_000;

export interface DemoDeploy {
  ref: string;
  workflowId: string;
  status: RunStatus;
  /** What GET / on the app answered after the run: tells which version serves. */
  servedAfter: string;
}

export interface DemoRollback {
  workflowId: string;
  status: RunStatus;
  servedAfter: string;
}

export interface DemoBackup {
  workflowId: string;
  result: BackupResult;
}

export interface DemoSummary {
  goodDeploy: DemoDeploy;
  badDeploy: DemoDeploy;
  manualRollback: DemoRollback;
  backup: DemoBackup;
  slackMessageCount: number;
  /** Every process the demo's sandbox had started (all stopped by the time runDemo returns). */
  processIds: number[];
  /** The summary as printed. */
  text: string;
}

export interface DemoOptions {
  /** Progress lines (sandbox notices and Slack traffic); silent when absent. */
  onProgress?: (line: string) => void;
}

/**
 * Waits for the pipeline to finish. The queue names the pipeline before the worker has started it,
 * so it may not exist yet; a rolled-back pipeline fails its workflow on purpose (its status says why).
 */
async function waitForPipeline(client: Client, workflowId: string): Promise<void> {
  const deadline = Date.now() + PIPELINE_TIMEOUT_MS;
  for (;;) {
    try {
      await client.workflow.getHandle(workflowId).result();
      return;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) return;
      if (Date.now() > deadline) throw new Error(`the pipeline ${workflowId} did not start within ${PIPELINE_TIMEOUT_MS / 1000} s; see the worker's log`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function deploy(client: Client, sandbox: Sandbox, ref: string): Promise<DemoDeploy> {
  const { workflowId } = await requestDeploy(client, SANDBOX_TASK_QUEUE, { app: DEMO_APP, environment: DEMO_ENVIRONMENT, ref, trigger: DEMO_TRIGGER });
  await waitForPipeline(client, workflowId);
  const status = await runStatus(client, workflowId);
  const servedAfter = (await (await fetch(`${sandbox.appUrl}/`)).text()).trim();
  return { ref, workflowId, status, servedAfter };
}

async function rollBackByHand(client: Client, sandbox: Sandbox): Promise<DemoRollback> {
  const workflowId = await requestRollback(client, SANDBOX_TASK_QUEUE, {
    app: DEMO_APP, environment: DEMO_ENVIRONMENT, reason: 'the demo: a person rolls back after the alarm', trigger: DEMO_TRIGGER,
  });
  await client.workflow.getHandle(workflowId).result().catch(() => undefined);
  const status = await runStatus(client, workflowId);
  const servedAfter = (await (await fetch(`${sandbox.appUrl}/`)).text()).trim();
  return { workflowId, status, servedAfter };
}

async function backup(client: Client): Promise<DemoBackup> {
  const workflowId = await requestBackup(client, SANDBOX_TASK_QUEUE, { database: DEMO_DATABASE, trigger: DEMO_TRIGGER });
  const result = await client.workflow.getHandle(workflowId).result() as BackupResult;
  return { workflowId, result };
}

const STAGE_MARK: Record<StageState, string> = { succeeded: '✓', failed: '✗', skipped: '–', pending: '(not run)', running: '(running)' };

function describeDeploy(number: number, title: string, run: DemoDeploy): string[] {
  const stages = run.status.stages.map((s) => `${s.name} ${STAGE_MARK[s.state]}`).join(' · ');
  const commit = run.status.facts.commit ? ` (commit ${run.status.facts.commit})` : '';
  return [
    `${number}. ${title}: ${DEMO_APP}/${DEMO_ENVIRONMENT} from branch ${run.ref}${commit}`,
    `   ${run.status.state.toUpperCase()}: ${run.status.outcome ?? ''}`,
    `   stages: ${stages}`,
    `   the app now serves: "${run.servedAfter}"`,
  ];
}

export function summarize(goodDeploy: DemoDeploy, badDeploy: DemoDeploy, manualRollback: DemoRollback, demoBackup: DemoBackup, slackMessageCount: number): string {
  const { result } = demoBackup;
  const checks = result.checks.map((c) => `${c.name} ${c.isPassed ? '✓' : `✗ (${c.detail})`}`).join(' · ');
  return [
    'Flightdeck demo: what happened',
    '',
    ...describeDeploy(1, 'good deploy', goodDeploy),
    '',
    ...describeDeploy(2, 'bad deploy', badDeploy),
    '',
    `3. rollback by hand: flightdeck rollback ${DEMO_APP} ${DEMO_ENVIRONMENT}`,
    `   ${manualRollback.status.state.toUpperCase()}: ${manualRollback.status.outcome ?? ''}`,
    `   the app now serves: "${manualRollback.servedAfter}"`,
    '',
    `4. backup of database ${DEMO_DATABASE}: ${result.backupId}`,
    `   ${formatBytes(result.sizeBytes)}, ${result.isVerified ? 'VERIFIED (restored into a scratch database and compared)' : 'NOT VERIFIED'}, sha256 ${result.sha256.slice(0, 12)}`,
    `   checks: ${checks}`,
    `   stored at ${result.location} (the demo's temporary state; \`npm start\` keeps backups in data/backups)`,
    '',
    `Slack: ${slackMessageCount} messages in ${DEMO_SLACK_CHANNEL}, each run's kept up to date in place.`,
  ].join('\n');
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const progress = options.onProgress ?? (() => undefined);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-demo-'));
  let sandbox: Sandbox | undefined;
  let connection: Connection | undefined;
  try {
    sandbox = await startSandbox({
      stateDir,
      ports: await anyFreePorts(),
      onNotice: (line) => progress(`· ${line}`),
      onSlackEvent: (event) => progress(formatSlackEvent(event)),
    });
    connection = await Connection.connect({ address: sandbox.temporal.address });
    const client = new Client({ connection, namespace: sandbox.temporal.namespace });
    progress(`· 1/4 deploying branch ${GOOD_BRANCH}`);
    const goodDeploy = await deploy(client, sandbox, GOOD_BRANCH);
    progress(`· 2/4 deploying branch ${BAD_BRANCH}`);
    const badDeploy = await deploy(client, sandbox, BAD_BRANCH);
    progress('· 3/4 rolling back by hand');
    const manualRollback = await rollBackByHand(client, sandbox);
    progress('· 4/4 backing up the demo database');
    const demoBackup = await backup(client);
    const slackMessageCount = sandbox.slack.messages.filter((m) => !m.threadTs).length;
    const text = summarize(goodDeploy, badDeploy, manualRollback, demoBackup, slackMessageCount);
    return { goodDeploy, badDeploy, manualRollback, backup: demoBackup, slackMessageCount, processIds: sandbox.processIds(), text };
  } finally {
    await connection?.close();
    await sandbox?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (isEntryPoint(import.meta.url)) {
  // Exiting runs the sandbox's exit handler, which stops every server and child it started.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));
  runDemo({ onProgress: (line) => process.stdout.write(`${line}\n`) })
    .then((summary) => {
      process.stdout.write(`\n${summary.text}\n`);
      const isAsExpected = summary.goodDeploy.status.state === 'succeeded' && summary.badDeploy.status.state === 'rolled-back'
        && summary.manualRollback.status.state === 'succeeded' && summary.backup.result.isVerified;
      process.exit(isAsExpected ? 0 : 1);
    })
    .catch((err) => {
      console.error(`\nThe demo failed: ${(err as Error).message}`);
      process.exit(1);
    });
}
