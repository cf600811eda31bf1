// `/flightdeck <text>` → a command. Pure: the names it may resolve against come in as a catalog, so
// an app's environment is told apart from a ref by the config, not by guessing.
import { commitSha, duration, gitRef, imageRef, resourceName } from '../../lib/validate.js';

export interface SlackCatalog {
  /** app → its environment names, in config order. */
  apps: Record<string, string[]>;
  databases: string[];
}

export type MigrateAction = 'status' | 'plan' | 'apply' | 'rollback';

export type SlackCommand =
  | { name: 'help'; problem?: string }
  | { name: 'deploy'; app: string; environment: string; ref?: string; sha?: string; breakGlass?: { reason: string } }
  | { name: 'promote'; app: string; from: string; to: string }
  | { name: 'rollback'; app: string; environment: string; releaseVersion?: number; image?: string }
  | { name: 'status'; app: string; environment: string }
  | { name: 'releases'; app: string; environment: string }
  | { name: 'history'; app: string; environment?: string }
  | { name: 'approve' | 'reject'; workflowId: string; comment?: string }
  | { name: 'cancel'; workflowId: string; reason?: string }
  | { name: 'backup'; database: string }
  | { name: 'restore'; backupId: string; targetDatabase: string; isOverwriteConfirmed: boolean }
  | { name: 'migrate'; target: string; action: MigrateAction; steps?: number }
  | { name: 'lock'; app: string; environment: string; reason?: string; expiresIn?: string }
  | { name: 'unlock'; app: string; environment: string }
  | { name: 'restart'; app: string; environment: string; reason?: string }
  | { name: 'stop'; app: string; environment: string; reason?: string }
  | { name: 'start'; app: string; environment: string }
  | { name: 'scale'; app: string; environment: string; count: number; region?: string };

export const HELP_TEXT = [
  '*Flightdeck commands*',
  '`/flightdeck deploy <app> [env] [ref] [break-glass <reason>]`: test, build and deploy a branch, tag or commit (default: the environment\'s branch); break-glass deploys through a freeze window (named people only)',
  '`/flightdeck promote <app> <from> <to>`: deploy to <to> exactly the image (and fly.toml) <from> verified; <to>\'s approval, locks and soak time apply',
  '`/flightdeck rollback <app> [env] [version|image]`: go back to the last good release, a release version (v12) or an image',
  '`/flightdeck status <app> [env]`: what runs now, what waits, and any lock',
  '`/flightdeck releases <app> [env]`: the release ledger: what ran, from which commit, and whether it was verified',
  '`/flightdeck history <app> [env]`: the latest runs',
  '`/flightdeck approve|reject <run> [comment]`: decide on a deploy waiting for approval',
  '`/flightdeck cancel <run> [reason]`: stop a deploy (rolled back if it had started rolling out)',
  '`/flightdeck backup <db>`: a verified backup now',
  '`/flightdeck restore <backup> <target> [overwrite]`: restore a backup into a database',
  '`/flightdeck migrate <db> status|plan|apply|rollback N`: schema migrations',
  '`/flightdeck restart <app> [env] [reason]`: the incident runbook: restart machines one by one, verify, roll back (or ask) if still failing',
  '`/flightdeck stop <app> <env> [reason]` / `start <app> <env>`: emergency stop (scale to 0, counts remembered) and the way back',
  '`/flightdeck scale <app> <env> <count> [region]`: set the machine count, then check it and its health',
  '`/flightdeck lock <app> [env] [for 2h] [reason]` / `unlock <app> [env]`: stop or allow new deploys (rollbacks still run)',
  'Without [env]: the app\'s only environment, else its `staging` environment. A ref or reason needs the environment named first.',
].join('\n');

class CommandProblem extends Error {}

