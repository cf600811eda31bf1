import { describe, expect, it } from 'vitest';
import { ConfigError, parseAppsConfig, resolveTarget } from '../../lib/config.js';
import { databaseOfEnvironment, resolveEnvironmentDatabase } from '../../lib/environmentDatabase.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const twoEnvironments = {
  repository: '.',
  environments: {
    staging: { flyApp: 'shop-staging', database: { secret: 'SHOP_STAGING_DATABASE_URL', migrations: 'db/migrations' } },
    production: { flyApp: 'shop', database: { secret: 'SHOP_DATABASE_URL', migrations: 'db/migrations' } },
  },
};

describe('per-environment databases', () => {
  it("gives each environment its own database, so staging never resolves to production's", () => {
    const config = parseAppsConfig({ apps: { shop: twoEnvironments }, databases: { shop: { secret: 'SHOP_DATABASE_URL' } } });
    expect(databaseOfEnvironment(config, 'shop', 'staging')).toMatchObject({ database: { secret: 'SHOP_STAGING_DATABASE_URL' }, isBackupRequired: false });
    expect(databaseOfEnvironment(config, 'shop', 'production')).toMatchObject({ database: { secret: 'SHOP_DATABASE_URL' }, backupEntry: 'shop', isBackupRequired: true });
  });

  it('refuses the per-app database of an app with several environments, saying where it goes instead', () => {
    const { environments } = twoEnvironments;
    const found = problems(() => parseAppsConfig({
      apps: { shop: { repository: '.', database: { secret: 'SHOP_DATABASE_URL' }, environments: { staging: { flyApp: environments.staging.flyApp }, production: { flyApp: 'shop' } } } },
    }));
    expect(found).toEqual([expect.stringMatching(/^apps\.shop\.database: the per-app database is a shorthand for an app with exactly one environment; this app has staging, production: give each environment its own database \(environments\.<name>\.database\)/)]);
  });

  it("keeps the per-app database as a shorthand for an app's only environment", () => {
    const config = parseAppsConfig({ apps: { blog: { repository: '.', database: { secret: 'BLOG_DATABASE_URL' }, environments: { production: { flyApp: 'blog' } } } } });
    expect(resolveEnvironmentDatabase(config, 'blog')).toMatchObject({ environment: 'production', database: { secret: 'BLOG_DATABASE_URL' } });
  });

  it('backs up any database with a databases: entry before migrating, whatever the environment is called, unless the entry opts out', () => {
    const config = parseAppsConfig({
      apps: { shop: twoEnvironments },
      databases: { 'shop-staging': { secret: 'SHOP_STAGING_DATABASE_URL' }, shop: { secret: 'SHOP_DATABASE_URL', backupBeforeMigrate: false } },
    });
    expect(databaseOfEnvironment(config, 'shop', 'staging')).toMatchObject({ backupEntry: 'shop-staging', isBackupRequired: true });
    expect(databaseOfEnvironment(config, 'shop', 'production')).toMatchObject({ backupEntry: 'shop', isBackupRequired: false });
  });

  it('asks which environment when several have a database, and names the one without', () => {
    const config = parseAppsConfig({ apps: { shop: { ...twoEnvironments, environments: { ...twoEnvironments.environments, preview: { flyApp: 'shop-preview' } } } } });
    expect(problems(() => resolveEnvironmentDatabase(config, 'shop'))).toEqual(['app "shop" has a database in each of staging, production: name the environment']);
    expect(problems(() => resolveEnvironmentDatabase(config, 'shop', 'preview'))).toEqual(['environment "preview" of app "shop" has no database (environments.preview.database)']);
  });
});

describe('names from requests', () => {
  it('finds no app, environment or database named after an Object property such as "constructor"', () => {
    const config = parseAppsConfig({ apps: { shop: twoEnvironments } });
    expect(problems(() => resolveTarget(config, 'constructor', 'staging'))[0]).toMatch(/unknown app "constructor"/);
    expect(problems(() => resolveTarget(config, 'shop', 'constructor'))[0]).toMatch(/has no environment "constructor"/);
    expect(problems(() => resolveTarget(config, 'shop', '__proto__'))[0]).toMatch(/has no environment "__proto__"/);
    expect(databaseOfEnvironment(config, 'shop', 'toString')).toBeUndefined();
    expect(config.databases.constructor).toBeUndefined();
  });
});
