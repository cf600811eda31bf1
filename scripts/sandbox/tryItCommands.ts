// The three copy-paste commands the sandbox prints: a good deploy, a bad deploy that rolls back by
// itself, and a backup. They go through the API with the sandbox's bearer token, as CI or a script would.
import { BAD_BRANCH, GOOD_BRANCH } from './demoRepository.js';
import { DEMO_APP, DEMO_DATABASE, DEMO_ENVIRONMENT } from './sandboxConfig.js';

export interface TryItCommand {
  title: string;
  command: string;
}

function curlPost(apiUrl: string, apiToken: string, route: string, body: object): string {
  return `curl -sS -X POST ${apiUrl}${route} -H 'authorization: Bearer ${apiToken}' -H 'content-type: application/json' -d '${JSON.stringify(body)}'`;
}

export function tryItCommands(apiUrl: string, apiToken: string): TryItCommand[] {
  return [
    { title: `A good deploy (branch ${GOOD_BRANCH}: tests, build, deploy, health, smoke all pass)`,
      command: curlPost(apiUrl, apiToken, '/deploys', { app: DEMO_APP, environment: DEMO_ENVIRONMENT, ref: GOOD_BRANCH }) },
    { title: `A bad deploy (branch ${BAD_BRANCH}: its home page answers 500, the smoke check fails, it rolls back by itself)`,
      command: curlPost(apiUrl, apiToken, '/deploys', { app: DEMO_APP, environment: DEMO_ENVIRONMENT, ref: BAD_BRANCH }) },
    { title: `A verified backup of the demo database (dump, restore into a scratch database, compare, store)`,
      command: curlPost(apiUrl, apiToken, '/backups', { database: DEMO_DATABASE }) },
  ];
}
