// Checks a command line against the config before anything connects: unknown names are refused with
// the list of what exists, and values that become workflow ids or arguments are validated here.
import type { z } from 'zod';
import { ConfigError, ownValue, resolveTarget, type AppConfig, type AppsConfig, type ResolvedTarget } from '../lib/config.js';
import { resolveDatabase } from '../lib/databaseOperations.js';
import { UsageError } from './usageError.js';

/** Positional arguments, with the command's usage in the error when there are too few or too many. */
export function expectArguments(positionals: string[], command: string, min: number, max: number): string[] {
  if (positionals.length < min) throw new UsageError(`${command}: missing ${min - positionals.length === 1 ? 'an argument' : 'arguments'}`, command);
  if (positionals.length > max) throw new UsageError(`${command}: unexpected argument "${positionals[max]}"`, command);
  return positionals;
}

/** An app and environment from the config; the environment may be left out when the app has only one. */
export function resolveAppEnvironment(config: AppsConfig, command: string, app: string, environment: string | undefined): ResolvedTarget {
  const appConfig = ownValue(config.apps, app);
  if (appConfig && environment === undefined) {
    const environments = Object.keys(appConfig.environments);
    if (environments.length !== 1) throw new UsageError(`${command}: app "${app}" has environments ${environments.join(', ')}; say which, e.g. flightdeck ${command} ${app} ${environments[0]}`, command);
    return asUsage(() => resolveTarget(config, app, environments[0]!), command);
  }
  return asUsage(() => resolveTarget(config, app, environment ?? ''), command);
}

/** A configured app; unknown names are refused with the list of configured apps. */
export function resolveApp(config: AppsConfig, app: string): AppConfig {
  const appConfig = ownValue(config.apps, app);
  if (!appConfig) asUsage(() => resolveTarget(config, app, ''));
  return appConfig!;
}

export function resolveConfiguredDatabase(config: AppsConfig, command: string, database: string): void {
  asUsage(() => resolveDatabase(config, database), command);
}

/** A value checked by one of lib/validate.ts's schemas; the schema's message says what is expected. */
export function validValue<T>(schema: z.ZodType<T>, value: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${what} "${value}" is not valid: expected ${parsed.error.issues[0]?.message ?? 'another value'}`);
  return parsed.data;
}

export function wholeNumber(value: string | boolean | undefined, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`--${option} must be a whole number of at least ${min}, got "${text}"`);
  return Number(text);
}

export function text(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Run ids are workflow ids as printed by deploy, history and status. */
export function runId(value: string): string {
  if (!/^[\w./:@-]{1,400}$/.test(value)) throw new UsageError(`"${value}" is not a run id; run ids look like deploy/shop/production/abc1234-1a2b3c4d (see flightdeck history)`);
  return value;
}

export function asUsage<T>(fn: () => T, command?: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.problems.join('; '), command);
    throw err;
  }
}
