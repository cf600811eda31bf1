// Child processes see no secret they are not meant to: Flightdeck's tokens and every database secret
// the apps config names are stripped; a command that needs a connection gets exactly that one.
// Repository commands get less still: an allowlist (lib/sandbox.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createGitActivities } from '../../activities/git.js';
import { childProcessEnv, loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { PermanentError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { sandboxSettings } from '../../lib/sandbox.js';

const apps = {
  apps: {
    shop: {
      repository: '.',
      requiredSecrets: ['STRIPE_KEY'],
      database: { secret: 'SHOP_DATABASE_URL', migrations: 'db/migrations' },
      environments: { production: { flyApp: 'shop' } },
    },
  },
  databases: { warehouse: { secret: 'WAREHOUSE_PG' } },
};

const workerEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/home/flightdeck',
  SHOP_DATABASE_URL: 'postgres://shop:shop-password-1@db.internal/shop',
  WAREHOUSE_PG: 'postgres://wh:warehouse-password-2@wh.internal/wh',
  STRIPE_KEY: 'sk_live_stripe_key_3',
  DATABASE_URL: 'postgres://flightdeck:own-password-4@localhost/flightdeck',
  PGPASSWORD: 'libpq-password-5',
  FLY_API_TOKEN: 'fo1_fly_token_6',
};

describe('childProcessEnv', () => {
  it('strips every secret the apps config names, the conventional ones and the Fly token, and keeps the rest', () => {
    parseAppsConfig(apps);
    expect(childProcessEnv({ CI: '1' }, workerEnv)).toEqual({ PATH: workerEnv.PATH, HOME: '/home/flightdeck', CI: '1' });
  });

  it('passes exactly the connection a command is given', () => {
    parseAppsConfig(apps);
    const env = childProcessEnv({ DATABASE_URL: workerEnv.SHOP_DATABASE_URL }, workerEnv);
    expect(env.DATABASE_URL).toBe(workerEnv.SHOP_DATABASE_URL);
    expect(Object.keys(env).sort()).toEqual(['DATABASE_URL', 'HOME', 'PATH']);
  });
});

describe("an app's test command", () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-env-'));
  const secretNames = Object.keys(workerEnv).filter((name) => name !== 'PATH' && name !== 'HOME');
  afterAll(() => {
    for (const name of [...secretNames, 'FLIGHTDECK_VISIBLE_SETTING']) delete process.env[name];
    fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('sees only the allowlist, the app\'s env and the secrets named for its kind of command', async () => {
    const config = parseAppsConfig({
      ...apps,
      apps: { shop: { ...apps.apps.shop, env: { NODE_ENV: 'test' }, commandSecrets: { test: ['STRIPE_KEY'] } } },
    });
    for (const name of secretNames) process.env[name] = workerEnv[name as keyof typeof workerEnv];
    process.env.FLIGHTDECK_VISIBLE_SETTING = 'ordinary';
    const printEnvNames = 'console.log(JSON.stringify(Object.keys(process.env).sort()))';
    const env = loadEnvConfig({ FLIGHTDECK_WORK_DIR: workspace });
    const git = createGitActivities({ workDir: workspace, sandbox: () => sandboxSettings(env), loadAppsConfig: () => config, logger: createLogger({ level: 'silent' }) });

    const runTests = () => git.runWorkspaceCommand({
      workspace, command: [process.execPath, '-e', printEnvNames], timeoutMs: 30_000, failureType: PermanentError.TestsFailed, label: 'tests', app: 'shop', kind: 'test',
    });
    const result = await new MockActivityEnvironment().run<[], Awaited<ReturnType<typeof runTests>>, typeof runTests>(runTests);

    expect(JSON.parse(result.lastLine)).toEqual(['CI', 'HOME', 'LANG', 'NODE_ENV', 'PATH', 'PWD', 'STRIPE_KEY']);
  });
});
