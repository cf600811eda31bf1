// @ts-check
// `flyctl scale show [--json]`: one entry per process group (Go map keys sorted in Regions).
import { lookupApp, machinesApiNotFound } from '../app-lookup.js';
import { renderJson } from '../json-output.js';
import { machinesById } from '../machines.js';
import { renderTable } from '../table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app } = lookupApp(ctx, machinesApiNotFound('failed to list VMs'));
  const machines = machinesById(app);
  /** @type {Record<string, number>} */
  const regions = {};
  for (const machine of [...machines].sort((a, b) => a.region.localeCompare(b.region))) regions[machine.region] = (regions[machine.region] ?? 0) + 1;
  const guest = machines[0]?.config.guest;
  const groups = guest ? [{ Process: 'app', Count: machines.length, CPUKind: guest.cpu_kind, CPUs: guest.cpus, Memory: guest.memory_mb, Regions: regions }] : [];
  if (ctx.isJson) return ctx.out(renderJson(groups));
  const regionText = Object.entries(regions).map(([region, count]) => (count > 1 ? `${region}(${count})` : region)).join(',');
  ctx.out(`VM Resources for app: ${app.name}\n\nGroups\n${renderTable(['NAME', 'COUNT', 'KIND', 'CPUS', 'MEMORY', 'REGIONS'], guest ? [['app', String(machines.length), guest.cpu_kind, String(guest.cpus), `${guest.memory_mb} MB`, regionText]] : [])}`);
}
