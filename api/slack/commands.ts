// What each slash command does once parsed: check who asks (lib/authorization.ts), call the same
// operations the API and CLI call, audit-log the outcome, and word the answer for Slack.
import { auditLog, type AuditOutcome } from '../../lib/audit.js';
import { listBackupsThroughWorker } from '../backupListing.js';
import { authorizeAppAction, authorizeDatabaseAction, authorizeRunAction, type AppAction, type AuthorizationDecision } from '../../lib/authorization.js';
import { ConfigError, ownValue, type AppsConfig } from '../../lib/config.js';
import { requestBackup, requestMigration, requestRestore } from '../../lib/databaseOperations.js';
import { environmentsUsingDatabase, resolveEnvironmentDatabase, type EnvironmentDatabase } from '../../lib/environmentDatabase.js';
import { deployQueueStatus, lockDeploys, unlockDeploys } from '../../lib/deployLocks.js';
import type { RunStatus, Trigger } from '../../lib/messages.js';
import { cancelRun, decideApproval, requestRollback, runStatus } from '../../lib/operations.js';
import { requestIncidentRunbook, requestScale } from '../../lib/appOperations.js';
import { readLedger, withLedgerVerdicts } from '../../lib/releaseLedgerClient.js';
import { listRuns } from '../../lib/runHistory.js';
import type { ApiDeps } from '../deps.js';
import { startDeploy } from '../deployStarter.js';
import { startPromotion } from '../promotionStarter.js';
import { HttpError } from '../httpErrors.js';
import type { SlackCatalog, SlackCommand } from './commandParser.js';
import { slack } from '../../lib/slackText.js';
import { describeLock, describeQueue, describeReleases, describeRuns, ephemeral, inChannel, lockTerms, mention, refusal } from './replies.js';
import type { SlackResponse } from './responseUrl.js';

export interface SlackCaller {
  userId: string;
  channelId: string;
  /** The signed request's key: what it starts is deduplicated on it. */
  requestKey: string;
}

type RunnableCommand = Exclude<SlackCommand, { name: 'help' }>;

export function slackCatalog(config: AppsConfig): SlackCatalog {
  return {
    apps: Object.fromEntries(Object.entries(config.apps).map(([name, app]) => [name, Object.keys(app.environments)])),
    databases: Object.keys(config.databases),
  };
}

/** Runs a command for a caller whose channel is allowed; never throws (failures become the answer). */
export async function runSlackCommand(deps: ApiDeps, caller: SlackCaller, command: RunnableCommand): Promise<SlackResponse> {
  const context = new CommandContext(deps, caller);
  try {
    return await dispatch(context, command);
  } catch (err) {
    const message = (err as Error).message;
    context.audit(command.name, targetOf(command), 'failed', message);
    return ephemeral(slack`:x: Could not ${command.name}: ${message}`);
  }
}

async function dispatch(ctx: CommandContext, command: RunnableCommand): Promise<SlackResponse> {
  switch (command.name) {
    case 'deploy': return deploy(ctx, command);
    case 'promote': return promote(ctx, command);
    case 'rollback': return rollback(ctx, command);
    case 'status': return status(ctx, command);
    case 'releases': {
      const releases = await readLedger(ctx.deps.client, { app: command.app, environment: command.environment });
      return ephemeral(describeReleases(`${command.app} / ${command.environment}`, releases.slice(0, 15)));
    }
    case 'history': {
      const runs = await withLedgerVerdicts(ctx.deps.client, await listRuns(ctx.deps.client, { app: command.app, environment: command.environment, limit: 10 }));
      return ephemeral(describeRuns(command.environment ? `${command.app} / ${command.environment}` : command.app, runs));
    }
    case 'approve':
    case 'reject': return decide(ctx, command);
    case 'cancel': return cancel(ctx, command);
    case 'backup': return backup(ctx, command);
    case 'restore': return restore(ctx, command);
    case 'migrate': return migrate(ctx, command);
    case 'restart': return restart(ctx, command);
    case 'stop':
    case 'start':
    case 'scale': return scale(ctx, command);
    case 'lock': return lock(ctx, command);
    case 'unlock': return unlock(ctx, command);
  }
}

