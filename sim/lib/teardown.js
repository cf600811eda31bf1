// @ts-check
// Stopping every process a state directory started: machines and routers (found both through the
// state and by their command-line marker, so one the state lost track of is found too) and
// running `flyctl proxy` calls.
import fs from 'node:fs';
import path from 'node:path';
import { dirMarker, machineMarker, routerMarker } from './process-markers.js';
import { findProcessesWithMarker, isProcessAlive, processHasMarker, terminateProcess } from './processes.js';
import { readStateSnapshot, simPaths } from './state.js';

/**
 * Pids of the directory's live processes, each with the marker that proves it is ours.
 * @param {string} dir
 * @returns {Array<{ pid: number, marker: string }>}
 */
export function listSimProcesses(dir) {
  const absoluteDir = path.resolve(dir);
  /** @type {Map<number, string>} */
  const found = new Map();
  if (fs.existsSync(simPaths(absoluteDir).stateFile)) {
    const state = readStateSnapshot(absoluteDir);
    for (const app of Object.values(state.apps)) {
      for (const machine of Object.values(app.machines)) if (machine.pid) found.set(machine.pid, machineMarker(machine.id));
      if (app.router?.pid) found.set(app.router.pid, routerMarker(app.name));
    }
    for (const pid of Object.keys(state.proxies)) found.set(Number(pid), 'proxy');
  }
  const marker = dirMarker(absoluteDir);
  for (const pid of findProcessesWithMarker(marker)) found.set(pid, marker);
  return [...found].filter(([pid, processMarker]) => isProcessAlive(pid) && processHasMarker(pid, processMarker)).map(([pid, processMarker]) => ({ pid, marker: processMarker }));
}

/**
 * Stops them all; resolves with the pids that were running.
 * @param {string} dir
 * @returns {Promise<number[]>}
 */
export async function killAllSimProcesses(dir) {
  const processes = listSimProcesses(dir);
  await Promise.all(processes.map(({ pid, marker }) => terminateProcess(pid, marker)));
  return processes.map(({ pid }) => pid);
}
