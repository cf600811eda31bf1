// @ts-check
// `flyctl secrets unset NAME… [--stage] [--detach]` (unsetting a missing secret is fine).
import { lookupApp } from '../app-lookup.js';
import { FlyError } from '../errors.js';
import { applySecretsChange } from '../deploy/secrets-restart.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName } = lookupApp(ctx);
  if (ctx.args.length === 0) throw new FlyError('requires at least 1 arg(s), only received 0');
  await ctx.updateState((state) => {
    for (const name of ctx.args) delete state.apps[appName].secrets[name];
  });
  await applySecretsChange(ctx, appName, { isStaged: Boolean(ctx.flags.stage) });
}
