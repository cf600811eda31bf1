// @ts-check
// `flyctl checks list [--json]`: machine id → its health checks, probed live (--check-name only
// filters the table, as in flyctl).
import { lookupApp, machinesApiNotFound } from '../app-lookup.js';
import { probeMachineChecks } from '../health.js';
import { renderJson } from '../json-output.js';
import { machinesById } from '../machines.js';
import { renderTable } from '../table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app } = lookupApp(ctx, machinesApiNotFound('failed to list VMs'));
  const machines = machinesById(app);
  const statuses = await Promise.all(machines.map((machine) => probeMachineChecks(machine)));
  if (ctx.isJson) return ctx.out(renderJson(Object.fromEntries(machines.map((machine, index) => [machine.id, statuses[index]]))));
  const rows = machines.flatMap((machine, index) => statuses[index]
    .filter((status) => !ctx.flags['check-name'] || status.name === ctx.flags['check-name'])
    .map((status) => [status.name, status.status, machine.id, status.updated_at, status.output]));
  ctx.out(`Health Checks for ${app.name}\n${renderTable(['NAME', 'STATUS', 'MACHINE', 'LAST UPDATED', 'OUTPUT'], rows)}`);
}
