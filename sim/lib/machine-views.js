// @ts-check
// Machines as the Machines API returns them right now, health checks probed live.
import { probeMachineChecks } from './health.js';
import { renderMachine } from './machines.js';

/**
 * @param {import('./state.js').SimState} state
 * @param {import('./state.js').MachineRecord[]} machines
 */
export async function renderMachinesNow(state, machines) {
  return Promise.all(machines.map(async (machine) => renderMachine(machine, await probeMachineChecks(machine), state.images[machine.imageRef]?.digest ?? '')));
}
