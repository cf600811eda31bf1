// @ts-check
// `flyctl apps destroy NAME --yes`: removes the app, its machines' processes and its router.
import { FlyError } from '../errors.js';
import { machineMarker } from '../process-markers.js';
import { terminateProcess } from '../processes.js';
import { stopRouter } from '../router-runtime.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const name = ctx.args[0] || ctx.flags.app;
  if (!name) throw new FlyError('app name must be specified');
  if (!ctx.flags.yes) throw new FlyError('yes flag must be specified when not running interactively');
  const app = await ctx.updateState((state) => {
    const removed = state.apps[name];
    if (!removed) throw new FlyError(`Could not find App "${name}"`);
    delete state.apps[name];
    return removed;
  });
  await Promise.all(Object.values(app.machines).map((machine) => terminateProcess(machine.pid, machineMarker(machine.id))));
  await stopRouter(app.router, name);
  ctx.out(`Destroyed app ${name}\n`);
}
