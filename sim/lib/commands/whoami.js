// @ts-check
// `flyctl auth whoami [--json]`.
import { renderJson } from '../json-output.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { email } = ctx.readState().settings.user;
  ctx.out(ctx.isJson ? renderJson({ email }) : `${email}\n`);
}
