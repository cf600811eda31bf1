// What every command is: its help, its options, and a prepare step that validates the command line
// against the config before anything connects. Only what prepare returns touches Temporal.
import type { ParseArgsConfig } from 'node:util';
import type { Client } from '@temporalio/client';
import type { AppsConfig, EnvConfig } from '../lib/config.js';
import type { Output } from './output.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandInput {
  positionals: string[];
  options: OptionValues;
  config: AppsConfig;
  env: EnvConfig;
  /** Who is acting, as recorded with the run: --actor, or the local user name. A label, not an identity. */
  actor: string;
  /**
   * Who is acting, as far as Flightdeck can tell: `cli:<OS user>`. The CLI talks to Temporal directly,
   * so whoever runs it is an operator; decisions are recorded with this, never with --actor.
   */
  identity: string;
}

export interface Session {
  client: Client;
  taskQueue: string;
  env: EnvConfig;
  config: AppsConfig;
  out: Output;
}

/** Runs against Temporal and returns the exit code. */
export type PreparedCommand = (session: Session) => Promise<number>;

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** "flightdeck deploy <app> [environment] [options]" */
  usage: string;
  /** Arguments, options and examples, shown by `flightdeck help <command>`. */
  details: string;
  options?: OptionSpecs;
  /** Commands that read only the config never connect. */
  isOffline?: boolean;
  /** Validates everything (throws UsageError) and returns what to run. */
  prepare(input: CommandInput): PreparedCommand;
}
