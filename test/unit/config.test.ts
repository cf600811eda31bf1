import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appsConfigLoader, ConfigError, loadAppsConfig, loadEnvConfig, parseAppsConfig, resolveTarget, slackChannelFor } from '../../lib/config.js';
import { isValidGitRef } from '../../lib/validate.js';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';

describe('appsConfigLoader', () => {
  it('parses the file once while it is unchanged, and again after each edit, refusing an invalid one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-config-'));
    const file = path.join(dir, 'flightdeck.yaml');
    const write = (content: unknown, mtimeSeconds: number) => {
      fs.writeFileSync(file, JSON.stringify(content));
      fs.utimesSync(file, mtimeSeconds, mtimeSeconds);
    };
    try {
      const load = appsConfigLoader(file);
      write(validApps, 1000);
      const first = load();
      expect(load()).toBe(first);
      const renamed = { apps: { ...validApps.apps, cart: validApps.apps.shop } };
      write(renamed, 2000);
      expect(Object.keys(load().apps)).toEqual(['shop', 'cart']);
      write({ apps: { shop: { repository: 'not a url' } } }, 3000);
      expect(problems(load).length).toBeGreaterThan(0);
      expect(problems(load).length).toBeGreaterThan(0);
      write(validApps, 4000);
      expect(Object.keys(load().apps)).toEqual(['shop']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const validApps = {
  apps: {
    shop: {
      repository: 'https://github.com/acme/shop.git',
      testCommand: ['npm', 'test'],
      smokeChecks: [{ name: 'home', path: '/' }],
      environments: { staging: { flyApp: 'shop-staging' }, production: { flyApp: 'shop', approval: { required: true, approvers: ['U1'] } } },
    },
  },
};

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('environment config', () => {
  it('applies sane defaults when nothing is set', () => {
    const env = loadEnvConfig({});
    expect(env).toMatchObject({ TEMPORAL_ADDRESS: 'localhost:7233', TEMPORAL_NAMESPACE: 'default', FLYCTL_PATH: 'flyctl', LOG_LEVEL: 'info' });
  });

  it('lists every bad variable at once, saying what is expected', () => {
    const found = problems(() => loadEnvConfig({ TEMPORAL_ADDRESS: 'no-port', LOG_LEVEL: 'loud', TEMPORAL_TLS: 'maybe' }));
    expect(found).toHaveLength(3);
    expect(found.join('\n')).toMatch(/TEMPORAL_ADDRESS: host:port/);
    expect(found.join('\n')).toMatch(/LOG_LEVEL/);
    expect(found.join('\n')).toMatch(/TEMPORAL_TLS/);
  });

  it('takes PG_BIN_DIR only when it holds pg_dump and pg_restore, saying what is expected', () => {
    const binDir = locatePostgresBinDir();
    expect(loadEnvConfig({ PG_BIN_DIR: binDir }).PG_BIN_DIR).toBe(binDir);
    expect(loadEnvConfig({}).PG_BIN_DIR).toBeUndefined();
    expect(problems(() => loadEnvConfig({ PG_BIN_DIR: '/nonexistent/bin' }))).toEqual([expect.stringMatching(/^PG_BIN_DIR: a directory holding pg_dump and pg_restore, e\.g\. /)]);
  });

  it('prefers FLY_ACCESS_TOKEN over FLY_API_TOKEN, as flyctl does', () => {
    expect(loadEnvConfig({ FLY_API_TOKEN: 'api-token-1', FLY_ACCESS_TOKEN: 'access-token-2' }).flyToken).toBe('access-token-2');
  });
});

describe('apps config file', () => {
  it('fills defaults for health, strategy and failure policy', () => {
    const config = parseAppsConfig(validApps);
    const { env } = resolveTarget(config, 'shop', 'staging');
    expect(env).toMatchObject({ strategy: 'rolling', onFailure: 'rollback', rollbackStrategy: 'immediate', health: { path: '/health', consecutiveSuccesses: 3 } });
    expect(config.apps.shop!.smokeChecks[0]).toMatchObject({ method: 'GET', expectStatus: 200 });
  });

  it('rejects a bad Fly app name and an unknown key, naming the path of each', () => {
    const bad = structuredClone(validApps);
    bad.apps.shop.environments.staging.flyApp = 'Shop_Staging';
    Object.assign(bad.apps.shop.environments.production, { stratgy: 'rolling' });
    const found = problems(() => parseAppsConfig(bad));
    expect(found.some((p) => p.startsWith('apps.shop.environments.staging.flyApp: a Fly app name'))).toBe(true);
    expect(found.some((p) => p.includes('apps.shop.environments.production') && p.includes('stratgy'))).toBe(true);
  });

  it('takes parallelJobs from 1 to 16 (default 1), and refuses 0, 100 or 1.5 saying what is expected', () => {
    const database = { secret: 'ORDERS_DATABASE_URL' };
    expect(parseAppsConfig({ databases: { orders: database } }).databases.orders!.parallelJobs).toBe(1);
    expect(parseAppsConfig({ databases: { orders: { ...database, parallelJobs: 4 } } }).databases.orders!.parallelJobs).toBe(4);
    for (const parallelJobs of [0, 100, 1.5, '2']) {
      expect(problems(() => parseAppsConfig({ databases: { orders: { ...database, parallelJobs } } })))
        .toEqual(['databases.orders.parallelJobs: a whole number of pg_dump/pg_restore jobs from 1 (no parallel dump) to 16']);
    }
  });

  it('explains an unknown app or environment with what exists', () => {
    const config = parseAppsConfig(validApps);
    expect(problems(() => resolveTarget(config, 'shopp', 'staging'))[0]).toMatch(/unknown app "shopp"; configured apps: shop/);
    expect(problems(() => resolveTarget(config, 'shop', 'prod'))[0]).toMatch(/has no environment "prod"; it has: staging, production/);
  });
});

describe('git refs', () => {
  it('accepts branches and tags and refuses option-like or malformed refs', () => {
    for (const ok of ['main', 'release/1.2', 'refs/heads/feature-x', 'v1.0.0']) expect(isValidGitRef(ok)).toBe(true);
    for (const bad of ['--upload-pack=x', 'a..b', 'has space', 'x~1', 'end.lock', '']) expect(isValidGitRef(bad)).toBe(false);
  });
});

describe('slackChannelFor', () => {
  it("reports to the environment's channel, else the app's, else the apps file's default, else SLACK_CHANNEL", () => {
    const env = loadEnvConfig({ SLACK_CHANNEL: '#env-default' });
    const config = parseAppsConfig({
      slack: { defaultChannel: '#file-default' },
      apps: {
        shop: { repository: '.', slackChannel: '#shop', environments: { staging: { flyApp: 'shop-staging' }, production: { flyApp: 'shop', slackChannel: '#shop-prod' } } },
        blog: { repository: '.', environments: { staging: { flyApp: 'blog-staging' } } },
      },
    });
    expect(slackChannelFor(config, env, { app: 'shop', environment: 'production' })).toBe('#shop-prod');
    expect(slackChannelFor(config, env, { app: 'shop', environment: 'staging' })).toBe('#shop');
    expect(slackChannelFor(config, env, { app: 'blog', environment: 'staging' })).toBe('#file-default');
    expect(slackChannelFor(parseAppsConfig({}), env, {})).toBe('#env-default');
  });
});

describe('loadAppsConfig', () => {
  it('refuses a missing apps file, saying which file and how to point at the right one', () => {
    expect(problems(() => loadAppsConfig('/nonexistent/flightdeck.yaml'))).toEqual([
      'the apps file does not exist: set FLIGHTDECK_CONFIG to your apps file (see examples/flightdeck.example.yaml; the sandbox writes data/flightdeck.yaml)',
    ]);
  });
});
