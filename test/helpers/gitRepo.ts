// A local git repository standing in for an app's source. Each commit carries the simulator's image
// manifest and fly.toml (made by sim.makeSourceDir) plus a test script, so a commit decides how its
// tests, build and rollout behave.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sim, SimBehaviour, SourceDirOptions } from '../../sim/testing.js';

export interface CommitSpec {
  behaviour: SimBehaviour;
  /** Exit code of the app's test script (`node test.js`). */
  testExitCode?: number;
  /** The whole test script instead (test.js, run as `node test.js` in the sandbox). */
  testScript?: string;
  flyToml?: SourceDirOptions;
}

export interface GitRepo {
  dir: string;
  commit(spec: CommitSpec): string;
  remove(): void;
}

const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.com' };

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...GIT_IDENTITY } }).trim();
}

export function createGitRepo(sim: Sim, appName: string): GitRepo {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-repo-'));
  git(dir, ['init', '--quiet', '--initial-branch=main']);
  return {
    dir,
    commit(spec) {
      const sourceDir = sim.makeSourceDir(spec.behaviour, { app: appName, ...spec.flyToml });
      for (const file of fs.readdirSync(sourceDir)) fs.copyFileSync(path.join(sourceDir, file), path.join(dir, file));
      fs.rmSync(sourceDir, { recursive: true, force: true });
      fs.writeFileSync(path.join(dir, 'test.js'), spec.testScript ?? `console.log('running tests'); process.exit(${spec.testExitCode ?? 0});\n`);
      git(dir, ['add', '-A']);
      git(dir, ['commit', '--quiet', '--allow-empty', '-m', 'change']);
      return git(dir, ['rev-parse', 'HEAD']);
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
