// @ts-check
// `flyctl secrets deploy`: applies staged secrets with a restart deploy.
import { lookupApp } from '../app-lookup.js';
import { applySecretsChange } from '../deploy/secrets-restart.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName } = lookupApp(ctx);
  await applySecretsChange(ctx, appName, { isStaged: false });
}
