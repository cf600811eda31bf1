// @ts-check
// The simulated registry: building a source directory records an image (its ref, digest and the
// behaviour manifest it was built from); deploy -i looks images up by ref.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FlyError } from './errors.js';
import { newUlid } from './ids.js';
import { readManifest, normalizeManifest } from './manifest.js';
import { sleep } from './time.js';

export const REGISTRY_HOST = 'registry.fly.io';
const BUILD_ERROR_PREFIX = 'failed to fetch an image or build from source';

/** @param {string} appName @param {string} label @param {string} [registryHost] FLY_REGISTRY_HOST */
export function imageRefFor(appName, label, registryHost = REGISTRY_HOST) {
  return `${registryHost}/${appName}:${label}`;
}

/**
 * @param {string} ref
 * @returns {{ registry: string, repository: string, tag: string, digest: string }}
 */
export function parseImageRef(ref) {
  const [nameAndTag, digest = ''] = ref.split('@');
  const slash = nameAndTag.indexOf('/');
  const hasRegistry = slash > 0 && /[.:]/.test(nameAndTag.slice(0, slash));
  const registry = hasRegistry ? nameAndTag.slice(0, slash) : '';
  const remainder = hasRegistry ? nameAndTag.slice(slash + 1) : nameAndTag;
  const colon = remainder.lastIndexOf(':');
  return {
    registry,
    repository: colon > 0 ? remainder.slice(0, colon) : remainder,
    tag: colon > 0 ? remainder.slice(colon + 1) : digest ? '' : 'latest',
    digest,
  };
}

/**
 * A pushed image by ref (tag or digest form), or undefined.
 * @param {import('./state.js').SimState} state
 * @param {string} ref
 */
export function findPushedImage(state, ref) {
  const candidates = Object.values(state.images).filter((image) => image.isPushed);
  const wanted = parseImageRef(ref);
  return candidates.find((image) => image.ref === ref)
    ?? candidates.find((image) => wanted.digest && image.digest === wanted.digest && image.repository === wanted.repository)
    ?? candidates.find((image) => !wanted.registry && image.repository === wanted.repository && image.tag === wanted.tag);
}

/**
 * Resolves deploy --image: prints what flyctl prints and returns the image, or fails like flyctl.
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} ref
 */
export function resolveImageReference(ctx, ref) {
  ctx.err(`Searching for image '${ref}' remotely...\n`);
  const image = findPushedImage(ctx.readState(), ref);
  if (!image) throw new FlyError(`${BUILD_ERROR_PREFIX}: could not find image "${ref}"`);
  ctx.err(`image found: img_${image.digest.slice('sha256:'.length, 'sha256:'.length + 16)}\n`);
  if (ctx.env.LOG_LEVEL === 'debug') ctx.out(`DEBUG result image:&{ID:img_${image.digest.slice(7, 23)} Tag:${image.ref} Digest:${image.digest} Size:48234496} error:<nil>\n`);
  return image;
}

/**
 * Builds the source directory into an image and records it (pushed or not).
 * @param {import('./context.js').CommandContext} ctx
 * @param {{ appName: string, sourceDir: string, label: string, isPushed: boolean }} options
 * @returns {Promise<import('./state.js').ImageRecord>}
 */
export async function buildImage(ctx, { appName, sourceDir, label, isPushed }) {
  const manifest = readSourceManifest(sourceDir);
  ctx.err('==> Building image\n');
  await sleep(manifest.build.durationMs, ctx.signal);
  if (manifest.build.fails) throw new FlyError(`${BUILD_ERROR_PREFIX}: error building: ${manifest.build.error}`);
  ctx.err('--> Building image done\n');
  const ref = imageRefFor(appName, label || `deployment-${newUlid()}`, ctx.env.FLY_REGISTRY_HOST || REGISTRY_HOST);
  /** @type {import('./state.js').ImageRecord} */
  const image = {
    ref,
    app: appName,
    ...parseImageRef(ref),
    digest: `sha256:${createHash('sha256').update(`${ref}\n${JSON.stringify(manifest)}\n${Date.now()}`).digest('hex')}`,
    manifest,
    builtAt: new Date().toISOString(),
    isPushed,
  };
  if (isPushed) {
    ctx.err('==> Pushing image to fly\n');
    ctx.err('--> Pushing image done\n');
  }
  await ctx.updateState((state) => {
    state.images[ref] = image;
  });
  printImageSummary(ctx, image);
  return image;
}

/**
 * @param {import('./context.js').CommandContext} ctx
 * @param {import('./state.js').ImageRecord} image
 */
function printImageSummary(ctx, image) {
  ctx.err(`image: ${image.ref}\n`);
  ctx.err('image size: 46 MB\n');
}

/**
 * A directory with sim-app.json builds that behaviour; one with only a Dockerfile builds a plain
 * healthy app; anything else has nothing to build, as with flyctl.
 * @param {string} sourceDir
 */
function readSourceManifest(sourceDir) {
  const manifest = readManifest(sourceDir);
  if (manifest) return manifest;
  if (fs.existsSync(path.join(sourceDir, 'Dockerfile'))) return normalizeManifest({});
  throw new FlyError(`${BUILD_ERROR_PREFIX}: app does not have a Dockerfile or buildpacks configured. See https://fly.io/docs/reference/configuration/#the-build-section`);
}
