// POST /slack/commands and POST /slack/interactions. Both verify Slack's signature on the raw body
// before reading it, answer within Slack's 3 seconds, and do the work afterwards, posting the result
// to the request's response_url.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { auditLog } from '../../lib/audit.js';
import { authorizeChannel } from '../../lib/authorization.js';
import type { ApiDeps } from '../deps.js';
import { badRequest, forbidden } from '../httpErrors.js';
import { registerRawBodyParsers } from '../rawBody.js';
import { parseRequest } from '../validation.js';
import { HELP_TEXT, parseSlackCommand } from './commandParser.js';
import { runSlackCommand, slackCatalog } from './commands.js';
import { blockActionsPayload, handleBlockAction } from './interactions.js';
import { slack } from '../../lib/slackText.js';
import { ephemeral, refusal } from './replies.js';
import { isAllowedResponseUrl, postSlackResponse, type SlackResponse } from './responseUrl.js';
import { createSlackVerifier } from './verify.js';

const commandForm = z.object({
  command: z.string().min(1),
  text: z.string().max(2000).default(''),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  response_url: z.string().min(1),
  team_id: z.string().optional(),
  api_app_id: z.string().optional(),
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

  /** A signing secret may be shared by several apps or workspaces: only the configured ones may command. */
  function checkOrigin(origin: { teamId?: string; appId?: string; userId: string; action: string }): void {
    const problems = [
      deps.env.SLACK_TEAM_ID && origin.teamId !== deps.env.SLACK_TEAM_ID ? `workspace ${origin.teamId ?? '(none)'} is not ${deps.env.SLACK_TEAM_ID}` : '',
      deps.env.SLACK_APP_ID && origin.appId !== deps.env.SLACK_APP_ID ? `app ${origin.appId ?? '(none)'} is not ${deps.env.SLACK_APP_ID}` : '',
    ].filter(Boolean);
    if (problems.length === 0) return;
    const reason = `Slack request refused: ${problems.join('; ')}`;
    auditLog(deps.logger, { actor: origin.userId, action: origin.action, target: 'slack', outcome: 'refused', source: 'slack', detail: reason });
    throw forbidden(reason);
  }

  function checkResponseUrl(url: string): void {
    if (!isAllowedResponseUrl(url, deps.env.SLACK_API_URL)) throw badRequest('response_url must be a https://hooks.slack.com/ URL');
  }

  app.post('/slack/commands', async (request) => {
    const { rawBody, requestKey } = verifier.verify(request);
    const form = parseRequest(commandForm, formFields(rawBody), 'slash command');
    checkOrigin({ teamId: form.team_id, appId: form.api_app_id, userId: form.user_id, action: 'command' });
    checkResponseUrl(form.response_url);
    const config = deps.loadApps();
    const command = parseSlackCommand(form.text, slackCatalog(config));
    if (command.name === 'help') return ephemeral(command.problem ? slack`${command.problem}\n\n${HELP_TEXT}` : slack`${HELP_TEXT}`);
    const channel = authorizeChannel(config, form.channel_id);
    if (!channel.isAllowed) {
      auditLog(deps.logger, { actor: form.user_id, action: command.name, target: form.text.trim(), outcome: 'refused', source: 'slack', detail: channel.reason });
      return refusal(channel.reason);
    }
    const caller = { userId: form.user_id, channelId: form.channel_id, requestKey };
    answerLater(form.response_url, () => runSlackCommand(deps, caller, command));
    return ephemeral(slack`:hourglass_flowing_sand: Working on \`${form.command} ${form.text.trim()}\`…`);
  });

  app.post('/slack/interactions', async (request, reply) => {
    const { rawBody } = verifier.verify(request);
    const { payload } = parseRequest(interactionForm, formFields(rawBody), 'interaction');
    const parsed = blockActionsPayload.safeParse(parseJson(payload));
    // Other interaction types (shortcuts, modals) are acknowledged and ignored.
    if (!parsed.success) return reply.code(200).send();
    checkOrigin({ teamId: parsed.data.team?.id, appId: parsed.data.api_app_id, userId: parsed.data.user.id, action: 'button' });
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
