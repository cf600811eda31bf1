// @ts-check
// Access tokens are resolved like flyctl: -t/--access-token, then FLY_ACCESS_TOKEN, then
// FLY_API_TOKEN. Any non-empty token is accepted unless the simulator was given a list of valid ones.
import { FlyError } from './errors.js';

/** @param {import('./context.js').CommandContext} ctx */
export function resolveAccessToken(ctx) {
  return ctx.flags['access-token'] || ctx.env.FLY_ACCESS_TOKEN || ctx.env.FLY_API_TOKEN || '';
}

/** @param {import('./context.js').CommandContext} ctx */
export function requireAuthentication(ctx) {
  const token = resolveAccessToken(ctx);
  if (!token) throw new FlyError("no access token available. Please login with 'flyctl auth login'");
  const { validTokens } = ctx.readState().settings;
  if (validTokens && !validTokens.includes(token)) throw new FlyError('You must be authenticated to view this.');
}

/**
 * A deploy token (macaroon, `FlyV1 …`): it may deploy but not read app logs, so flyctl prints a
 * warning where it would fetch them (machines_releasecommand.go:211, machines_deploymachinesapp.go:1538).
 * @param {import('./context.js').CommandContext} ctx
 */
export function isDeployToken(ctx) {
  return resolveAccessToken(ctx).startsWith('FlyV1 ');
}
