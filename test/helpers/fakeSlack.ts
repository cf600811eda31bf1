// Tests point @slack/web-api at the sandbox's Slack stand-in (one implementation for both): a local
// HTTP server speaking the Web API that keeps every message and can fail on demand.
import { startSlackStandIn, type SlackStandIn, type SlackStandInFault, type SlackStandInMessage } from '../../scripts/sandbox/slackStandIn.js';

export type FakeSlackMessage = SlackStandInMessage;
export type FakeSlackFault = SlackStandInFault;
export type FakeSlack = SlackStandIn;

export async function startFakeSlack(): Promise<FakeSlack> {
  return startSlackStandIn();
}
