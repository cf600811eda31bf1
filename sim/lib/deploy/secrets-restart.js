// @ts-check
// What `secrets set/unset/deploy` do after changing secrets (internal/command/secrets): with
// --stage nothing more; an app without machines keeps them for its first deploy; otherwise a
// restart deploy makes a release on the current image and restarts every machine.
import { parseDurationFlag } from '../duration.js';
import { normalizeAppConfig } from '../app-config.js';
import { normalizeManifest } from '../manifest.js';
import { releasesNewestFirst } from '../releases.js';
import { DEFAULT_MAX_UNAVAILABLE, DEFAULT_WAIT_TIMEOUT, deployMachinesApp } from './machines-app.js';


/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {string} appName
 * @param {{ isStaged: boolean }} options
 */
export async function applySecretsChange(ctx, appName, { isStaged }) {
  if (isStaged) {
    ctx.out('Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n');
    return;
  }
  const app = ctx.readState().apps[appName];
  if (Object.keys(app.machines).length === 0) {
    ctx.out('Secrets are staged for the first deployment\n');
    return;
  }
  const releases = releasesNewestFirst(app);
  const currentImage = (releases.find((release) => release.status === 'complete') ?? releases[0])?.imageRef ?? Object.values(app.machines)[0].imageRef;
  const appConfig = app.config ?? normalizeAppConfig({ app: appName });
  const isDetached = Boolean(ctx.flags.detach);
  await deployMachinesApp(ctx, {
    appName,
    appConfig,
    imageRef: currentImage,
    manifest: ctx.readState().images[currentImage]?.manifest ?? normalizeManifest({}),
    strategy: appConfig.strategy || 'rolling',
    waitTimeoutMs: parseDurationFlag(appConfig.waitTimeout || DEFAULT_WAIT_TIMEOUT) ?? Infinity,
    releaseCommandTimeoutMs: Infinity,
    skipHealthChecks: isDetached,
    skipSmokeChecks: isDetached,
    skipReleaseCommand: true,
    maxUnavailable: appConfig.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE,
    isRestartOnly: true,
    increasedAvailability: false,
  });
}
