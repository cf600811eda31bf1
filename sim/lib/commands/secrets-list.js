// @ts-check
// `flyctl secrets list [--json]`: [{name, digest, status}] sorted by name.
import { lookupApp } from '../app-lookup.js';
import { renderJson } from '../json-output.js';
import { secretStatus } from '../secrets.js';
import { renderTable } from '../table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app } = lookupApp(ctx);
  const secrets = Object.entries(app.secrets)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, secret]) => ({ name, digest: secret.digest, status: secretStatus(app, secret) }));
  if (ctx.isJson) return ctx.out(renderJson(secrets));
  ctx.out(renderTable(['NAME', 'DIGEST', 'STATUS'], secrets.map((secret) => [secret.name, secret.digest, secret.status])));
}
