// @ts-check
// `flyctl releases [--json] [--image]` (also `apps releases`): the 25 newest releases, newest first.
import { graphqlNotFound, lookupApp } from '../app-lookup.js';
import { renderJson } from '../json-output.js';
import { releasesNewestFirst, renderRelease } from '../releases.js';
import { renderTable } from '../table.js';

const RELEASES_SHOWN = 25;

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app, state } = lookupApp(ctx, graphqlNotFound((appName) => `failed retrieving app releases ${appName}`));
  const releases = releasesNewestFirst(app).slice(0, RELEASES_SHOWN);
  if (ctx.isJson) return ctx.out(renderJson(releases.map((release) => renderRelease(release, state.settings.user))));
  const headers = ['VERSION', 'STATUS', 'DESCRIPTION', 'USER', 'DATE', ...(ctx.flags.image ? ['DOCKER IMAGE'] : [])];
  const rows = releases.map((release) => [`v${release.version}`, release.status, release.description || 'Release', state.settings.user.email, release.createdAt, ...(ctx.flags.image ? [release.imageRef] : [])]);
  ctx.out(renderTable(headers, rows));
}
