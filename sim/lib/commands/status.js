// @ts-check
// `flyctl status [--json]`: the app (AppCompact fields) and its active machines, newest id first.
// Go marshals the map with sorted keys, so the JSON keys come out alphabetically.
import { appHostname, appStatus, appUrl, isDeployed, renderOrganizationBasic } from '../app-views.js';
import { lookupApp } from '../app-lookup.js';
import { renderJson } from '../json-output.js';
import { renderMachinesNow } from '../machine-views.js';
import { observedState } from '../machines.js';
import { releasesNewestFirst } from '../releases.js';
import { renderTable } from '../table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { app, state } = lookupApp(ctx);
  const machines = Object.values(app.machines).sort((a, b) => b.id.localeCompare(a.id));
  const version = releasesNewestFirst(app)[0]?.version ?? 0;
  if (ctx.isJson) {
    const status = {
      AppURL: appUrl(app),
      Deployed: isDeployed(app),
      Hostname: appHostname(app),
      ID: app.id,
      Machines: await renderMachinesNow(state, machines),
      Name: app.name,
      Organization: renderOrganizationBasic(app, state.settings),
      PlatformVersion: 'machines',
      Status: appStatus(app),
      Version: version,
    };
    return ctx.out(renderJson(status));
  }
  ctx.out(`App\n  Name     = ${app.name}\n  Owner    = ${app.orgSlug}\n  Hostname = ${appHostname(app)}\n  Platform = machines\n\n`);
  if (machines.length === 0) return ctx.out('No machines are available on this app.\n');
  const rows = machines.map((machine) => ['app', machine.id, machine.config.metadata.fly_release_version, machine.region, observedState(machine), machine.updatedAt]);
  ctx.out(`Machines\n${renderTable(['PROCESS', 'ID', 'VERSION', 'REGION', 'STATE', 'LAST UPDATED'], rows)}`);
}
