// The command line's dispatcher: finds the command, validates its arguments against the config before
// anything connects, connects to Temporal, runs it, and turns what happened into an exit code. The
// commands call the same operations as the HTTP API and Slack.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ConfigError, loadAppsConfig, loadEnvConfig } from '../lib/config.js';
import { DeployFrozenError } from '../lib/deployFreeze.js';
import { PromotionRefused } from '../lib/promotion.js';
import { DeployLockedError } from '../lib/deployLocks.js';
import { temporalDataConverter } from '../lib/payloadCodec.js';
import { assertSearchAttributes } from '../lib/searchAttributeCheck.js';
import { temporalConnectionOptions } from '../lib/temporalConnection.js';
import type { Command, OptionSpecs, PreparedCommand, Session } from './command.js';
import { findCommand } from './commands/index.js';
import { commandHelp, generalHelp } from './help.js';
import { Output } from './output.js';
import { ExitCode, UsageError } from './usageError.js';

const COMMON_OPTIONS: OptionSpecs = {
  json: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  actor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export async function runCli(argv: string[], out = new Output(argv.includes('--json'))): Promise<number> {
  let command: Command | undefined;
  try {
    const [name, ...rest] = argv;
    if (name === undefined) {
      out.help(generalHelp());
      return ExitCode.usage;
    }
    if (name === 'help' || name === '--help' || name === '-h') return showHelp(out, rest[0]);
    command = findCommand(name);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const { positionals, values } = parseCommandLine(command, rest);
    if (values.help === true) return showHelp(out, command.name);
    const env = loadEnvConfig();
    const config = loadAppsConfig(env.FLIGHTDECK_CONFIG);
    const prepared = command.prepare({ positionals, options: values, config, env, actor: actorOf(values.actor), identity: cliIdentity() });
    return await execute(prepared, command, { env, config, out, taskQueue: env.TEMPORAL_TASK_QUEUE });
  } catch (err) {
    return reportError(out, err, command);
  }
}

function parseCommandLine(command: Command, args: string[]) {
  try {
    const { positionals, values } = parseArgs({ args, options: { ...COMMON_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    return { positionals, values: values as Record<string, string | boolean | undefined> };
  } catch (err) {
    // parseArgs explains missing values well; its unknown-option text is about positionals instead.
    const unknownOption = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']+)'/.exec((err as Error).message)?.[1] : undefined;
    throw new UsageError(`${command.name}: ${unknownOption ? `unknown option ${unknownOption}` : (err as Error).message}`, command.name);
  }
}

/** The operator's OS account, marked as a CLI (admin) identity: what approvers lists name as cli:<user>. */
export function cliIdentity(): string {
  return `cli:${os.userInfo().username}`;
}

function actorOf(value: string | boolean | undefined): string {
  const actor = typeof value === 'string' ? value.trim() : os.userInfo().username;
  if (!actor || actor.length > 200) throw new UsageError('--actor must be a name or user id of 1 to 200 characters');
  return actor;
}

async function execute(prepared: PreparedCommand, command: Command, context: Omit<Session, 'client'>): Promise<number> {
  if (command.isOffline) {
    return prepared({ ...context, get client(): Client { throw new Error(`${command.name} works without Temporal`); } });
  }
  let connection: Connection;
  try {
    connection = await Connection.connect(temporalConnectionOptions(context.env));
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${context.env.TEMPORAL_ADDRESS}: ${(err as Error).message}`);
  }
  try {
    // Every command starts or lists runs by Flightdeck's search attributes: a namespace without them is a
    // configuration problem, said as such (where they cannot be listed, the worker has warned already).
    await assertSearchAttributes(connection, context.env.TEMPORAL_NAMESPACE, () => undefined);
    return await prepared({ ...context, client: new Client({ connection, namespace: context.env.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(context.env) }) });
  } finally {
    await connection.close();
  }
}

function showHelp(out: Output, name: string | undefined): number {
  if (name === undefined) {
    out.help(generalHelp());
    return ExitCode.ok;
  }
  const command = findCommand(name);
  if (!command) throw new UsageError(`no help for unknown command "${name}"`);
  out.help(commandHelp(command));
  return ExitCode.ok;
}

/** Refusals that change nothing, and the problem code each is reported with (exit 1). */
const REFUSALS: Array<[new (...args: never[]) => Error, string]> = [
  [DeployLockedError, 'deploy-locked'],
  [DeployFrozenError, 'deploy-frozen'],
  [PromotionRefused, 'promotion-refused'],
];

function reportError(out: Output, err: unknown, command: Command | undefined): number {
  if (err instanceof UsageError) {
    const helpFor = err.helpFor ? findCommand(err.helpFor) : undefined;
    const hint = helpFor ? `usage: ${helpFor.usage}\nmore: flightdeck help ${helpFor.name}` : 'commands: flightdeck help';
    out.problem('usage', `${err.message}\n${hint}`);
    return ExitCode.usage;
  }
  if (err instanceof ConfigError) {
    out.problem('config', err.message);
    return ExitCode.usage;
  }
  const refusal = REFUSALS.find(([refused]) => err instanceof refused);
  if (refusal) {
    out.problem(refusal[1], (err as Error).message);
    return ExitCode.runFailed;
  }
  out.problem('failed', `${command ? `${command.name}: ` : ''}${(err as Error).message ?? String(err)}`);
  return ExitCode.runFailed;
}
