// @ts-check
// `flyctl apps create NAME [--org SLUG]`: registers the app and starts its router.
import { renderAppForList } from '../app-views.js';
import { FlyError } from '../errors.js';
import { renderJson } from '../json-output.js';
import { ensureRouter } from '../router-runtime.js';

const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const name = ctx.args[0] || ctx.flags.name;
  if (!name) throw new FlyError('name argument or flag must be specified when not running interactively');
  if (!APP_NAME_PATTERN.test(name)) throw new FlyError('Validation failed: Name can only contain lowercase letters, numbers, and dashes');
  const orgSlug = ctx.flags.org || ctx.readState().settings.org.slug;
  await ctx.updateState((state) => {
    if (state.apps[name]) throw new FlyError('Validation failed: Name has already been taken');
    state.apps[name] = {
      name, id: name, orgSlug, createdAt: new Date().toISOString(), router: null,
      secrets: {}, releases: [], machines: {}, config: null, lease: null, proxyTarget: null,
    };
  });
  await ensureRouter(ctx, name);
  const state = ctx.readState();
  ctx.out(ctx.isJson ? renderJson(renderAppForList(state.apps[name], state.settings)) : `New app created: ${name}\n`);
}
