// POST /webhooks/github: the signature is checked on the raw bytes before anything is parsed; a
// re-delivery, or the same signed body under a new X-GitHub-Delivery, finds the run the first one started.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { startDeploy } from '../deployStarter.js';
import { decideGitHubEvent } from '../githubEvents.js';
import { badRequest, serviceUnavailable, unauthorized } from '../httpErrors.js';
import { isValidGitHubSignature } from '../signatures.js';
import { clientAddress, header, parseJsonBody } from '../validation.js';

export async function githubWebhookRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.post('/webhooks/github', async (request, reply) => {
    const secrets = [deps.env.GITHUB_WEBHOOK_SECRET, deps.env.GITHUB_WEBHOOK_SECRET_PREVIOUS].filter((s): s is string => Boolean(s));
    if (secrets.length === 0) throw serviceUnavailable('GitHub webhooks are not configured: set GITHUB_WEBHOOK_SECRET');
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (!isValidGitHubSignature(rawBody, header(request, 'x-hub-signature-256'), secrets)) {
      deps.metrics.signatureFailures.inc({ source: 'github' });
      request.log.warn({ ip: clientAddress(request, deps.env), delivery: header(request, 'x-github-delivery') }, 'GitHub webhook refused: bad signature');
      throw unauthorized('X-Hub-Signature-256 is missing or does not match the body (HMAC-SHA256 with the webhook secret)');
    }

    const event = header(request, 'x-github-event');
    const delivery = header(request, 'x-github-delivery');
    if (!event || !delivery) throw badRequest('X-GitHub-Event and X-GitHub-Delivery headers are required');
    const decision = decideGitHubEvent(event, gitHubPayload(request, rawBody), deps.loadApps());
    if (decision.kind === 'pong') return { disposition: 'pong', zen: decision.zen };
    if (decision.kind === 'ignored') return { disposition: 'ignored', reason: decision.reason };

    // From the signed body, not X-GitHub-Delivery (unsigned): a re-delivery, or a captured webhook
    // re-sent with a new delivery id, finds the run the first one started.
    const deliveryId = decision.signedKey;
    const runs = [];
    for (const target of decision.targets) {
      // A deployment event's statuses go to the deployment GitHub made; pushes and workflow runs get one of their own.
      runs.push(await startDeploy(deps, target, { source: 'github', actor: decision.actor, deliveryId }, 'accept', { ...(decision.deploymentId !== undefined ? { deploymentId: decision.deploymentId } : {}) }));
    }
    return reply.code(202).send({ workflowId: runs[0]!.workflowId, disposition: runs[0]!.disposition, runs });
  });
}

/** GitHub sends JSON, or `payload=<json>` when the hook's content type is form-encoded. */
function gitHubPayload(request: FastifyRequest, rawBody: Buffer): unknown {
  if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) return parseJsonBody(rawBody);
  const payload = new URLSearchParams(rawBody.toString('utf8')).get('payload');
  if (payload === null) throw badRequest('a form-encoded GitHub webhook must carry a "payload" field');
  return parseJsonBody(Buffer.from(payload));
}
