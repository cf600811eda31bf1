// POST /slack/commands and POST /slack/interactions. Both verify Slack's signature on the raw body
// before reading it, answer within Slack's 3 seconds, and do the work afterwards, posting the result
// to the request's response_url.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { auditLog } from '../../lib/audit.js';
import { authorizeChannel } from '../../lib/authorization.js';
import type { ApiDeps } from '../deps.js';
import { badRequest } from '../httpErrors.js';
import { registerRawBodyParsers } from '../rawBody.js';
import { parseRequest } from '../validation.js';
import { HELP_TEXT, parseSlackCommand } from './commandParser.js';
import { runSlackCommand, slackCatalog } from './commands.js';
import { blockActionsPayload, handleBlockAction } from './interactions.js';
import { ephemeral, refusal } from './replies.js';
import { isAllowedResponseUrl, postSlackResponse, type SlackResponse } from './responseUrl.js';
import { createSlackVerifier } from './verify.js';

const commandForm = z.object({
  command: z.string().min(1),
  text: z.string().max(2000).default(''),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  response_url: z.string().min(1),
});

const interactionForm = z.object({ payload: z.string().min(2) });

export async function slackRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  registerRawBodyParsers(app);
  const verifier = createSlackVerifier(deps);
  const inFlight = new Set<Promise<void>>();
  // Work accepted before shutdown still gets its answer posted.
  app.addHook('onClose', async () => { await Promise.allSettled([...inFlight]); });

  /** Runs after the ack; its answer goes to response_url. */
  function answerLater(responseUrl: string, work: () => Promise<SlackResponse | undefined>): void {
    const done = work()
      .then(async (response) => { if (response) await postSlackResponse(responseUrl, response, deps.logger); })
      .catch((err: unknown) => deps.logger.error({ err }, 'Slack request failed after the ack'))
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  }

  function checkResponseUrl(url: string): void {
    if (!isAllowedResponseUrl(url, deps.env.SLACK_API_URL)) throw badRequest('response_url must be a https://hooks.slack.com/ URL');
  }

  app.post('/slack/commands', async (request) => {
    const { rawBody, requestKey } = verifier.verify(request);
    const form = parseRequest(commandForm, formFields(rawBody), 'slash command');
    checkResponseUrl(form.response_url);
    const config = deps.loadApps();
    const command = parseSlackCommand(form.text, slackCatalog(config));
    if (command.name === 'help') return ephemeral(command.problem ? `${command.problem}\n\n${HELP_TEXT}` : HELP_TEXT);
    const channel = authorizeChannel(config, form.channel_id);
    if (!channel.isAllowed) {
      auditLog(deps.logger, { actor: form.user_id, action: command.name, target: form.text.trim(), outcome: 'refused', source: 'slack', detail: channel.reason });
      return refusal(channel.reason);
    }
    const caller = { userId: form.user_id, channelId: form.channel_id, requestKey };
    answerLater(form.response_url, () => runSlackCommand(deps, caller, command));
    return ephemeral(`:hourglass_flowing_sand: Working on \`${form.command} ${form.text.trim()}\`…`);
  });

  app.post('/slack/interactions', async (request, reply) => {
    const { rawBody } = verifier.verify(request);
    const { payload } = parseRequest(interactionForm, formFields(rawBody), 'interaction');
    const parsed = blockActionsPayload.safeParse(parseJson(payload));
    // Other interaction types (shortcuts, modals) are acknowledged and ignored.
    if (!parsed.success) return reply.code(200).send();
    checkResponseUrl(parsed.data.response_url);
    answerLater(parsed.data.response_url, () => handleBlockAction(deps, parsed.data));
    return reply.code(200).send();
  });
}

function formFields(rawBody: Buffer): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(rawBody.toString('utf8')));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('payload is not valid JSON');
  }
}
