// @ts-check
// Starting and stopping an app's router (its fly-proxy stand-in). The router keeps its port for
// the app's lifetime when it can, so the AppURL a caller saw stays valid after a restart.
import { fileURLToPath } from 'node:url';
import { FlyError } from './errors.js';
import { newUlid } from './ids.js';
import { dirMarker, routerMarker } from './process-markers.js';
import { isProcessAlive, terminateProcess } from './processes.js';
import { spawnDetachedNode } from './spawn.js';
import { pollUntil } from './time.js';

const ROUTER_SCRIPT = fileURLToPath(new URL('./router.js', import.meta.url));
const ROUTER_START_TIMEOUT_MS = 10_000;

/**
 * Starts the app's router unless it runs; returns its port.
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} appName
 * @returns {Promise<number>}
 */
export async function ensureRouter(ctx, appName) {
  const router = ctx.readState().apps[appName]?.router;
  if (router?.port && isProcessAlive(router.pid)) return router.port;
  const preferredPort = router?.port ?? 0;
  return (await startRouter(ctx, appName, preferredPort)) ?? (await startRouter(ctx, appName, 0)) ?? failToStart(appName);
}

/**
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} appName
 * @param {number} port 0 for any free port
 * @returns {Promise<number | null>} null when it could not listen there
 */
async function startRouter(ctx, appName, port) {
  const routerId = newUlid();
  await ctx.updateState((state) => {
    state.apps[appName].router = { id: routerId, pid: null, port: null };
  });
  const pid = spawnDetachedNode(ctx.dir, ROUTER_SCRIPT, [dirMarker(ctx.dir), routerMarker(appName), `--router-id=${routerId}`, `--port=${port}`], { env: { PATH: ctx.env.PATH }, outputName: `router-${appName}` });
  const outcome = await pollUntil(() => {
    const router = ctx.readState().apps[appName]?.router;
    if (router?.id === routerId && router.port) return router.port;
    return isProcessAlive(pid) ? undefined : null;
  }, { timeoutMs: ROUTER_START_TIMEOUT_MS, intervalMs: 20, signal: ctx.signal });
  return 'value' in outcome ? outcome.value : null;
}

/** @param {string} appName @returns {never} */
function failToStart(appName) {
  throw new FlyError(`simulator: the router of app ${appName} did not start (see run/router-${appName}.out)`);
}

/**
 * @param {{ pid: number | null } | null} router
 * @param {string} appName
 */
export async function stopRouter(router, appName) {
  await terminateProcess(router?.pid, routerMarker(appName));
}
