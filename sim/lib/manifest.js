// @ts-check
// An image's behaviour, read at build time from sim-app.json in the source directory (it stands in
// for the Dockerfile): what the app serves, how its health check behaves, whether it crashes, and
// how its release_command and build end.
import fs from 'node:fs';
import path from 'node:path';
import { FlyError } from './errors.js';

export const MANIFEST_FILE_NAME = 'sim-app.json';

/**
 * @typedef {{ status?: number, body?: string, json?: unknown, headers?: Record<string, string> }} RouteBehaviour
 * @typedef {{
 *   version: string, healthPath: string, health: 'pass' | 'fail' | 'fail-except-first', healthyAfterMs: number,
 *   failHealthAfterRequests: number | null, failHealthAfterMs: number | null, restartHeals: boolean | 'permanently',
 *   crashOnStart: boolean, startDelayMs: number, routes: Record<string, RouteBehaviour>,
 *   releaseCommand: { exitCode: number, output: string[], durationMs: number },
 *   machineCheck: { exitCode: number, durationMs: number },
 *   build: { fails: boolean, error: string, durationMs: number },
 *   traffic: import('./app-metrics.js').TrafficBehaviour,
 *   logs: { everyMs: number, lines: Array<{ level: string, message: string }> }
 * }} Manifest
 */

const DEFAULT_BUILD_ERROR = 'failed to solve: process "/bin/sh -c npm run build" did not complete successfully: exit code: 1';

/**
 * @param {Record<string, any>} raw
 * @returns {Manifest}
 */
export function normalizeManifest(raw) {
  const known = ['version', 'healthPath', 'health', 'healthyAfterMs', 'failHealthAfterRequests', 'failHealthAfterMs', 'restartHeals', 'crashOnStart', 'startDelayMs', 'routes', 'releaseCommand', 'machineCheck', 'build', 'traffic', 'logs'];
  const unknown = Object.keys(raw).filter((key) => !known.includes(key));
  if (unknown.length > 0) throw new FlyError(`${MANIFEST_FILE_NAME}: unknown field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return {
    version: String(raw.version ?? 'v1'),
    healthPath: String(raw.healthPath ?? '/health'),
    health: raw.health === 'fail' || raw.health === 'fail-except-first' ? raw.health : 'pass',
    healthyAfterMs: Number(raw.healthyAfterMs ?? 0),
    failHealthAfterRequests: raw.failHealthAfterRequests == null ? null : Number(raw.failHealthAfterRequests),
    failHealthAfterMs: raw.failHealthAfterMs == null ? null : Number(raw.failHealthAfterMs),
    restartHeals: raw.restartHeals === 'permanently' ? 'permanently' : raw.restartHeals !== false,
    crashOnStart: Boolean(raw.crashOnStart),
    startDelayMs: Number(raw.startDelayMs ?? 0),
    routes: raw.routes ?? {},
    releaseCommand: {
      exitCode: Number(raw.releaseCommand?.exitCode ?? 0),
      output: (raw.releaseCommand?.output ?? []).map(String),
      durationMs: Number(raw.releaseCommand?.durationMs ?? 0),
    },
    machineCheck: {
      exitCode: Number(raw.machineCheck?.exitCode ?? 0),
      durationMs: Number(raw.machineCheck?.durationMs ?? 0),
    },
    build: {
      fails: Boolean(raw.build?.fails),
      error: String(raw.build?.error ?? DEFAULT_BUILD_ERROR),
      durationMs: Number(raw.build?.durationMs ?? 0),
    },
    traffic: {
      requestsPerSecond: Number(raw.traffic?.requestsPerSecond ?? 0),
      errorRate: Math.min(1, Math.max(0, Number(raw.traffic?.errorRate ?? 0))),
      latencyMs: Number(raw.traffic?.latencyMs ?? 20),
    },
    logs: {
      everyMs: Number(raw.logs?.everyMs ?? 1000),
      lines: (raw.logs?.lines ?? []).map((/** @type {any} */ line) => (typeof line === 'string'
        ? { level: 'info', message: line }
        : { level: String(line.level ?? 'info'), message: String(line.message ?? '') })),
    },
  };
}

/**
 * The manifest in a source directory, or null when the directory has none.
 * @param {string} sourceDir
 * @returns {Manifest | null}
 */
export function readManifest(sourceDir) {
  const manifestPath = path.join(sourceDir, MANIFEST_FILE_NAME);
  if (!fs.existsSync(manifestPath)) return null;
  try {
    return normalizeManifest(JSON.parse(fs.readFileSync(manifestPath, 'utf8')));
  } catch (err) {
    if (err instanceof FlyError) throw err;
    throw new FlyError(`${manifestPath}: ${/** @type {Error} */ (err).message}`);
  }
}
