// @ts-check
// `flyctl machine list [--json]` (aliases machines, m; list alias ls): the raw Machines API list.
import { lookupApp, machinesApiNotFound } from '../app-lookup.js';
import { renderJson } from '../json-output.js';
import { renderMachinesNow } from '../machine-views.js';
import { machinesById, observedState } from '../machines.js';
import { renderTable } from '../table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app, state } = lookupApp(ctx, machinesApiNotFound('failed to list VMs'));
  const machines = machinesById(app);
  if (ctx.isJson) return ctx.out(renderJson(await renderMachinesNow(state, machines)));
  if (ctx.flags.quiet) return ctx.out(machines.map((machine) => `${machine.id}\n`).join(''));
  if (machines.length === 0) return ctx.out(`No machines are available on this app ${app.name}\n`);
  const rows = machines.map((machine) => [machine.id, machine.name, observedState(machine), machine.region, machine.imageRef, machine.privateIp, machine.createdAt, machine.updatedAt]);
  ctx.out(`${machines.length} machines have been retrieved from app ${app.name}.\nView them in the UI here (https://fly.io/apps/${app.name}/machines/)\n\n${renderTable(['ID', 'NAME', 'STATE', 'REGION', 'IMAGE', 'IP ADDRESS', 'CREATED', 'LAST UPDATED'], rows)}`);
}
