// Types a Slack slash command into the running sandbox: `/flightdeck <text>`, signed with the sandbox's
// signing secret and sent to the API as Slack would, with a response_url on the Slack stand-in (the
// answer appears in the `npm start` terminal).
//   node --import tsx scripts/sandbox/slashCommand.ts deploy demo staging main
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hmacSha256Hex } from '../../api/signatures.js';
import { isEntryPoint } from './entryPoint.js';
import { DEFAULT_SANDBOX_PORTS } from './ports.js';
import { REPO_ROOT, sandboxPaths, type SandboxSecrets } from './sandbox.js';

export const SANDBOX_SLACK_USER = 'USANDBOX';
export const SANDBOX_SLACK_CHANNEL = 'CSANDBOX';

/** The form body and headers Slack sends for `/flightdeck <text>`. */
export function signedSlashCommand(text: string, signingSecret: string, responseUrl: string, nowSeconds: number): { body: string; headers: Record<string, string> } {
  const body = new URLSearchParams({
    command: '/flightdeck', text, user_id: SANDBOX_SLACK_USER, user_name: 'sandbox', channel_id: SANDBOX_SLACK_CHANNEL, team_id: 'T0001', response_url: responseUrl,
  }).toString();
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(nowSeconds),
      'x-slack-signature': `v0=${hmacSha256Hex(signingSecret, `v0:${nowSeconds}:${body}`)}`,
    },
  };
}

async function main(): Promise<void> {
  const text = process.argv.slice(2).join(' ').trim();
  if (!text) throw new Error('usage: node --import tsx scripts/sandbox/slashCommand.ts <what you would type after /flightdeck>, e.g. status demo staging');
  const secretsFile = sandboxPaths(path.join(REPO_ROOT, 'data')).secrets;
  if (!fs.existsSync(secretsFile)) throw new Error(`no sandbox here (${secretsFile} is missing): run npm start first`);
  const secrets = JSON.parse(fs.readFileSync(secretsFile, 'utf8')) as SandboxSecrets;
  const responseUrl = `http://127.0.0.1:${DEFAULT_SANDBOX_PORTS.slack}/respond/${randomUUID()}`;
  const { body, headers } = signedSlashCommand(text, secrets.slackSigningSecret, responseUrl, Math.floor(Date.now() / 1000));
  const answer = await fetch(`http://127.0.0.1:${DEFAULT_SANDBOX_PORTS.api}/slack/commands`, { method: 'POST', headers, body });
  const reply = await answer.text();
  process.stdout.write(`${answer.status} ${reply}\n(the full answer appears in the npm start terminal)\n`);
  if (!answer.ok) process.exit(1);
}

if (isEntryPoint(import.meta.url)) {
  main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
