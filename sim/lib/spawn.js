// @ts-check
// Starting the simulator's long-lived processes: detached from the flyctl call (so they outlive
// it, as machines do), output appended to a file under run/, marked on the command line.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { simPaths } from './state.js';

/**
 * Starts `node script args…` detached and returns its pid.
 * @param {string} dir state directory
 * @param {string} script absolute path of the script
 * @param {string[]} args
 * @param {{ env: NodeJS.ProcessEnv, outputName: string }} options
 */
export function spawnDetachedNode(dir, script, args, { env, outputName }) {
  const { runDir } = simPaths(dir);
  fs.mkdirSync(runDir, { recursive: true });
  const outputFd = fs.openSync(path.join(runDir, `${outputName}.out`), 'a');
  try {
    const child = spawn(process.execPath, [script, ...args], { detached: true, stdio: ['ignore', outputFd, outputFd], env });
    child.on('error', () => {});
    child.unref();
    return /** @type {number} */ (child.pid);
  } finally {
    fs.closeSync(outputFd);
  }
}