export function parseSlackCommand(text: string, catalog: SlackCatalog): SlackCommand {
  const [verb, ...args] = text.trim().split(/\s+/).filter(Boolean);
  try {
    switch (verb?.toLowerCase()) {
      case 'deploy': return parseDeploy(args, catalog);
      case 'promote': return parsePromote(args, catalog);
      case 'rollback': return parseRollback(args, catalog);
      case 'status': {
        const { app, environment } = appAndEnvironment(args, catalog, 0);
        return { name: 'status', app, environment };
      }
      case 'releases': {
        const { app, environment } = appAndEnvironment(args, catalog, 0);
        return { name: 'releases', app, environment };
      }
      case 'history': return parseHistory(args, catalog);
      case 'approve':
      case 'reject': return { name: verb.toLowerCase() as 'approve' | 'reject', workflowId: runId(args[0]), comment: args.slice(1).join(' ') || undefined };
      case 'cancel': return { name: 'cancel', workflowId: runId(args[0]), reason: args.slice(1).join(' ') || undefined };
      case 'backup': return { name: 'backup', database: knownDatabase(args[0], catalog, args.length, 1) };
      case 'restore': return parseRestore(args);
      case 'migrate': return parseMigrate(args, catalog);
      case 'lock': return parseLock(args, catalog);
      case 'unlock': {
        const { app, environment } = appAndEnvironment(args, catalog, 0);
        return { name: 'unlock', app, environment };
      }
      case 'restart': {
        const { app, environment, rest } = appAndEnvironment(args, catalog, Infinity);
        return { name: 'restart', app, environment, reason: rest.join(' ') || undefined };
      }
      case 'stop': {
        const { app, environment, rest } = namedEnvironment('stop', args, catalog, Infinity);
        return { name: 'stop', app, environment, reason: rest.join(' ') || undefined };
      }
      case 'start': {
        const { app, environment } = namedEnvironment('start', args, catalog, 0);
        return { name: 'start', app, environment };
      }
      case 'scale': return parseScale(args, catalog);
      case undefined:
      case 'help': return { name: 'help' };
      default: return { name: 'help', problem: `Unknown command "${verb}".` };
    }
  } catch (err) {
    if (err instanceof CommandProblem) return { name: 'help', problem: err.message };
    throw err;
  }
}

function parseDeploy(args: string[], catalog: SlackCatalog): SlackCommand {
  const glassAt = args.findIndex((word) => word.toLowerCase() === 'break-glass');
  const { app, environment, rest } = appAndEnvironment(glassAt < 0 ? args : args.slice(0, glassAt), catalog, 1);
  const reason = glassAt < 0 ? undefined : args.slice(glassAt + 1).join(' ').trim();
  if (reason === '') throw new CommandProblem('break-glass needs a reason, e.g. `/flightdeck deploy shop production break-glass payment outage hotfix`.');
  const breakGlass = reason === undefined ? {} : { breakGlass: { reason } };
  const ref = rest[0];
  if (ref === undefined) return { name: 'deploy', app, environment, ...breakGlass };
  if (commitSha.safeParse(ref).success) return { name: 'deploy', app, environment, sha: ref, ...breakGlass };
  if (!gitRef.safeParse(ref).success) throw new CommandProblem(`"${ref}" is not a branch, tag or commit sha.`);
  return { name: 'deploy', app, environment, ref, ...breakGlass };
}

function parsePromote(args: string[], catalog: SlackCatalog): SlackCommand {
  const { app, environment: from, rest } = appAndEnvironment(args, catalog, 1);
  const to = rest[0];
  const environments = catalog.apps[app]!;
  if (args[1] === undefined || to === undefined) throw new CommandProblem(`Say from which environment to which, e.g. \`/flightdeck promote ${app} staging production\`.`);
  if (!environments.includes(to)) throw new CommandProblem(`${app} has no environment "${to}"; it has: ${environments.join(', ')}.`);
  return { name: 'promote', app, from, to };
}

function parseRollback(args: string[], catalog: SlackCatalog): SlackCommand {
  const { app, environment, rest } = appAndEnvironment(args, catalog, 1);
  const target = rest[0];
  if (target === undefined) return { name: 'rollback', app, environment };
  const version = /^v?(\d{1,9})$/.exec(target);
  if (version) return { name: 'rollback', app, environment, releaseVersion: Number(version[1]) };
  if (!imageRef.safeParse(target).success) throw new CommandProblem(`"${target}" is neither a release version (v12) nor an image reference.`);
  return { name: 'rollback', app, environment, image: target };
}

function parseHistory(args: string[], catalog: SlackCatalog): SlackCommand {
  const app = knownApp(args[0], catalog);
  if (args.length === 1) return { name: 'history', app };
  const { environment } = appAndEnvironment(args, catalog, 0);
  return { name: 'history', app, environment };
}

function parseRestore(args: string[]): SlackCommand {
  const [backupId, targetDatabase, confirmation, ...extra] = args;
  if (!backupId || !targetDatabase || extra.length) throw new CommandProblem('Usage: restore <backup> <target database> [overwrite]');
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(backupId)) throw new CommandProblem(`"${backupId}" is not a backup id.`);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(targetDatabase)) throw new CommandProblem(`"${targetDatabase}" is not a Postgres database name (lowercase letters, digits, underscores).`);
  if (confirmation !== undefined && confirmation !== 'overwrite') throw new CommandProblem(`Say "overwrite" to replace an existing database, not "${confirmation}".`);
  return { name: 'restore', backupId, targetDatabase, isOverwriteConfirmed: confirmation === 'overwrite' };
}

