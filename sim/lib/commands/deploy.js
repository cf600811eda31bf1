// @ts-check
// `flyctl deploy [WORKDIR]`: verify the config, build (from WORKDIR's sim-app.json) or resolve
// (--image) the image, then deploy it to the app's machines unless --build-only.
import path from 'node:path';
import { findConfigFile, loadLocalConfig, normalizeAppConfig } from '../app-config.js';
import { splitAssignment } from '../assignments.js';
import { parseDurationFlag } from '../duration.js';
import { FlyError } from '../errors.js';
import { buildImage, resolveImageReference } from '../images.js';
import { releasesNewestFirst } from '../releases.js';
import { DEFAULT_MAX_UNAVAILABLE, DEFAULT_WAIT_TIMEOUT, deployMachinesApp } from '../deploy/machines-app.js';

const DEFAULT_RELEASE_COMMAND_TIMEOUT = '5m0s';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const workdir = ctx.args[0];
  const localConfig = loadLocalConfig(ctx, workdir);
  const appName = ctx.flags.app || ctx.env.FLY_APP || localConfig?.appName;
  if (!appName) throw new FlyError('the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag');

  // Text blocks (==> …) go to stderr; the validation report goes to stdout (Corrections 1, 11).
  ctx.err('==> Verifying app config\n');
  const app = ctx.readState().apps[appName];
  if (!app) throw new FlyError(`the app name ${appName} could not be found, did you create the app or misspell it in the fly.toml file or via -a?`);
  const configPath = findConfigFile(ctx, workdir);
  // Without a local fly.toml flyctl uses the config of the app's current release (appconfig/remote.go).
  const appConfig = { ...(localConfig ?? currentReleaseConfig(app) ?? normalizeAppConfig({})), appName };
  appConfig.env = { ...appConfig.env, ...parseEnvFlags(ctx.flags.env) };
  ctx.out(`Validating ${configPath ?? 'platform config'}\n`);
  if (appConfig.problems?.length) {
    ctx.out(`${appConfig.problems.join('\n')}\n\n   ✘invalid app configuration\n`);
    throw new FlyError('App configuration is not valid');
  }
  ctx.out('✓ Configuration is valid\n');
  ctx.err('--> Verified app config\n');

  const waitTimeoutMs = durationFlag(ctx, 'wait-timeout', appConfig.waitTimeout || DEFAULT_WAIT_TIMEOUT);
  const releaseCommandTimeoutMs = durationFlag(ctx, 'release-command-timeout', appConfig.releaseCommandTimeout || DEFAULT_RELEASE_COMMAND_TIMEOUT);
  const maxUnavailable = parseMaxUnavailable(ctx.flags['max-unavailable'], appConfig.maxUnavailable);

  const imageRef = ctx.flags.image || appConfig.buildImage;
  const image = imageRef
    ? resolveImageReference(ctx, imageRef)
    : await buildImage(ctx, { appName, sourceDir: path.resolve(ctx.cwd, workdir ?? '.'), label: ctx.flags['image-label'], isPushed: ctx.flags.push || !ctx.flags['build-only'] });
  ctx.callRecord.image = image.ref;
  if (ctx.flags['build-only']) return;

  ctx.out(`\nWatch your deployment at https://fly.io/apps/${appName}/monitoring\n\n`);
  const isDetached = Boolean(ctx.flags.detach);
  await deployMachinesApp(ctx, {
    appName,
    appConfig,
    imageRef: image.ref,
    manifest: image.manifest,
    strategy: ctx.flags.strategy || appConfig.strategy || 'rolling',
    waitTimeoutMs,
    releaseCommandTimeoutMs,
    skipHealthChecks: isDetached,
    skipSmokeChecks: isDetached || !ctx.flags['smoke-checks'],
    skipReleaseCommand: Boolean(ctx.flags['skip-release-command']),
    maxUnavailable,
    isRestartOnly: false,
    increasedAvailability: Boolean(ctx.flags.ha),
    workingDirectory: ctx.cwd,
  });
  ctx.out(`\nVisit your newly deployed app at https://${appName}.fly.dev/\n\n`);
}

/**
 * The config the app's current release was deployed with (the newest release that has one).
 * @param {import('../state.js').AppRecord} app
 */
function currentReleaseConfig(app) {
  return releasesNewestFirst(app).find((release) => release.config)?.config ?? app.config;
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {string} flagName
 * @param {string} fallback
 */
function durationFlag(ctx, flagName, fallback) {
  const value = ctx.given.has(flagName) ? ctx.flags[flagName] : fallback;
  const ms = parseDurationFlag(value);
  if (ms === null) {
    throw new FlyError(`invalid duration value ${value} used for --${flagName} flag: valid options are a number of seconds, number with time unit (i.e.: 5m, 180s) or 'none'`);
  }
  return ms;
}

/**
 * @param {string} flagValue
 * @param {number | null} configValue
 */
function parseMaxUnavailable(flagValue, configValue) {
  const value = flagValue ? Number(flagValue) : configValue ?? DEFAULT_MAX_UNAVAILABLE;
  if (!(value > 0)) throw new FlyError('the value for --max-unavailable must be > 0');
  return value;
}

/** @param {string[]} assignments -e/--env K=V */
function parseEnvFlags(assignments) {
  return Object.fromEntries(assignments.map((assignment) => splitAssignment(assignment) ?? failParsingEnv(assignment)));
}

/** @param {string} assignment @returns {never} */
function failParsingEnv(assignment) {
  throw new FlyError(`failed parsing environment: '${assignment}': must be in the format NAME=VALUE`);
}
