// @ts-check
/* global AbortController */
// Bringing a state directory back after its processes died with their owner (a sandbox restart):
// every app gets its router again and every machine that was running is started again.
import { createContext, processIo } from './context.js';
import { replaceMachine, waitForMachineStart } from './machine-runtime.js';
import { observedState } from './machines.js';
import { ensureRouter } from './router-runtime.js';

const MACHINE_START_WAIT_MS = 30_000;

/** @param {string} dir */
export async function resumeSimProcesses(dir) {
  const ctx = createContext({
    command: 'resume',
    parsed: { flags: {}, args: [], given: new Set() },
    dir,
    io: { ...processIo(), cwd: dir },
    signal: new AbortController().signal,
  });
  for (const app of Object.values(ctx.readState().apps)) {
    await ensureRouter(ctx, app.name);
    const stopped = Object.values(app.machines).filter((machine) => ['started', 'starting'].includes(machine.state) && observedState(machine) === 'stopped');
    await Promise.all(stopped.map(async (machine) => {
      await replaceMachine(ctx, app.name, machine.id, () => {}, { type: 'start', status: 'starting' });
      await waitForMachineStart(ctx, app.name, machine.id, MACHINE_START_WAIT_MS);
    }));
  }
}
