// The copy-paste commands the sandbox prints: a good deploy, a bad deploy that rolls back by itself,
// and a backup, with the `flightdeck` CLI (which follows each run stage by stage), and the same
// request through the HTTP API with the sandbox's bearer token, as CI or a script would send it.
import path from 'node:path';
import { BAD_BRANCH, GOOD_BRANCH } from './demoRepository.js';
import { DEMO_APP, DEMO_DATABASE, DEMO_ENVIRONMENT } from './sandboxConfig.js';

export interface TryItCommand {
  title: string;
  command: string;
}

export interface TryItTarget {
  repoRoot: string;
  configFile: string;
  temporalAddress: string;
}

function cli(target: TryItTarget, args: string): string {
  const config = path.relative(target.repoRoot, target.configFile);
  return `TEMPORAL_ADDRESS=${target.temporalAddress} FLIGHTDECK_CONFIG=${config} npm run flightdeck -- ${args}`;
}

export function tryItCommands(target: TryItTarget): TryItCommand[] {
  return [
    { title: `A good deploy (branch ${GOOD_BRANCH}: tests, build, deploy, health and smoke all pass)`,
      command: cli(target, `deploy ${DEMO_APP} ${DEMO_ENVIRONMENT} --ref ${GOOD_BRANCH}`) },
    { title: `A bad deploy (branch ${BAD_BRANCH}: its home page answers 500, the smoke check fails, it rolls back by itself)`,
      command: cli(target, `deploy ${DEMO_APP} ${DEMO_ENVIRONMENT} --ref ${BAD_BRANCH}`) },
    { title: 'A verified backup of the demo database (dump, restore into a scratch database, compare, store)',
      command: cli(target, `backup ${DEMO_DATABASE}`) },
  ];
}

/** `/flightdeck status` typed into the sandbox's Slack stand-in (scripts/sandbox/slashCommand.ts). */
export const SLASH_COMMAND_EXAMPLE = `node --import tsx scripts/sandbox/slashCommand.ts status ${DEMO_APP} ${DEMO_ENVIRONMENT}`;

/** The good deploy as an HTTP request to the API. */
export function apiDeployCommand(apiUrl: string, apiToken: string): string {
  const body = JSON.stringify({ app: DEMO_APP, environment: DEMO_ENVIRONMENT, ref: GOOD_BRANCH });
  return `curl -sS -X POST ${apiUrl}/deploys -H 'authorization: Bearer ${apiToken}' -H 'content-type: application/json' -d '${body}'`;
}
