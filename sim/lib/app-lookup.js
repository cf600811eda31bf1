// @ts-check
// Finding the app a command is about, failing the way that command fails in flyctl when it does
// not exist: GraphQL calls say `Could not find App "x"` behind a command-specific prefix, Machines
// API calls say `app not found`.
import { resolveAppName } from './app-config.js';
import { FlyError } from './errors.js';
import { newUlid } from './ids.js';

/** @typedef {(appName: string) => FlyError} NotFoundError */

/** @param {string | ((appName: string) => string)} prefix @returns {NotFoundError} */
export const graphqlNotFound = (prefix) => (appName) => new FlyError(`${typeof prefix === 'function' ? prefix(appName) : prefix}: Could not find App "${appName}"`);

/** @param {string} prefix @returns {NotFoundError} */
export const machinesApiNotFound = (prefix) => () => new FlyError(`${prefix}: app not found (Request ID: ${newUlid()}-iad)`);

/**
 * @param {import('./context.js').CommandContext} ctx
 * @param {NotFoundError} [notFound]
 */
export function lookupApp(ctx, notFound = graphqlNotFound('failed to get app')) {
  const appName = resolveAppName(ctx);
  const state = ctx.readState();
  const app = state.apps[appName];
  if (!app) throw notFound(appName);
  return { appName, app, state };
}
