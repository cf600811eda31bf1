// The demo app's source: a local git repository whose branches decide how a deploy goes.
//   main    v2, healthy: tests pass, health and smoke pass            → deployed
//   broken  v3, `/` answers 500: tests pass, health passes, smoke fails → rolled back by itself
// Each commit carries the simulator's image manifest (sim-app.json, the Dockerfile's stand-in),
// a fly.toml with the health check, and the app's test script (`node test.js`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Sim, SimAppManifest } from '../../sim/testing.js';

export const GOOD_BRANCH = 'main';
export const BAD_BRANCH = 'broken';
export const DEMO_HEALTH_PATH = '/health';

const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'Flightdeck Sandbox', GIT_AUTHOR_EMAIL: 'sandbox@flightdeck.invalid', GIT_COMMITTER_NAME: 'Flightdeck Sandbox', GIT_COMMITTER_EMAIL: 'sandbox@flightdeck.invalid' };

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...GIT_IDENTITY } }).trim();
}

/** The image every machine runs before the first deploy (what "the last known good image" is at first). */
export function initialImage(appName: string): SimAppManifest {
  return { version: 'v1', healthPath: DEMO_HEALTH_PATH, routes: { '/': { body: `${appName} v1: hello\n` } } };
}

const COMMITS: Array<{ branch: string; message: string; manifest: (appName: string) => SimAppManifest }> = [
  { branch: GOOD_BRANCH, message: 'v2: a friendlier greeting', manifest: (app) => ({ version: 'v2', healthPath: DEMO_HEALTH_PATH, routes: { '/': { body: `${app} v2: hello, and welcome\n` } } }) },
  { branch: BAD_BRANCH, message: 'v3: new home page (with a bug the tests miss)', manifest: () => ({ version: 'v3', healthPath: DEMO_HEALTH_PATH, routes: { '/': { status: 500, body: 'TypeError: greeting is undefined\n' } } }) },
];

function commitSource(dir: string, sim: Sim, appName: string, manifest: SimAppManifest, message: string): void {
  const sourceDir = sim.makeSourceDir(manifest, { app: appName, checkPath: DEMO_HEALTH_PATH });
  for (const file of fs.readdirSync(sourceDir)) fs.copyFileSync(path.join(sourceDir, file), path.join(dir, file));
  fs.rmSync(sourceDir, { recursive: true, force: true });
  fs.writeFileSync(path.join(dir, 'test.js'), "console.log('2 tests passed');\n");
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', message]);
}

/** Creates the repository with its two branches unless it already exists; returns its path. */
export function ensureDemoRepository(dir: string, sim: Sim, appName: string): string {
  if (fs.existsSync(path.join(dir, '.git'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  git(dir, ['init', '--quiet', `--initial-branch=${GOOD_BRANCH}`]);
  commitSource(dir, sim, appName, initialImage(appName), 'v1: hello');
  const [good, bad] = COMMITS;
  commitSource(dir, sim, appName, good!.manifest(appName), good!.message);
  git(dir, ['checkout', '--quiet', '-b', bad!.branch]);
  commitSource(dir, sim, appName, bad!.manifest(appName), bad!.message);
  git(dir, ['checkout', '--quiet', GOOD_BRANCH]);
  return dir;
}
