// @ts-check
// Health checks, run for real against a machine's process: an HTTP check passes on a 2xx
// response, a TCP check when the port accepts a connection. Statuses use the platform's shape
// {name, status: passing|critical, output, updated_at}.
import http from 'node:http';
import net from 'node:net';
import { observedState } from './machines.js';

const PROBE_TIMEOUT_MS = 2000;
const MAX_OUTPUT_LENGTH = 200;

/**
 * @typedef {{ name: string, status: 'passing' | 'critical', output: string, updated_at: string }} CheckStatus
 */

/**
 * Every configured check of the machine, probed now.
 * @param {import('./state.js').MachineRecord} machine
 * @returns {Promise<CheckStatus[]>}
 */
export async function probeMachineChecks(machine) {
  return Promise.all(machine.config.checks.map((check) => probeCheck(machine, check)));
}

/**
 * True when the machine has checks and all of them pass (the deploy's health condition).
 * @param {import('./state.js').MachineRecord} machine
 */
export async function isMachineHealthy(machine) {
  const statuses = await probeMachineChecks(machine);
  return statuses.length > 0 && statuses.every((status) => status.status === 'passing');
}

/**
 * @param {import('./state.js').MachineRecord} machine
 * @param {import('./state.js').CheckDefinition} check
 * @returns {Promise<CheckStatus>}
 */
async function probeCheck(machine, check) {
  const address = `[${machine.privateIp}]:${check.port}`;
  const result = observedState(machine) !== 'started' || !machine.port
    ? { isPassing: false, output: `dial tcp ${address}: connect: connection refused` }
    : check.type === 'tcp'
      ? await probeTcp(machine.port, address)
      : await probeHttp(machine.port, check, address);
  return { name: check.name, status: result.isPassing ? 'passing' : 'critical', output: result.output.slice(0, MAX_OUTPUT_LENGTH), updated_at: new Date().toISOString() };
}

/**
 * @param {number} port
 * @param {import('./state.js').CheckDefinition} check
 * @param {string} address how the platform would name the machine's address
 * @returns {Promise<{ isPassing: boolean, output: string }>}
 */
function probeHttp(port, check, address) {
  return new Promise((resolve) => {
    const request = http.request({ host: '127.0.0.1', port, path: check.path, method: check.method, timeout: PROBE_TIMEOUT_MS, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve({ isPassing: true, output: body.trim() || 'OK' });
        resolve({ isPassing: false, output: `HTTP GET http://${address}${check.path}: ${status} ${http.STATUS_CODES[status] ?? ''} Output: "${body.trim()}"` });
      });
    });
    request.on('timeout', () => request.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')));
    request.on('error', (err) => {
      const isRefused = /** @type {NodeJS.ErrnoException} */ (err).code === 'ECONNREFUSED';
      resolve({ isPassing: false, output: isRefused ? `dial tcp ${address}: connect: connection refused` : `Get "http://${address}${check.path}": ${err.message}` });
    });
    request.end();
  });
}

/**
 * @param {number} port
 * @param {string} address
 * @returns {Promise<{ isPassing: boolean, output: string }>}
 */
function probeTcp(port, address) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: PROBE_TIMEOUT_MS });
    socket.once('connect', () => { socket.destroy(); resolve({ isPassing: true, output: 'Success' }); });
    socket.once('timeout', () => { socket.destroy(); resolve({ isPassing: false, output: `dial tcp ${address}: i/o timeout` }); });
    socket.once('error', () => { socket.destroy(); resolve({ isPassing: false, output: `dial tcp ${address}: connect: connection refused` }); });
  });
}
