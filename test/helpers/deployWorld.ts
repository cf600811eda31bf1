// Everything a deploy test needs around the real Temporal server: the Fly simulator, a fake Slack,
// an app with running machines, its git repository, and Flightdeck's activities wired to them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { createSlackClient } from '../../activities/slack.js';
import { loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { createSim, type Sim, type SimAppManifest } from '../../sim/testing.js';
import { startFakeSlack, type FakeSlack } from './fakeSlack.js';
import { scrapedBySharedPrometheus } from './prometheus.js';
import { createGitRepo, type GitRepo } from './gitRepo.js';
import type { WorkflowTestKit } from './temporal.js';

export const FLY_TOKEN = 'fo1_test_token_never_in_history_3c9d';
export const SLACK_TOKEN = 'xoxb-test-never-in-history-7a1e';

export interface TestApp {
  name: string;
  repo: GitRepo;
  /** The image serving before the test's deploy. */
  initialImage: string;
  appUrl: string;
}

export interface DeployWorld {
  readonly sim: Sim;
  readonly slack: FakeSlack;
  /** FLIGHTDECK_WORK_DIR of the activities: where runs check out. */
  readonly workDir: string;
  /** Raw apps config; tests add their app before starting a deploy. */
  readonly apps: Record<string, unknown>;
  /**
   * Activities wired to the simulator and fake Slack; `extra` adds deps such as a Temporal client,
   * `environment` more worker variables (FLIGHTDECK_BWRAP_PATH…).
   */
  activities(extra?: Partial<ActivityDeps>, environment?: Record<string, string>): ReturnType<typeof createActivities>;
  /** A fresh Fly app with healthy machines and a matching repository and config entry. */
  /** image: more of the initial image's manifest (sim-app.json), e.g. routes or traffic. */
  createApp(options?: { machines?: number; environment?: Record<string, unknown>; app?: Record<string, unknown>; image?: SimAppManifest }): Promise<TestApp>;
  /** The body of GET / on the app: "<app> <version>" tells which image serves. */
  servedBody(app: TestApp): Promise<string>;
  /** The environment of a worker process (test/helpers/workerProcess.ts) wired to this world; writes its config file. */
  workerProcessEnv(): Record<string, string>;
}

/**
 * With a kit, activities get its Temporal client (the release ledger and deploy locks need one).
 * options.isScraped: the run's Prometheus scrapes this world's machines (test/helpers/prometheus.ts).
 */
export function useDeployWorld(kit?: WorkflowTestKit, options: { isScraped?: boolean } = {}): DeployWorld {
  let sim: Sim | undefined;
  let slack: FakeSlack | undefined;
  let workDir = '';
  let counter = 0;
  const repos: GitRepo[] = [];
  const apps: Record<string, unknown> = {};

  beforeAll(async () => {
    [sim, slack] = await Promise.all([createSim(options.isScraped ? { settings: scrapedBySharedPrometheus() } : {}), startFakeSlack()]);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-work-'));
  });
  afterAll(async () => {
    await Promise.allSettled([sim?.teardown(), slack?.close()]);
    for (const repo of repos) repo.remove();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  const world: DeployWorld = {
    get sim() { return sim!; },
    get slack() { return slack!; },
    get workDir() { return workDir; },
    apps,
    activities(extra = {}, environment = {}) {
      const env = loadEnvConfig({ FLYCTL_PATH: sim!.flyctlPath, FLY_API_TOKEN: FLY_TOKEN, FLY_SIM_DIR: sim!.dir, FLIGHTDECK_WORK_DIR: workDir, SLACK_CHANNEL: '#deploys', ...environment });
      // flyctl (the simulator) reads FLY_SIM_DIR from the worker's environment, as real flyctl reads its config.
      process.env.FLY_SIM_DIR = sim!.dir;
      return createActivities({
        env, logger: createLogger({ level: 'silent' }), slack: createSlackClient(SLACK_TOKEN, slack!.apiUrl),
        loadAppsConfig: () => parseAppsConfig({ apps }),
        temporalClient: kit?.client,
        ...extra,
      });
    },
    async createApp(options = {}) {
      // Faults are global to the simulator: a test starts with none left over from another.
      await sim!.clearFaults();
      const name = `shop-${process.pid}-${++counter}`;
      const created = await sim!.createApp(name, { machines: options.machines ?? 2, image: { version: 'v1', ...options.image, routes: { '/': { body: `${name} v1` }, ...options.image?.routes } } });
      const repo = createGitRepo(sim!, name);
      repos.push(repo);
      apps[name] = {
        repository: repo.dir,
        testCommand: ['node', 'test.js'],
        smokeChecks: [{ name: 'home', path: '/', expectStatus: 200 }],
        environments: {
          staging: { flyApp: name, waitTimeout: '20s', health: { consecutiveSuccesses: 2, interval: '100ms', deadline: '8s', requestTimeout: '2s' }, ...options.environment },
        },
        ...options.app,
      };
      return { name, repo, initialImage: created.imageRef, appUrl: created.appUrl };
    },
    async servedBody(app) {
      const response = await fetch(`${app.appUrl}/`);
      return response.text();
    },
    workerProcessEnv() {
      const configPath = path.join(workDir, 'flightdeck.yaml');
      // Written whole and renamed into place: a worker process may be reading it right now.
      fs.writeFileSync(`${configPath}.${process.pid}.tmp`, JSON.stringify({ apps }));
      fs.renameSync(`${configPath}.${process.pid}.tmp`, configPath);
      return {
        FLIGHTDECK_CONFIG: configPath, FLIGHTDECK_WORK_DIR: workDir,
        FLYCTL_PATH: sim!.flyctlPath, FLY_SIM_DIR: sim!.dir, FLY_API_TOKEN: FLY_TOKEN,
        SLACK_BOT_TOKEN: SLACK_TOKEN, SLACK_API_URL: slack!.apiUrl, SLACK_CHANNEL: '#deploys', LOG_LEVEL: 'warn',
      };
    },
  };
  return world;
}
