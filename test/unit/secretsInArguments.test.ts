// Workflow and activity arguments and results are kept in Temporal history for good: secrets travel
// through them by NAME only, and are read where they are used.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ASKPASS_SCRIPT } from '../../activities/git.js';
import { createHttpActivities } from '../../activities/http.js';
import { buildMigrations, planApply, toPlannedMigration } from '../../activities/migrations/plan.js';
import { ConfigError, parseAppsConfig } from '../../lib/config.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { CheckResult } from '../../lib/messages.js';

function appWith(fields: Record<string, unknown>) {
  return { apps: { shop: { repository: 'https://github.com/acme/shop.git', environments: { production: { flyApp: 'shop' } }, ...fields } } };
}

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('repository credentials', () => {
  it('refuses a repository URL that carries a token or a password, and says to name a secret instead', () => {
    for (const repository of ['https://x-access-token:ghp_0123456789abcdefghij@github.com/acme/shop.git', 'https://ghp_0123456789abcdefghij@github.com/acme/shop.git']) {
      expect(problemsOf(() => parseAppsConfig(appWith({ repository })))).toContain('repositoryCredential: { secret: NAME }');
    }
  });

  it('accepts plain, ssh and local repositories, and a credential named by its variable', () => {
    for (const repository of ['https://github.com/acme/shop.git', 'ssh://git@github.com/acme/shop.git', 'git@github.com:acme/shop.git', '/srv/git/shop']) {
      expect(parseAppsConfig(appWith({ repository, repositoryCredential: { secret: 'SHOP_GIT_TOKEN' } })).apps.shop!.repositoryCredential)
        .toEqual({ secret: 'SHOP_GIT_TOKEN', username: 'x-access-token' });
    }
  });

  it("answers git's prompts from the environment it is given, so the token is never an argument", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-askpass-test-'));
    try {
      const script = path.join(dir, 'askpass.sh');
      fs.writeFileSync(script, ASKPASS_SCRIPT, { mode: 0o700 });
      const env = { PATH: process.env.PATH ?? '', FLIGHTDECK_GIT_USERNAME: 'x-access-token', FLIGHTDECK_GIT_PASSWORD: 'ghp_token_from_the_environment' };
      expect(execFileSync(script, ["Username for 'https://github.com': "], { env, encoding: 'utf8' })).toBe('x-access-token\n');
      expect(execFileSync(script, ["Password for 'https://x-access-token@github.com': "], { env, encoding: 'utf8' })).toBe('ghp_token_from_the_environment\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('smoke-check request headers', () => {
  const server = http.createServer((request, response) => {
    response.statusCode = request.headers.authorization === 'Bearer smoke-secret-value-42' ? 200 : 401;
    response.end();
  });
  afterAll(() => { server.close(); delete process.env.SHOP_SMOKE_TOKEN; });

  it('refuses a secret-looking header with its value written in the apps file', () => {
    const checks = [{ name: 'admin', path: '/admin', requestHeaders: { Authorization: 'Bearer smoke-secret-value-42' } }];
    expect(problemsOf(() => parseAppsConfig(appWith({ smokeChecks: checks })))).toContain('name the worker variable that holds it');
  });

  it('sends a header whose secret is named, read by the activity at the moment of the request', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const config = parseAppsConfig(appWith({ smokeChecks: [{ name: 'admin', path: '/admin', requestHeaders: { Authorization: { secret: 'SHOP_SMOKE_TOKEN', prefix: 'Bearer ' } } }] }));
    const checks = config.apps.shop!.smokeChecks;
    expect(JSON.stringify(checks)).not.toContain('smoke-secret-value-42');
    const activities = createHttpActivities();
    // An activity: it heartbeats, so it runs in an activity context.
    const runChecks = (): Promise<CheckResult[]> => new MockActivityEnvironment().run(activities.runSmokeChecks, { baseUrl, checks });

    const [before] = await runChecks();
    process.env.SHOP_SMOKE_TOKEN = 'smoke-secret-value-42';
    const [after] = await runChecks();

    expect(before).toMatchObject({ isPassed: false, detail: expect.stringContaining('SHOP_SMOKE_TOKEN is not set') });
    expect(after).toMatchObject({ isPassed: true });
  });
});

describe('migration plans', () => {
  it('show the SQL with passwords redacted, since a plan is kept in history', () => {
    const migrations = buildMigrations([{ fileName: '1_reporting.up.sql', sql: "CREATE ROLE reporting LOGIN PASSWORD 'reporting-pw-1234';\nGRANT SELECT ON orders TO reporting;" }]);
    const [planned] = planApply(migrations, { version: 0, isDirty: false }).map(toPlannedMigration);
    expect(planned!.sql).toBe("CREATE ROLE reporting LOGIN PASSWORD '[REDACTED]';\nGRANT SELECT ON orders TO reporting;");
  });
});
