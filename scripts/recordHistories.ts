// Records the replay fixtures (test/replay/histories) from a given commit's workflow code:
//   npx tsx scripts/recordHistories.ts --commit <sha> [--out test/replay/histories]
// It checks that commit out into a temporary git worktree (node_modules linked from this checkout),
// starts a Temporal dev server and PostgreSQL, and runs scripts/replay/recorder/*.record.ts INSIDE that
// worktree with vitest: the worker, workflows, activities and test helpers are the recorded commit's
// own, driving each scenario against the Fly simulator and saving every history as JSON. Runs in
// flight (waiting for approval, paused, a queue holding a deploy under a lock) are saved while they
// wait. The output is scanned for credentials before it replaces the old fixtures.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { decodedText, findCredentials, loadFixtures, type FixtureManifest, type RecordedRun } from '../test/replay/fixtures.js';
import { RUNS_DIR } from './replay/recorder/save.js';
import { startLocalPostgres } from './localPostgres.js';
import { startTemporalDevServer } from './localTemporal.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const REPLAY_SCRIPTS = 'scripts/replay';
const RECORDER = `${REPLAY_SCRIPTS}/recorder`;
/** Small, so the deploy queue's first run continues as new once idle: that history is a fixture too. */
const SUGGEST_CONTINUE_AS_NEW_AFTER_EVENTS = 12;

const USAGE = 'usage: npx tsx scripts/recordHistories.ts --commit <sha> [--out test/replay/histories]';

function git(args: string[], cwd = REPO): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { commit: { type: 'string' }, out: { type: 'string', default: 'test/replay/histories' }, help: { type: 'boolean' } } });
  if (values.help || !values.commit) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', `${values.commit}^{commit}`]);
  } catch {
    console.error(`${values.commit} is not a commit of this repository. ${USAGE}`);
    process.exit(2);
  }
  const out = path.resolve(values.out!);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-record-'));
  const worktree = path.join(scratch, 'worktree');
  const staged = path.join(scratch, 'histories');
  console.log(`recording histories of ${commit.slice(0, 12)} in ${worktree}`);
  git(['worktree', 'add', '--detach', worktree, commit]);
  const servers: Array<{ stop(): Promise<void> }> = [];
  try {
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(worktree, 'node_modules'), 'dir');
    // The recorder drives the old code; it is not part of the old commit, so it is copied in.
    fs.cpSync(path.join(REPO, REPLAY_SCRIPTS), path.join(worktree, REPLAY_SCRIPTS), { recursive: true });
    const config = path.join(worktree, 'record.vitest.config.mjs');
    fs.writeFileSync(config, `export default { test: { include: ['${RECORDER}/*.record.ts'], globalSetup: ['${RECORDER}/setup.ts'], pool: 'forks', maxWorkers: 2, testTimeout: 180000, hookTimeout: 120000 } };\n`);

    const [temporal, postgres] = await Promise.all([
      startTemporalDevServer({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_CONTINUE_AS_NEW_AFTER_EVENTS } }),
      startLocalPostgres(),
    ]);
    servers.push(temporal, postgres);
    const exitCode = await run('npx', ['vitest', 'run', '--config', config], worktree, {
      RECORD_TEMPORAL_ADDRESS: temporal.address, RECORD_POSTGRES_URL: postgres.url, RECORD_OUT: staged,
    });
    if (exitCode !== 0) throw new Error(`the recording run failed (exit ${exitCode}); nothing was replaced`);

    const fixtures = loadFixtures(staged);
    const password = decodeURIComponent(new URL(postgres.url).password);
    const leaks = fixtures.map((f) => [f.name, findCredentials(decodedText(f.json), [password])] as const).filter(([, found]) => found.length);
    if (leaks.length) throw new Error(`credentials in the recorded histories, nothing was replaced: ${leaks.map(([name, found]) => `${name}: ${found.join(', ')}`).join('; ')}`);

    const runsDir = path.join(staged, RUNS_DIR);
    const runs = fs.readdirSync(runsDir).map((f) => JSON.parse(fs.readFileSync(path.join(runsDir, f), 'utf8')) as RecordedRun);
    fs.rmSync(runsDir, { recursive: true });
    const manifest: FixtureManifest = { commit, recordedAt: new Date().toISOString(), workflowTypes: registeredWorkflows(commit), fixtures: fixtures.map((f) => runs.find((r) => r.name === f.name)!) };
    fs.writeFileSync(path.join(staged, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (fs.existsSync(out) && fs.readdirSync(out).length && !fs.existsSync(path.join(out, 'manifest.json'))) {
      throw new Error(`${out} is not empty and holds no manifest.json: not a fixtures folder, so it is left alone`);
    }
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.cpSync(staged, out, { recursive: true });
    console.log(`${fixtures.length} histories of ${commit.slice(0, 12)} in ${path.relative(REPO, out) || out}:\n${fixtures.map((f) => `  ${f.name}`).join('\n')}`);
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    try {
      git(['worktree', 'remove', '--force', worktree]);
    } catch (err) {
      console.error(`could not remove the worktree ${worktree}: ${(err as Error).message}`);
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The workflows the commit's worker registers: the names workflows/index.ts exports. */
function registeredWorkflows(commit: string): string[] {
  const index = git(['show', `${commit}:workflows/index.ts`]);
  return [...index.matchAll(/export\s*\{([^}]*)\}/g)].flatMap((m) => m[1]!.split(',').map((name) => name.trim().split(/\s+as\s+/).at(-1)!)).filter(Boolean).sort();
}

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

main().catch((err: unknown) => {
  console.error(`recordHistories: ${(err as Error).message}`);
  process.exit(1);
});
