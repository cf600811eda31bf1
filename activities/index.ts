// All activities, assembled with their dependencies. Workflows import only the type.
import type { WebClient } from '@slack/web-api';
import type { AppsConfig, EnvConfig } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { createSlackActivities } from './slack.js';

export interface ActivityDeps {
  env: EnvConfig;
  logger: Logger;
  slack?: WebClient;
  /** Read on every run, so a config change applies to the next run without a restart. */
  loadAppsConfig: () => AppsConfig;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSlackActivities({ client: deps.slack, logger: deps.logger }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
