// @ts-check
// `flyctl apps list [--json]`.
import { appStatus, renderAppForList } from '../app-views.js';
import { renderJson } from '../json-output.js';
import { renderTable } from '../table.js';
import { releasesNewestFirst } from '../releases.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const state = ctx.readState();
  const apps = Object.values(state.apps)
    .filter((app) => !ctx.flags.org || app.orgSlug === ctx.flags.org)
    .sort((a, b) => a.name.localeCompare(b.name));
  if (ctx.isJson) return ctx.out(renderJson(apps.map((app) => renderAppForList(app, state.settings))));
  if (apps.length === 0) return ctx.out('No apps found\n');
  const rows = apps.map((app) => [app.name, app.orgSlug, appStatus(app), releasesNewestFirst(app)[0]?.createdAt ?? '']);
  ctx.out(renderTable(['NAME', 'OWNER', 'STATUS', 'LATEST DEPLOY'], rows));
}
