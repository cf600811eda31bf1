// Who may do what, from the config file: lists of Slack user ids per app, environment and action,
// and per database. The workflows check again where it matters (approvers), so this is the first
// gate, not the only one. Rules for absent lists are in docs/slack.md; in short:
//   deploy, rollback  absent: anyone, unless the environment requires approval (then its approvers)
//   lock              absent: whoever may deploy
//   approve           absent: approval.approvers (absent too: nobody)
//   backup            absent: anyone
//   restore, migrate  absent: nobody (restore falls back to the restore lists of the environments whose database it is)
//   approve (four-eyes) the authenticated requester of a run never approves it, unless approval.selfApproval
// Reading status and history is open to anyone in an allowed channel.
import { ownValue, type AppsConfig, type EnvironmentConfig } from './config.js';
import { environmentsUsingDatabase } from './environmentDatabase.js';
import type { RunStatus, Trigger } from './messages.js';

/** What a decision is about: the run's kind, app environment or database, and who started it. */
export type RunSubject = Pick<RunStatus, 'kind' | 'app' | 'environment' | 'database'> & { trigger?: Trigger };

export type AppAction = 'deploy' | 'rollback' | 'approve' | 'lock';
export type DatabaseAction = 'backup' | 'restore' | 'migrate';

export type AuthorizationDecision = { isAllowed: true } | { isAllowed: false; reason: string };

const ALLOWED: AuthorizationDecision = { isAllowed: true };

/**
 * Slack commands and buttons are accepted only in slack.allowedChannels, when that list is set; a
 * request that names no channel is then refused, never waved through.
 */
export function authorizeChannel(config: AppsConfig, channelId: string | undefined): AuthorizationDecision {
  const allowed = config.slack.allowedChannels;
  if (!allowed) return ALLOWED;
  if (channelId === undefined) return { isAllowed: false, reason: `Flightdeck takes commands and buttons only in: ${allowed.join(', ')}, and this request named no channel` };
  if (allowed.includes(channelId)) return ALLOWED;
  return { isAllowed: false, reason: `Flightdeck does not take commands in this channel (${channelId}); use one of: ${allowed.join(', ')}` };
}

/** May `user` do `action` on an app's environment? Unknown apps and environments are refused. */
export function authorizeAppAction(config: AppsConfig, user: string, action: AppAction, app: string, environment: string): AuthorizationDecision {
  const appConfig = ownValue(config.apps, app);
  const env = appConfig ? ownValue(appConfig.environments, environment) : undefined;
  if (!env) return { isAllowed: false, reason: `${app}/${environment} is not a configured app and environment` };
  const allowed = allowedForApp(env, action);
  if (allowed === 'anyone' || allowed.includes(user)) return ALLOWED;
  return { isAllowed: false, reason: `${user} may not ${action} ${app}/${environment}; ${describeList(allowed)}` };
}

/**
 * May `user` decide on this run (a button or /flightdeck approve)? A restore waiting for approval is
 * the database's: its restorers decide. Everything else is an app environment's.
 */
export function authorizeRunAction(config: AppsConfig, user: string, action: AppAction, run: RunSubject): AuthorizationDecision {
  if (action === 'approve' && isOwnRequest(config, user, run)) {
    return { isAllowed: false, reason: `${user} requested this ${run.kind} and cannot approve it too: another approver must (four-eyes)` };
  }
  if (run.kind === 'restore' && action === 'approve') return authorizeDatabaseAction(config, user, 'restore', run.database ?? '');
  return authorizeAppAction(config, user, action, run.app ?? '', run.environment ?? '');
}

/** Four-eyes: the run's authenticated requester may not approve it, unless its environment allows (approval.selfApproval). */
function isOwnRequest(config: AppsConfig, user: string, run: RunSubject): boolean {
  const requester = run.trigger?.identity ?? (run.trigger?.source === 'slack' ? run.trigger.actor : undefined);
  if (requester !== user) return false;
  const env = run.kind === 'deploy' && run.app && run.environment ? ownValue(config.apps, run.app)?.environments[run.environment] : undefined;
  return !env?.approval.selfApproval;
}

/** May `user` do `action` on a configured database? */
export function authorizeDatabaseAction(config: AppsConfig, user: string, action: DatabaseAction, database: string): AuthorizationDecision {
  if (!ownValue(config.databases, database)) return { isAllowed: false, reason: `${database} is not a configured database` };
  const allowed = allowedForDatabase(config, database, action);
  if (allowed === 'anyone' || allowed.includes(user)) return ALLOWED;
  return { isAllowed: false, reason: `${user} may not ${action} ${database}; ${describeList(allowed)}` };
}

function allowedForApp(env: EnvironmentConfig, action: AppAction): string[] | 'anyone' {
  if (action === 'approve') return env.permissions.approve ?? env.approval.approvers;
  if (action === 'lock' && env.permissions.lock) return env.permissions.lock;
  const listed = action === 'rollback' ? env.permissions.rollback : env.permissions.deploy;
  if (listed) return listed;
  // An environment that needs an approver for every deploy is not open to everyone by omission.
  return env.approval.required ? env.approval.approvers : 'anyone';
}

function allowedForDatabase(config: AppsConfig, database: string, action: DatabaseAction): string[] | 'anyone' {
  const dbConfig = config.databases[database]!;
  const listed = dbConfig.permissions[action];
  if (listed) return listed;
  if (action === 'backup') return 'anyone';
  if (action === 'restore') {
    // Only the environments whose own database this is (same secret): staging's restorers never restore production.
    const restorers = environmentsUsingDatabase(config, database)
      .flatMap(({ app, environment }) => config.apps[app]!.environments[environment]!.permissions.restore ?? []);
    if (restorers.length) return [...new Set(restorers)];
  }
  return [];
}

function describeList(allowed: string[]): string {
  return allowed.length ? `allowed: ${allowed.join(', ')}` : 'nobody is allowed to (see docs/slack.md to grant it)';
}
