// What the incident and scaling suites share: an app whose health degrades, waiting for it, and
// reading what the simulator did for one app.
import type { Sim } from '../../sim/testing.js';
import type { TestApp } from '../helpers/deployWorld.js';
import { waitUntil } from '../deploy/support.js';

/** Health fails on every machine (two answers in a row through the router are 500). */
export async function waitUntilDegraded(app: TestApp): Promise<void> {
  await waitUntil(`${app.name} to degrade`, async () => {
    const statuses = await Promise.all([0, 1].map(async () => (await fetch(`${app.appUrl}/health`)).status));
    return statuses.every((status) => status === 500);
  }, 20_000);
}

/** The app's `machine restart` calls in the order they started: the machine restarted, when, and for how long. */
export function restartsOf(sim: Sim, app: TestApp): Array<{ machineId: string; startedAt: number; endedAt: number }> {
  return sim.callLog()
    .filter((c) => c.command === 'machine restart' && c.argv.includes(app.name))
    .map((c) => ({ machineId: c.argv[c.argv.indexOf('restart') + 1]!, startedAt: Date.parse(c.at), endedAt: Date.parse(c.at) + (c.durationMs ?? 0) }))
    .sort((a, b) => a.startedAt - b.startedAt);
}

/** Machines per region, as `fly scale show --json` reports them. */
export async function regionsOf(sim: Sim, app: TestApp): Promise<Record<string, number>> {
  const groups = await sim.runJson<Array<{ Regions: Record<string, number> }>>(['scale', 'show', '-a', app.name]);
  return groups[0]?.Regions ?? {};
}
