// @ts-check
// fly.toml: where it is found (-c path or dir, else the working directory), which app it names,
// and the parts the simulator acts on (release_command, strategy, checks, env).
import fs from 'node:fs';
import path from 'node:path';
import { parseToml } from './fly-toml.js';
import { parseGoDuration } from './duration.js';
import { FlyError } from './errors.js';

export const CONFIG_FILE_NAME = 'fly.toml';
const DEFAULT_INTERNAL_PORT = 8080;

/**
 * The fly.toml path for this command, or null when there is none.
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} [workdir] deploy's WORKDIR argument
 */
export function findConfigFile(ctx, workdir) {
  const configFlag = /** @type {string} */ (ctx.flags.config);
  if (configFlag) {
    const configPath = path.resolve(ctx.cwd, configFlag);
    return isDirectory(configPath) ? path.join(configPath, CONFIG_FILE_NAME) : configPath;
  }
  const candidate = path.join(path.resolve(ctx.cwd, workdir ?? '.'), CONFIG_FILE_NAME);
  return fs.existsSync(candidate) ? candidate : null;
}

/**
 * The local fly.toml, normalised, or null when there is none.
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} [workdir]
 * @returns {import('./state.js').AppConfig | null}
 */
export function loadLocalConfig(ctx, workdir) {
  const configPath = findConfigFile(ctx, workdir);
  if (!configPath) return null;
  let text;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch {
    // Like flyctl, a missing explicit -c file only matters when the app name must come from it.
    return null;
  }
  return normalizeAppConfig(parseToml(text));
}

/**
 * App selection: -a/--app, then FLY_APP, then `app` in fly.toml.
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} [workdir]
 */
export function resolveAppName(ctx, workdir) {
  const name = ctx.flags.app || ctx.env.FLY_APP || loadLocalConfig(ctx, workdir)?.appName;
  if (!name) {
    throw new FlyError('the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag');
  }
  return /** @type {string} */ (name);
}

/**
 * @param {Record<string, any>} raw parsed fly.toml
 * @returns {import('./state.js').AppConfig}
 */
export function normalizeAppConfig(raw) {
  const deploy = raw.deploy ?? {};
  const httpService = raw.http_service;
  const internalPort = Number(httpService?.internal_port ?? raw.services?.[0]?.internal_port ?? DEFAULT_INTERNAL_PORT);
  return {
    appName: String(raw.app ?? ''),
    primaryRegion: String(raw.primary_region ?? ''),
    env: Object.fromEntries(Object.entries(raw.env ?? {}).map(([key, value]) => [key, String(value)])),
    releaseCommand: String(deploy.release_command ?? ''),
    strategy: String(deploy.strategy ?? ''),
    waitTimeout: String(deploy.wait_timeout ?? ''),
    releaseCommandTimeout: String(deploy.release_command_timeout ?? ''),
    maxUnavailable: deploy.max_unavailable === undefined ? null : Number(deploy.max_unavailable),
    internalPort,
    checks: collectChecks(raw, internalPort),
    buildImage: String(raw.build?.image ?? ''),
    files: (raw.files ?? []).map((/** @type {Record<string, any>} */ file) => ({ guestPath: String(file.guest_path ?? ''), localPath: String(file.local_path ?? '') })),
    hasMachineChecks: (raw.http_service?.machine_checks ?? []).length > 0 || (raw.machine_checks ?? []).length > 0,
    problems: validationProblems(raw),
  };
}

const DEPLOY_STRATEGIES = ['canary', 'rolling', 'immediate', 'bluegreen'];

/**
 * What flyctl's cfg.Validate reports (appconfig/validation.go), for the parts the simulator models:
 * each problem is a line of the "extra info" flyctl prints on stdout before `App configuration is not valid`.
 * @param {Record<string, any>} raw
 * @returns {string[]}
 */
function validationProblems(raw) {
  /** @type {string[]} */
  const problems = [];
  const strategy = raw.deploy?.strategy;
  if (strategy && !DEPLOY_STRATEGIES.includes(strategy)) {
    problems.push(`unsupported deployment strategy '${strategy}'; Apps v2 supports the following strategies: ${DEPLOY_STRATEGIES.join(', ')}`);
  }
  for (const [name, check] of Object.entries(raw.checks ?? {})) {
    const intervalMs = check.interval === undefined ? null : parseGoDuration(String(check.interval));
    if (intervalMs !== null && intervalMs < 2000) problems.push(`Check '${name}' interval is too short: ${check.interval}, minimum is 2 seconds`);
  }
  return problems;
}

/**
 * Service checks are named by the platform servicecheck-NN-<type>-<port>; top-level [checks.X] keep X.
 * @param {Record<string, any>} raw
 * @param {number} internalPort
 * @returns {import('./state.js').CheckDefinition[]}
 */
function collectChecks(raw, internalPort) {
  /** @type {Array<Record<string, any>>} */
  const serviceChecks = [];
  for (const check of raw.http_service?.checks ?? []) serviceChecks.push({ type: 'http', ...check });
  for (const service of raw.services ?? []) {
    for (const check of service.http_checks ?? []) serviceChecks.push({ ...check, type: 'http' });
    for (const check of service.tcp_checks ?? []) serviceChecks.push({ ...check, type: 'tcp' });
  }
  const named = serviceChecks.map((check, index) => toCheck(`servicecheck-${String(index).padStart(2, '0')}-${check.type}-${internalPort}`, check, internalPort));
  const topLevel = Object.entries(raw.checks ?? {}).map(([name, check]) => toCheck(name, check, Number(check.port ?? internalPort)));
  return [...named, ...topLevel];
}

/**
 * @param {string} name
 * @param {Record<string, any>} check
 * @param {number} port
 * @returns {import('./state.js').CheckDefinition}
 */
function toCheck(name, check, port) {
  return {
    name,
    type: check.type === 'tcp' ? 'tcp' : 'http',
    port,
    path: String(check.path ?? '/'),
    interval: String(check.interval ?? '15s'),
    timeout: String(check.timeout ?? '2s'),
    gracePeriod: String(check.grace_period ?? '1s'),
    method: String(check.method ?? 'GET').toUpperCase(),
  };
}

/** @param {string} candidate */
function isDirectory(candidate) {
  try {
    return fs.statSync(candidate).isDirectory();
  } catch {
    return false;
  }
}