class CommandContext {
  readonly config: AppsConfig;
  constructor(readonly deps: ApiDeps, readonly caller: SlackCaller) {
    this.config = deps.loadApps();
  }

  get trigger(): Trigger {
    return { source: 'slack', actor: this.caller.userId, identity: this.caller.userId, deliveryId: this.caller.requestKey };
  }

  audit(action: string, target: string, outcome: AuditOutcome, detail?: string): void {
    auditLog(this.deps.logger, { actor: this.caller.userId, action, target, outcome, source: 'slack', detail });
  }

  /** Undefined when allowed; otherwise the refusal to answer with, already audit-logged. */
  check(action: string, target: string, decision: AuthorizationDecision): SlackResponse | undefined {
    if (decision.isAllowed) return undefined;
    this.audit(action, target, 'refused', decision.reason);
    return refusal(decision.reason);
  }

  checkApp(action: string, permission: AppAction, app: string, environment: string): SlackResponse | undefined {
    return this.check(action, `${app}/${environment}`, authorizeAppAction(this.config, this.caller.userId, permission, app, environment));
  }
}

async function deploy(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'deploy' }>): Promise<SlackResponse> {
  const refused = ctx.checkApp('deploy', 'deploy', command.app, command.environment);
  if (refused) return refused;
  const branch = ctx.config.apps[command.app]!.environments[command.environment]!.branch;
  const ref = command.sha ? undefined : command.ref ?? branch;
  let started;
  try {
    started = await startDeploy(ctx.deps, { app: command.app, environment: command.environment, ref, sha: command.sha, breakGlass: command.breakGlass }, ctx.trigger);
  } catch (err) {
    // A lock's or a freeze's refusal (409), already audit-logged by startDeploy, says who, why and what to do.
    if (err instanceof HttpError && err.statusCode === 409) return refusal(err.message);
    throw err;
  }
  const what = command.sha ?? ref ?? 'the default branch';
  const queued = started.disposition === 'queued' ? ' It waits for the deploy in progress.' : '';
  return inChannel(slack`:rocket: ${mention(ctx.caller.userId)} started a deploy of ${command.app} to ${command.environment} (${what}): \`${started.workflowId}\`.${queued}`);
}

async function promote(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'promote' }>): Promise<SlackResponse> {
  const refused = ctx.checkApp('promote', 'deploy', command.app, command.to);
  if (refused) return refused;
  let started;
  try {
    started = await startPromotion(ctx.deps, { app: command.app, from: command.from, to: command.to }, ctx.trigger);
  } catch (err) {
    // Unverified, not soaked, locked or frozen (409, audit-logged by startPromotion): the reason says which.
    if (err instanceof HttpError && err.statusCode === 409) return refusal(err.message);
    throw err;
  }
  return inChannel(slack`:rocket: ${mention(ctx.caller.userId)} promoted ${started.image} from ${command.from} to ${command.to} of ${command.app}: \`${started.workflowId}\`.`);
}

async function rollback(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'rollback' }>): Promise<SlackResponse> {
  const refused = ctx.checkApp('rollback', 'rollback', command.app, command.environment);
  if (refused) return refused;
  const target = command.image ? { image: command.image } : command.releaseVersion !== undefined ? { releaseVersion: command.releaseVersion } : undefined;
  const workflowId = await requestRollback(ctx.deps.client, ctx.deps.taskQueue, {
    app: command.app, environment: command.environment, target, reason: `requested in Slack by ${ctx.caller.userId}`, trigger: ctx.trigger,
  });
  ctx.deps.metrics.runsStarted.inc({ kind: 'rollback' });
  ctx.audit('rollback', `${command.app}/${command.environment}`, 'allowed', workflowId);
  const to = command.image ?? (command.releaseVersion !== undefined ? `release v${command.releaseVersion}` : 'the last good release');
  return inChannel(slack`:rewind: ${mention(ctx.caller.userId)} started a rollback of ${command.app} ${command.environment} to ${to}: \`${workflowId}\`.`);
}

