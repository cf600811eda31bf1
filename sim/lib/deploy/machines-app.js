// @ts-check
// One deployment of an app's machines, shared by `deploy` and by the restart that `secrets set`
// triggers (DeployMachinesApp in flyctl): take the app's lease, create a "running" release, run
// the release_command, update machines per strategy, then mark the release complete, failed or
// interrupted. With FLY_EMIT_RELEASE_JSON set, a success prints the release as one JSON line.
import { FlyError, isInterrupted, SilentCancel } from '../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { isDeployToken } from '../auth.js';
import { marshalJson } from '../json-output.js';
import { withAppLease } from '../leases.js';
import { machineConfigFor, machinesById } from '../machines.js';
import { addRelease, finishRelease } from '../releases.js';
import { runReleaseCommand } from './release-command.js';
import { deployCanaryMachine, launchFirstMachines, updateExistingMachines, updateRolling } from './strategies.js';

/** flyctl's defaults for --wait-timeout and --max-unavailable. */
export const DEFAULT_WAIT_TIMEOUT = '5m0s';
export const DEFAULT_MAX_UNAVAILABLE = 0.33;

/**
 * @typedef {{
 *   appName: string, appConfig: import('../state.js').AppConfig, imageRef: string,
 *   manifest: import('../manifest.js').Manifest, strategy: string, waitTimeoutMs: number,
 *   releaseCommandTimeoutMs: number, skipHealthChecks: boolean, skipSmokeChecks: boolean,
 *   skipReleaseCommand: boolean, maxUnavailable: number, isRestartOnly: boolean,
 *   increasedAvailability: boolean, workingDirectory?: string
 * }} Deployment
 */

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {Deployment} requested
 * @returns {Promise<import('../state.js').ReleaseRecord>}
 */
export async function deployMachinesApp(ctx, requested) {
  const { maxWaitTimeoutMs } = ctx.readState().settings;
  const deployment = { ...requested, waitTimeoutMs: Math.min(requested.waitTimeoutMs, maxWaitTimeoutMs ?? Infinity) };
  const { appName } = deployment;
  return withAppLease(ctx, appName, async () => {
    // Releases are created `pending` and set `running` once the deployment starts (machines.go:328,
    // machines_deploymachinesapp.go:71).
    const release = await ctx.updateState((state) => {
      const app = state.apps[appName];
      if (!deployment.isRestartOnly) app.config = deployment.appConfig;
      return addRelease(app, deployment.imageRef, deployment.isRestartOnly ? app.config : deployment.appConfig);
    });
    Object.assign(ctx.callRecord, { app: appName, deployedImage: deployment.imageRef, releaseVersion: release.version });
    try {
      await finishRelease(ctx, appName, release.id, 'running');
      await (deployment.isRestartOnly ? restartMachines(ctx, deployment, release) : deployNewRelease(ctx, deployment, release));
    } catch (err) {
      const isCancelled = isInterrupted(err) || err instanceof SilentCancel;
      await finishRelease(ctx, appName, release.id, isCancelled ? 'interrupted' : 'failed', /** @type {Error} */ (err).message);
      throw err;
    }
    await finishRelease(ctx, appName, release.id, 'complete');
    if (ctx.env.FLY_EMIT_RELEASE_JSON) ctx.out(`${marshalJson({ id: release.id, version: release.version, image_ref: deployment.imageRef })}\n`);
    return release;
  });
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {Deployment} deployment
 * @param {import('../state.js').ReleaseRecord} release
 */
async function deployNewRelease(ctx, deployment, release) {
  const state = ctx.readState();
  const region = deployment.appConfig.primaryRegion || state.settings.region;
  readMachineFiles(deployment.appConfig, deployment.workingDirectory ?? ctx.cwd);
  if (deployment.appConfig.releaseCommand && !deployment.skipReleaseCommand) {
    await runReleaseCommand(ctx, {
      appName: deployment.appName, command: deployment.appConfig.releaseCommand, region, timeoutMs: deployment.releaseCommandTimeoutMs,
      manifest: deployment.manifest, isDeployToken: isDeployToken(ctx),
    });
  }
  const rollout = rolloutFor(deployment, release, (machine) => {
    machine.imageRef = deployment.imageRef;
    machine.config = machineConfigFor({ appConfig: deployment.appConfig, region: machine.region, releaseId: release.id, releaseVersion: release.version });
  });
  const existingIds = machinesById(state.apps[deployment.appName]).map((machine) => machine.id);
  if (existingIds.length === 0) {
    const newIds = await launchFirstMachines(ctx, rollout, { region, increasedAvailability: deployment.increasedAvailability });
    ctx.out(`Updating existing machines in '${deployment.appName}' with ${deployment.strategy} strategy\n`);
    return updateRolling(ctx, rollout, newIds, { isAlreadyUpdated: true });
  }
  if (deployment.strategy === 'canary') await deployCanaryMachine(ctx, rollout, region);
  await updateExistingMachines(ctx, rollout, existingIds);
}

/**
 * Secrets changes restart every machine on its own image with the new release's metadata.
 * @param {import('../context.js').CommandContext} ctx
 * @param {Deployment} deployment
 * @param {import('../state.js').ReleaseRecord} release
 */
async function restartMachines(ctx, deployment, release) {
  const rollout = rolloutFor(deployment, release, (machine) => {
    machine.config.metadata = { ...machine.config.metadata, fly_release_id: release.id, fly_release_version: String(release.version) };
  });
  const machineIds = machinesById(ctx.readState().apps[deployment.appName]).map((machine) => machine.id);
  await updateExistingMachines(ctx, rollout, machineIds);
}

/**
 * @param {Deployment} deployment
 * @param {import('../state.js').ReleaseRecord} release
 * @param {(machine: import('../state.js').MachineRecord) => void} applyRelease
 * @returns {import('./strategies.js').Rollout}
 */
function rolloutFor(deployment, release, applyRelease) {
  return {
    appName: deployment.appName,
    strategy: deployment.strategy,
    maxUnavailable: deployment.maxUnavailable,
    checks: {
      appName: deployment.appName,
      waitTimeoutMs: deployment.waitTimeoutMs,
      skipHealthChecks: deployment.skipHealthChecks,
      skipSmokeChecks: deployment.skipSmokeChecks,
      machineCheck: deployment.appConfig.hasMachineChecks && !deployment.isRestartOnly
        ? { manifest: deployment.manifest, timeoutMs: deployment.releaseCommandTimeoutMs }
        : null,
    },
    applyRelease,
    newMachineSpec: (region, extraMetadata = {}) => ({
      region,
      imageRef: deployment.imageRef,
      config: machineConfigFor({ appConfig: deployment.appConfig, region, releaseId: release.id, releaseVersion: release.version, extraMetadata }),
    }),
  };
}

/**
 * `[[files]] local_path` is read when the machine config is made, relative to the process's working
 * directory, not to fly.toml's (appconfig/config.go:134): flyctl run elsewhere cannot find it.
 * @param {import('../state.js').AppConfig} appConfig
 * @param {string} workingDirectory
 */
function readMachineFiles(appConfig, workingDirectory) {
  for (const file of appConfig.files ?? []) {
    if (!file.localPath) continue;
    if (!fs.existsSync(path.resolve(workingDirectory, file.localPath))) {
      throw new FlyError(`could not read file ${file.localPath}: open ${file.localPath}: no such file or directory`);
    }
  }
}
