// Which database a migration changes, and whether it must be backed up first. A database belongs to
// an environment (environments.<name>.database), so a staging deploy migrates staging's database and
// never production's. Any database that has a `databases:` entry (matched by its secret) is backed up,
// and the backup verified, before its schema changes, whatever the environment is called; the entry's
// `backupBeforeMigrate: false` opts out.
import { ConfigError, ownValue, type AppsConfig, type EnvironmentDatabaseConfig } from './config.js';

export interface EnvironmentDatabase {
  app: string;
  environment: string;
  database: EnvironmentDatabaseConfig;
  /** The `databases:` entry of this database (same secret), which backups and permissions use. */
  backupEntry?: string;
  /** A verified backup is taken before the schema changes. */
  isBackupRequired: boolean;
}

/** Every environment that has a database, in config order. */
export function environmentDatabases(config: AppsConfig): EnvironmentDatabase[] {
  return Object.entries(config.apps).flatMap(([app, appConfig]) => Object.entries(appConfig.environments)
    .flatMap(([environment, env]) => (env.database ? [describe(config, app, environment, env.database)] : [])));
}

/** The database an environment migrates, or undefined when it has none (the pipeline skips migrate). */
export function databaseOfEnvironment(config: AppsConfig, app: string, environment: string): EnvironmentDatabase | undefined {
  const appConfig = ownValue(config.apps, app);
  const database = appConfig ? ownValue(appConfig.environments, environment)?.database : undefined;
  return database ? describe(config, app, environment, database) : undefined;
}

/**
 * The database a migration request means: the named environment's, or, without an environment, the
 * app's only one. Anything else is an error that says what exists.
 */
export function resolveEnvironmentDatabase(config: AppsConfig, app: string, environment?: string): EnvironmentDatabase {
  const appConfig = ownValue(config.apps, app);
  if (!appConfig) throw problem(`unknown app "${app}"; configured apps: ${Object.keys(config.apps).join(', ') || '(none)'}`);
  const candidates = environmentDatabases(config).filter((d) => d.app === app);
  if (environment !== undefined) {
    if (!ownValue(appConfig.environments, environment)) {
      throw problem(`app "${app}" has no environment "${environment}"; it has: ${Object.keys(appConfig.environments).join(', ')}`);
    }
    const found = candidates.find((d) => d.environment === environment);
    if (!found) throw problem(`environment "${environment}" of app "${app}" has no database (environments.${environment}.database)`);
    return found;
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) throw problem(`app "${app}" has no database in any environment (environments.<name>.database)`);
  throw problem(`app "${app}" has a database in each of ${candidates.map((d) => d.environment).join(', ')}: name the environment`);
}

/** The environments that migrate the database of a `databases:` entry (same secret). */
export function environmentsUsingDatabase(config: AppsConfig, entry: string): EnvironmentDatabase[] {
  return environmentDatabases(config).filter((d) => d.backupEntry === entry);
}

function describe(config: AppsConfig, app: string, environment: string, database: EnvironmentDatabaseConfig): EnvironmentDatabase {
  const backupEntry = Object.entries(config.databases).find(([, db]) => db.secret === database.secret)?.[0];
  const isBackupRequired = backupEntry !== undefined && config.databases[backupEntry]!.backupBeforeMigrate;
  return { app, environment, database, backupEntry, isBackupRequired };
}

function problem(message: string): ConfigError {
  return new ConfigError('the request', [message]);
}
