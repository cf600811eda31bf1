// @ts-check
// Releases: numbered per app without gaps (the version is taken under the state lock), created
// "running" and finished "complete", "failed" or "interrupted". Rendered as fly-go's Release type
// (GraphQL, so PascalCase without json tags).
import { newUlid } from './ids.js';
import { rfc3339Seconds } from './time.js';

/**
 * Adds a pending release to the app (call inside updateState), with the config it deploys.
 * @param {import('./state.js').AppRecord} app
 * @param {string} imageRef
 * @param {import('./state.js').AppConfig | null} [config]
 * @returns {import('./state.js').ReleaseRecord}
 */
export function addRelease(app, imageRef, config = null) {
  const version = app.releases.reduce((max, release) => Math.max(max, release.version), 0) + 1;
  const now = new Date();
  /** @type {import('./state.js').ReleaseRecord} */
  const release = { id: newUlid(now.getTime()), version, status: 'pending', imageRef, config, createdAt: rfc3339Seconds(now), createdAtMs: now.getTime(), reason: '', description: '', error: '' };
  app.releases.push(release);
  return release;
}

/**
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} appName
 * @param {string} releaseId
 * @param {'running' | 'complete' | 'failed' | 'interrupted'} status
 * @param {string} [error]
 */
export async function finishRelease(ctx, appName, releaseId, status, error = '') {
  await ctx.updateState((state) => {
    const release = state.apps[appName]?.releases.find((candidate) => candidate.id === releaseId);
    if (release) Object.assign(release, { status, error });
  });
}

/**
 * Newest first.
 * @param {import('./state.js').AppRecord} app
 */
export function releasesNewestFirst(app) {
  return [...app.releases].sort((a, b) => b.version - a.version);
}

/** @param {import('./state.js').AppRecord} app */
export function latestCompleteRelease(app) {
  return releasesNewestFirst(app).find((release) => release.status === 'complete');
}

/**
 * @param {import('./state.js').ReleaseRecord} release
 * @param {import('./state.js').Settings['user']} user
 */
export function renderRelease(release, user) {
  return {
    ID: release.id,
    Version: release.version,
    Stable: release.status === 'complete',
    InProgress: false,
    Reason: release.reason,
    Description: release.description,
    Status: release.status,
    DeploymentStrategy: '',
    Metadata: null,
    User: { ID: user.id, Name: user.name, Email: user.email, EnablePaidHobby: false },
    EvaluationID: '',
    CreatedAt: release.createdAt,
    ImageRef: release.imageRef,
  };
}