async function restart(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'restart' }>): Promise<SlackResponse> {
  const refused = ctx.checkApp('restart', 'rollback', command.app, command.environment);
  if (refused) return refused;
  const run = await requestIncidentRunbook(ctx.deps.client, ctx.deps.taskQueue, {
    app: command.app, environment: command.environment, reason: command.reason ?? `requested in Slack by ${ctx.caller.userId}`, trigger: ctx.trigger,
  });
  ctx.deps.metrics.runsStarted.inc({ kind: 'incident' });
  ctx.audit('restart', `${command.app}/${command.environment}`, 'allowed', run.workflowId);
  const already = run.disposition === 'duplicate' ? ' (already running)' : '';
  return inChannel(slack`:ambulance: ${mention(ctx.caller.userId)} started the incident runbook of ${command.app} ${command.environment}${already}: \`${run.workflowId}\`.`);
}

async function scale(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'stop' | 'start' | 'scale' }>): Promise<SlackResponse> {
  const refused = ctx.checkApp(command.name, 'deploy', command.app, command.environment);
  if (refused) return refused;
  const run = await requestScale(ctx.deps.client, ctx.deps.taskQueue, {
    app: command.app, environment: command.environment, action: command.name,
    ...(command.name === 'scale' ? { count: command.count, ...(command.region ? { region: command.region } : {}) } : {}),
    reason: (command.name === 'stop' ? command.reason : undefined) ?? `requested in Slack by ${ctx.caller.userId}`, trigger: ctx.trigger,
  });
  ctx.deps.metrics.runsStarted.inc({ kind: 'scale' });
  ctx.audit(command.name, `${command.app}/${command.environment}`, 'allowed', run.workflowId);
  return inChannel(slack`:control_knobs: ${mention(ctx.caller.userId)} started ${command.name} of ${command.app} ${command.environment}: \`${run.workflowId}\`.`);
}

async function status(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'status' }>): Promise<SlackResponse> {
  const target = { app: command.app, environment: command.environment };
  const queue = await deployQueueStatus(ctx.deps.client, target);
  const current = queue?.running ? await runStatus(ctx.deps.client, queue.running.workflowId) : undefined;
  const latest = current ? undefined : (await listRuns(ctx.deps.client, { ...target, limit: 1 }))[0];
  const latestStatus = latest?.status === 'RUNNING' ? await runStatus(ctx.deps.client, latest.workflowId).catch(() => undefined) : undefined;
  return ephemeral(describeQueue(command.app, command.environment, queue, current ?? latestStatus, latest));
}

/** The run a command or button names, with the app (or database) it concerns. */
export async function lookUpRun(deps: ApiDeps, workflowId: string): Promise<RunStatus> {
  try {
    return await runStatus(deps.client, workflowId);
  } catch (err) {
    throw new Error(`no run \`${workflowId}\` answers (${(err as Error).message}); see /flightdeck history <app>`);
  }
}

async function decide(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'approve' | 'reject' }>): Promise<SlackResponse> {
  const run = await lookUpRun(ctx.deps, command.workflowId);
  const refused = ctx.check(command.name, command.workflowId, authorizeRunAction(ctx.config, ctx.caller.userId, 'approve', run));
  if (refused) return refused;
  await decideApproval(ctx.deps.client, command.workflowId, { isApproved: command.name === 'approve', actor: ctx.caller.userId, comment: command.comment });
  ctx.audit(command.name, command.workflowId, 'allowed');
  return inChannel(slack`${command.name === 'approve' ? ':white_check_mark:' : ':x:'} ${mention(ctx.caller.userId)} ${command.name === 'approve' ? 'approved' : 'rejected'} \`${command.workflowId}\`.`);
}

