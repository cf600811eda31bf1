// @ts-check
// Where the flyctl client (sim/client, built by scripts/flyctl-client.sh) and the simulator's
// server (flyctl-server.js) meet: the server's socket path for a state directory, and the cached
// client executable of this checkout.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Unix socket paths are limited to 104-108 bytes: a longer one goes to /tmp under a hash of the
// directory. Keep in step with socketPath() in sim/client/main.go.
const MAX_SOCKET_PATH = 100;

/** @param {string} dir absolute state directory */
export function serverSocketPath(dir) {
  const inDir = path.join(dir, 'flyctl.sock');
  if (inDir.length <= MAX_SOCKET_PATH) return inDir;
  return path.join('/tmp', `fly-sim-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.sock`);
}

const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const CLIENT_SOURCE_DIR = path.join(REPO_DIR, 'sim', 'client');

/**
 * The client's cached executable, if built: $FLY_SIM_CLIENT_PATH, else
 * <cache>/bin/flyctl-sim-<hash of the Go source and this checkout's path> (same hash as the script).
 * @returns {string | null}
 */
export function findFlyctlClient() {
  if (process.env.FLY_SIM_CLIENT_PATH) return process.env.FLY_SIM_CLIENT_PATH;
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'main.go']) hash.update(fs.readFileSync(path.join(CLIENT_SOURCE_DIR, file)));
  hash.update(REPO_DIR);
  const cacheDir = process.env.FLIGHTDECK_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'flightdeck');
  const client = path.join(cacheDir, 'bin', `flyctl-sim-${hash.digest('hex').slice(0, 16)}`);
  try {
    fs.accessSync(client, fs.constants.X_OK);
    return client;
  } catch {
    return null;
  }
}