function parseMigrate(args: string[], catalog: SlackCatalog): SlackCommand {
  const [target, action, count, ...extra] = args;
  if (!target || !action || extra.length) throw new CommandProblem('Usage: migrate <db> status|plan|apply|rollback N');
  if (!resourceName.safeParse(target).success || (!catalog.databases.includes(target) && !Object.hasOwn(catalog.apps, target))) {
    throw new CommandProblem(`Unknown database "${target}"; configured: ${[...catalog.databases].join(', ') || '(none)'}.`);
  }
  if (action === 'rollback') {
    if (!count || !/^[1-9]\d{0,3}$/.test(count)) throw new CommandProblem('migrate rollback needs how many migrations to undo, e.g. "rollback 1".');
    return { name: 'migrate', target, action, steps: Number(count) };
  }
  if (action !== 'status' && action !== 'plan' && action !== 'apply') throw new CommandProblem(`Unknown migrate action "${action}"; use status, plan, apply or rollback N.`);
  if (count !== undefined) throw new CommandProblem(`migrate ${action} takes no count.`);
  return { name: 'migrate', target, action };
}

function parseLock(args: string[], catalog: SlackCatalog): SlackCommand {
  const { app, environment, rest } = appAndEnvironment(args, catalog, Infinity);
  let expiresIn: string | undefined;
  let reasonWords = rest;
  if (rest[0] === 'for') {
    if (!rest[1] || !duration.safeParse(rest[1]).success) throw new CommandProblem(`"for" needs a duration like 30m, 2h or 1d${rest[1] ? `, not "${rest[1]}"` : ''}.`);
    expiresIn = rest[1];
    reasonWords = rest.slice(2);
  }
  return { name: 'lock', app, environment, expiresIn, reason: reasonWords.join(' ') || undefined };
}

function parseScale(args: string[], catalog: SlackCatalog): SlackCommand {
  const { app, environment, rest } = namedEnvironment('scale', args, catalog, 2);
  const [count, region] = rest;
  if (!count || !/^\d{1,3}$/.test(count) || Number(count) > 100) throw new CommandProblem('scale needs a machine count from 0 to 100, e.g. `/flightdeck scale shop production 3 ams`.');
  if (region !== undefined && !/^[a-z]{3}$/.test(region)) throw new CommandProblem(`"${region}" is not a Fly region code such as ams or iad.`);
  return { name: 'scale', app, environment, count: Number(count), ...(region ? { region } : {}) };
}

/** Stopping and scaling change what runs: the environment is always named, never a default. */
function namedEnvironment(verb: string, args: string[], catalog: SlackCatalog, maxRest: number): { app: string; environment: string; rest: string[] } {
  if (args.length < 2) throw new CommandProblem(`${verb} needs the app and the environment, e.g. \`/flightdeck ${verb} shop production\`.`);
  return appAndEnvironment(args, catalog, maxRest);
}

/**
 * `<app> [env] [more…]`: the environment may be left out only when nothing follows, so a mistyped
 * environment is never taken for a ref or a reason.
 */
function appAndEnvironment(args: string[], catalog: SlackCatalog, maxRest: number): { app: string; environment: string; rest: string[] } {
  const app = knownApp(args[0], catalog);
  const environments = catalog.apps[app]!;
  const named = args[1];
  if (named === undefined) return { app, environment: defaultEnvironment(app, environments), rest: [] };
  if (!environments.includes(named)) throw new CommandProblem(`${app} has no environment "${named}"; it has: ${environments.join(', ')}.`);
  const rest = args.slice(2);
  if (rest.length > maxRest) throw new CommandProblem(`Too many words after "${app} ${named}": ${rest.join(' ')}.`);
  return { app, environment: named, rest };
}

/** The app's only environment, else its `staging`; anything else must be named. */
export function defaultEnvironment(app: string, environments: string[]): string {
  if (environments.length === 1) return environments[0]!;
  if (environments.includes('staging')) return 'staging';
  throw new CommandProblem(`${app} has several environments (${environments.join(', ')}); name one.`);
}

function knownApp(name: string | undefined, catalog: SlackCatalog): string {
  const apps = Object.keys(catalog.apps);
  if (!name) throw new CommandProblem(`Name an app; configured: ${apps.join(', ') || '(none)'}.`);
  if (!Object.hasOwn(catalog.apps, name)) throw new CommandProblem(`Unknown app "${name}"; configured: ${apps.join(', ') || '(none)'}.`);
  return name;
}

function knownDatabase(name: string | undefined, catalog: SlackCatalog, argCount: number, maxArgs: number): string {
  if (!name || !catalog.databases.includes(name)) throw new CommandProblem(`${name ? `Unknown database "${name}"` : 'Name a database'}; configured: ${catalog.databases.join(', ') || '(none)'}.`);
  if (argCount > maxArgs) throw new CommandProblem(`Too many words after "${name}".`);
  return name;
}

function runId(value: string | undefined): string {
  if (!value || !/^[A-Za-z0-9._:/-]{1,400}$/.test(value)) throw new CommandProblem('Name the run by its id, e.g. deploy/shop/production/abc123-1a2b3c4d.');
  return value;
}