/** Cancelling needs the permission that starting that kind of run needs. */
function checkCancel(ctx: CommandContext, run: RunStatus): SlackResponse | undefined {
  if (run.kind === 'deploy' || run.kind === 'rollback') return ctx.checkApp('cancel', run.kind, run.app ?? '', run.environment ?? '');
  if ((run.kind === 'backup' || run.kind === 'restore') && run.database) {
    return ctx.check('cancel', run.workflowId, authorizeDatabaseAction(ctx.config, ctx.caller.userId, run.kind, run.database));
  }
  return ephemeral(slack`A ${run.kind} run cannot be cancelled from Slack; use flightdeck cancel ${run.workflowId}.`);
}

async function cancel(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'cancel' }>): Promise<SlackResponse> {
  const run = await lookUpRun(ctx.deps, command.workflowId);
  const refused = checkCancel(ctx, run);
  if (refused) return refused;
  await cancelRun(ctx.deps.client, command.workflowId, { actor: ctx.caller.userId, reason: command.reason ?? 'from Slack' });
  ctx.audit('cancel', command.workflowId, 'allowed', command.reason);
  return inChannel(slack`:octagonal_sign: ${mention(ctx.caller.userId)} cancelled \`${command.workflowId}\`; it stops at its next safe point (a deploy that had started rolling out rolls back).`);
}

async function backup(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'backup' }>): Promise<SlackResponse> {
  const refused = ctx.check('backup', command.database, authorizeDatabaseAction(ctx.config, ctx.caller.userId, 'backup', command.database));
  if (refused) return refused;
  const workflowId = await requestBackup(ctx.deps.client, ctx.deps.taskQueue, { database: command.database, trigger: ctx.trigger });
  ctx.deps.metrics.runsStarted.inc({ kind: 'backup' });
  ctx.audit('backup', command.database, 'allowed', workflowId);
  return inChannel(slack`:floppy_disk: ${mention(ctx.caller.userId)} started a backup of ${command.database}: \`${workflowId}\`.`);
}

async function restore(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'restore' }>): Promise<SlackResponse> {
  const database = await databaseHoldingBackup(ctx, command.backupId);
  if (!database) return ephemeral(slack`No configured database has a backup \`${command.backupId}\`.`);
  const refused = ctx.check('restore', database, authorizeDatabaseAction(ctx.config, ctx.caller.userId, 'restore', database));
  if (refused) return refused;
  const workflowId = await requestRestore(ctx.deps.client, ctx.deps.taskQueue, {
    database, backupId: command.backupId, targetDatabase: command.targetDatabase, isOverwriteConfirmed: command.isOverwriteConfirmed, trigger: ctx.trigger,
  });
  ctx.deps.metrics.runsStarted.inc({ kind: 'restore' });
  ctx.audit('restore', `${database}:${command.backupId}→${command.targetDatabase}`, 'allowed', workflowId);
  return inChannel(slack`:inbox_tray: ${mention(ctx.caller.userId)} started a restore of ${command.backupId} into ${command.targetDatabase}: \`${workflowId}\`.`);
}

async function databaseHoldingBackup(ctx: CommandContext, backupId: string): Promise<string | undefined> {
  for (const database of Object.keys(ctx.config.databases)) {
    const backups = await listBackupsThroughWorker(ctx.deps.client, ctx.deps.taskQueue, database);
    if (backups.some((b) => b.backupId === backupId)) return database;
  }
  return undefined;
}

