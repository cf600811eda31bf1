// All activities, assembled with their dependencies. Workflows import only the type.
import path from 'node:path';
import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import type { AppsConfig, EnvConfig } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { sandboxSettings } from '../lib/sandbox.js';
import { createAnalysisActivities } from './analysis.js';
import { createAppOperationActivities } from './appOperations.js';
import { createAuditActivities } from './audit.js';
import { createBackupActivities } from './backup/index.js';
import { createBackupListActivities } from './backup/backupList.js';
import { createFreshnessActivities } from './backup/freshness.js';
import { createDeployLockActivities } from './deployLock.js';
import { createDeployTargetActivities } from './deployTarget.js';
import { createFlyActivities } from './fly.js';
import { createGitActivities } from './git.js';
import { createGitHubActivities } from './github.js';
import { createHttpActivities } from './http.js';
import { createMigrationActivities } from './migrations/index.js';
import { createPreflightActivities } from './preflight.js';
import { createPromotionActivities } from './promotion.js';
import { createReleaseLedgerActivities } from './releaseLedger.js';
import { createRunWatchActivities } from './runWatch.js';
import { createSlackActivities } from './slack.js';

export interface ActivityDeps {
  env: EnvConfig;
  logger: Logger;
  slack?: WebClient;
  /** Read on every run, so a config change applies to the next run without a restart. */
  loadAppsConfig: () => AppsConfig;
  /** For activities that message other workflows (the lock a rollback takes); absent: they fail, saying so. */
  temporalClient?: Client;
}

export function createActivities(deps: ActivityDeps) {
  const workDir = path.resolve(deps.env.FLIGHTDECK_WORK_DIR);
  const promotion = createPromotionActivities({ temporalClient: deps.temporalClient, loadAppsConfig: deps.loadAppsConfig, logger: deps.logger });
  const ledger = createReleaseLedgerActivities({ temporalClient: deps.temporalClient, onVerified: promotion.offerVerifiedRelease });
  const fly = createFlyActivities({ env: deps.env, logger: deps.logger, workDir });
  const deployTarget = createDeployTargetActivities(deps);
  return {
    ...createSlackActivities({ client: deps.slack, logger: deps.logger }),
    ...createGitHubActivities({ env: deps.env, logger: deps.logger }),
    ...createAuditActivities({ logger: deps.logger }),
    ...deployTarget,
    ...createDeployLockActivities({ temporalClient: deps.temporalClient }),
    ...ledger,
    promoteAutomatically: promotion.promoteAutomatically,
    ...createRunWatchActivities({ temporalClient: deps.temporalClient }),
    ...createAppOperationActivities({ temporalClient: deps.temporalClient }),
    ...fly,
    ...createPreflightActivities({ ...fly, ...ledger, ...deployTarget }),
    ...createRunnerActivities(deps),
    ...createHttpActivities(),
    ...createAnalysisActivities(),
    ...createBackupActivities(deps),
    ...createBackupListActivities(deps),
    ...createFreshnessActivities(deps),
    ...createMigrationActivities(deps),
  };
}

/**
 * What the runner queue serves (FLIGHTDECK_RUNNER_TASK_QUEUE): checkouts and the sandboxed repository
 * commands. It needs no Fly, Slack, database or storage secret: a runner can be started without them.
 */
export function createRunnerActivities(deps: Pick<ActivityDeps, 'env' | 'logger' | 'loadAppsConfig'>) {
  const workDir = path.resolve(deps.env.FLIGHTDECK_WORK_DIR);
  return createGitActivities({ workDir, sandbox: () => sandboxSettings(deps.env, localBackupDirs(deps.loadAppsConfig())), loadAppsConfig: deps.loadAppsConfig, logger: deps.logger });
}

/** Backups in local storage are hidden from repository commands (a test must not swap a dump). */
function localBackupDirs(config: AppsConfig): string[] {
  return config.storage.type === 'local' ? [path.resolve(config.storage.dir)] : [];
}

export type Activities = ReturnType<typeof createActivities>;
