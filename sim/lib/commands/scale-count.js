// @ts-check
/* global structuredClone */
// `flyctl scale count N --yes [--region r1,r2]` (internal/command/scale/count_machines.go): plans
// per-region changes, asks for --yes when not interactive, then creates machines cloned from the
// group's first machine (or from the latest complete release) or destroys surplus ones.
import { lookupApp, machinesApiNotFound } from '../app-lookup.js';
import { normalizeAppConfig } from '../app-config.js';
import { FlyError } from '../errors.js';
import { withAppLease } from '../leases.js';
import { createMachine, destroyMachine, waitForMachineStart } from '../machine-runtime.js';
import { machineConfigFor, machinesById } from '../machines.js';
import { latestCompleteRelease } from '../releases.js';

const MACHINE_SIZE = 'shared-cpu-1x';
const START_WAIT_MS = 30_000;

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName, app, state } = lookupApp(ctx, machinesApiNotFound('failed to list VMs'));
  const machines = machinesById(app);
  const expected = parseCount(ctx.args[0], machines.length);
  const release = latestCompleteRelease(app);
  if (!release) throw new FlyError('this app has no complete releases. Run `fly deploy` to create one and rerun this command');

  const primaryRegion = app.config?.primaryRegion || state.settings.region;
  const regionsGiven = ctx.flags.region ? String(ctx.flags.region).split(',').filter(Boolean) : [];
  const regions = regionsGiven.length > 0 ? regionsGiven : unique(machines.map((machine) => machine.region));
  /** @type {Record<string, number>} */
  const perRegion = {};
  for (const machine of machines) perRegion[machine.region] = (perRegion[machine.region] ?? 0) + 1;
  const deltas = Object.entries(convergeGroupCounts(expected, perRegion, regions.length > 0 ? regions : [primaryRegion])).filter(([, delta]) => delta !== 0);
  if (deltas.length === 0) return ctx.out('App already scaled to desired state. No need for changes\n');

  ctx.out(`App '${appName}' is going to be scaled according to this plan:\n`);
  for (const [region, delta] of deltas) ctx.out(`${`${delta > 0 ? '+' : ''}${delta}`.padStart(4)} machines for group 'app' on region '${region}' of size '${MACHINE_SIZE}'\n`);
  if (!ctx.flags.yes) throw new FlyError('--yes flag must be specified when not running interactively');

  await withAppLease(ctx, appName, async () => {
    ctx.out('Executing scale plan\n');
    const template = machines[0];
    const appConfig = app.config ?? normalizeAppConfig({ app: appName });
    for (const [region, delta] of deltas) {
      if (delta > 0) {
        await Promise.all(Array.from({ length: delta }, async () => {
          const config = template ? structuredClone(template.config) : machineConfigFor({ appConfig, region, releaseId: release.id, releaseVersion: release.version });
          const machine = await createMachine(ctx, appName, { region, imageRef: template?.imageRef ?? release.imageRef, config });
          await waitForMachineStart(ctx, appName, machine.id, START_WAIT_MS);
          ctx.out(`  Created ${machine.id} group:app region:${region} size:${MACHINE_SIZE}\n`);
        }));
      } else {
        const surplus = machines.filter((machine) => machine.region === region).slice(delta);
        for (const machine of surplus) {
          await destroyMachine(ctx, appName, machine.id);
          ctx.out(`  Destroyed ${machine.id} group:app region:${region} size:${MACHINE_SIZE}\n`);
        }
      }
    }
  });
}

/**
 * "N", "app=N", "+N" or "-N".
 * @param {string | undefined} arg
 * @param {number} current
 */
function parseCount(arg, current) {
  if (!arg) throw new FlyError('requires at least 1 arg(s), only received 0');
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg;
  if (!/^[-+]?\d+$/.test(value)) throw new FlyError(`invalid count: ${arg}`);
  const count = Number(value);
  return /^[-+]/.test(value) ? Math.max(current + count, 0) : count;
}

/** @template T @param {T[]} values */
function unique(values) {
  return [...new Set(values)];
}

/**
 * Spreads the expected total over the regions (flyctl's convergeGroupCounts, no max per region):
 * new machines go round-robin from the first region, removals from the last.
 * @param {number} expectedTotal
 * @param {Record<string, number>} current
 * @param {string[]} regions
 */
function convergeGroupCounts(expectedTotal, current, regions) {
  /** @type {Record<string, number>} */
  const diffs = {};
  const regionList = unique(regions);
  let diff = expectedTotal - regionList.reduce((sum, region) => sum + (current[region] ?? 0), 0);
  for (let index = 0; diff > 0; index += 1) {
    const region = regionList[index % regionList.length];
    diffs[region] = (diffs[region] ?? 0) + 1;
    diff -= 1;
  }
  for (let index = 1; diff < 0; index += 1) {
    const region = regionList[index % regionList.length];
    if ((current[region] ?? 0) + (diffs[region] ?? 0) > 0) {
      diffs[region] = (diffs[region] ?? 0) - 1;
      diff += 1;
    }
  }
  return diffs;
}