async function migrate(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'migrate' }>): Promise<SlackResponse> {
  const target = migrationTarget(ctx.config, command.target);
  if ('problem' in target) return ephemeral(slack`${target.problem}`);
  const { app, environment, backupEntry } = target;
  const changesSchema = command.action === 'apply' || command.action === 'rollback';
  if (changesSchema) {
    const decision = backupEntry
      ? authorizeDatabaseAction(ctx.config, ctx.caller.userId, 'migrate', backupEntry)
      : { isAllowed: false as const, reason: `migrations of ${app} ${environment} can be applied from Slack only through a configured database with permissions.migrate` };
    const refused = ctx.check('migrate', command.target, decision);
    if (refused) return refused;
  }
  // No backupFirst: the run takes the backup the config asks for, as the pipeline's migrations do.
  const workflowId = await requestMigration(ctx.deps.client, ctx.deps.taskQueue, { app, environment, action: command.action, steps: command.steps, trigger: ctx.trigger });
  ctx.deps.metrics.runsStarted.inc({ kind: 'migrate' });
  if (changesSchema) ctx.audit('migrate', command.target, 'allowed', `${command.action} ${workflowId}`);
  const reply = changesSchema ? inChannel : ephemeral;
  return reply(slack`:building_construction: ${mention(ctx.caller.userId)} started migrate ${command.action}${command.steps ? ` ${command.steps}` : ''} for ${app} ${environment}: \`${workflowId}\`.`);
}

/** `migrate <name>`: a configured database (the one environment that uses it migrates) or an app with one database. */
function migrationTarget(config: AppsConfig, name: string): EnvironmentDatabase | { problem: string } {
  if (ownValue(config.databases, name)) {
    const users = environmentsUsingDatabase(config, name);
    if (users.length === 1) return users[0]!;
    if (users.length === 0) return { problem: `No app environment uses database ${name} (environments.<name>.database with its secret).` };
    return { problem: `Database ${name} is used by ${users.map((u) => `${u.app} ${u.environment}`).join(', ')}: migrate it from one of them with the CLI.` };
  }
  try {
    return resolveEnvironmentDatabase(config, name);
  } catch (err) {
    if (err instanceof ConfigError) return { problem: err.problems.join('; ') };
    throw err;
  }
}

async function lock(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'lock' }>): Promise<SlackResponse> {
  const subject = `${command.app}/${command.environment}`;
  const refused = ctx.checkApp('lock', 'lock', command.app, command.environment);
  if (refused) return refused;
  const result = await lockDeploys(ctx.deps.client, ctx.deps.taskQueue, {
    app: command.app, environment: command.environment, owner: ctx.caller.userId,
    reason: command.reason ?? `locked in Slack by ${ctx.caller.userId}`, expiresIn: command.expiresIn,
  });
  if (result.wasAlreadyLocked) return ephemeral(slack`${subject} is already locked. ${describeLock(result.lock)}. Unlock first to change the lock.`);
  ctx.audit('lock', subject, 'allowed', command.reason);
  return inChannel(slack`:lock: ${mention(ctx.caller.userId)} locked deploys of ${subject} ${lockTerms(result.lock)}. Rollbacks still run.`);
}

async function unlock(ctx: CommandContext, command: Extract<RunnableCommand, { name: 'unlock' }>): Promise<SlackResponse> {
  const subject = `${command.app}/${command.environment}`;
  const refused = ctx.checkApp('unlock', 'lock', command.app, command.environment);
  if (refused) return refused;
  const { removed, waitingWorkflowId } = await unlockDeploys(ctx.deps.client, { app: command.app, environment: command.environment, actor: ctx.caller.userId });
  if (!removed) return ephemeral(slack`${subject} was not locked.`);
  ctx.audit('unlock', subject, 'allowed', `was locked by ${removed.owner}: ${removed.reason}`);
  const released = waitingWorkflowId ? ` The waiting deploy \`${waitingWorkflowId}\` starts now.` : '';
  return inChannel(slack`:unlock: ${mention(ctx.caller.userId)} unlocked deploys of ${subject} (locked by ${mention(removed.owner)}: ${removed.reason}).${released}`);
}

function targetOf(command: RunnableCommand): string {
  if ('workflowId' in command) return command.workflowId;
  if (command.name === 'promote') return `${command.app}/${command.to}`;
  if ('app' in command) return command.environment ? `${command.app}/${command.environment}` : command.app;
  if ('database' in command) return command.database;
  if ('backupId' in command) return command.backupId;
  return command.target;
}
