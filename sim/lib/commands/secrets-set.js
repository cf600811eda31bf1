// @ts-check
// `flyctl secrets set NAME=VALUE… [--stage] [--detach]` ("-" reads NAME=VALUE lines from stdin).
import fs from 'node:fs';
import { lookupApp } from '../app-lookup.js';
import { applySecretsChange } from '../deploy/secrets-restart.js';
import { parseSecretAssignments, secretDigest } from '../secrets.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName } = lookupApp(ctx);
  const args = ctx.args.flatMap((arg) => (arg === '-' ? fs.readFileSync(0, 'utf8').split('\n').filter(Boolean) : [arg]));
  const assignments = parseSecretAssignments(args);
  await ctx.updateState((state) => {
    const app = state.apps[appName];
    const updatedAtMs = Date.now();
    for (const [name, value] of assignments) app.secrets[name] = { value, digest: secretDigest(value), updatedAtMs };
  });
  await applySecretsChange(ctx, appName, { isStaged: Boolean(ctx.flags.stage) });
}
