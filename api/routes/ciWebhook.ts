// POST /webhooks/ci: a generic deploy trigger for any CI. Authenticated (HMAC or OIDC) before the
// body is parsed; the same signed body (replayed, re-signed, whatever its unsigned headers) finds the run it started.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requestFields, resolveTarget } from '../../lib/config.js';
import { imageRef } from '../../lib/validate.js';
import { auditLog } from '../../lib/audit.js';
import { authorizeOidcCaller, CiAuthenticationError, createCiAuthenticator, type CiCaller } from '../ciAuth.js';
import type { ApiDeps } from '../deps.js';
import { startDeploy } from '../deployStarter.js';
import { HttpError, unauthorized } from '../httpErrors.js';
import { clientAddress, lookUp, parseJsonBody, parseRequest } from '../validation.js';

const ciDeployBody = z.object({
  app: requestFields.resourceName,
  environment: requestFields.resourceName,
  sha: requestFields.commitSha,
  ref: requestFields.gitRef.optional(),
  image: imageRef.optional(),
}).strict();

export async function ciWebhookRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const authenticator = createCiAuthenticator(deps.env, deps.now);

  app.post('/webhooks/ci', async (request, reply) => {
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let caller: CiCaller;
    try {
      caller = await authenticator.authenticate(request, rawBody);
    } catch (err) {
      if (!(err instanceof CiAuthenticationError)) throw err;
      deps.metrics.signatureFailures.inc({ source: 'ci' });
      request.log.warn({ ip: clientAddress(request, deps.env), reason: err.message }, 'CI webhook refused');
      throw unauthorized(err.message);
    }

    const body = parseRequest(ciDeployBody, parseJsonBody(rawBody), 'CI deploy request');
    // The signed body decides what is a duplicate; the unsigned Idempotency-Key header does not.
    const deliveryId = caller.replayKey;
    const target = lookUp(() => resolveTarget(deps.loadApps(), body.app, body.environment));
    try {
      authorizeOidcCaller(caller, body.app, target.app, body.environment, target.env, body);
    } catch (err) {
      if (err instanceof HttpError) auditLog(deps.logger, { actor: caller.actor, action: 'deploy', target: `${body.app}/${body.environment}`, outcome: 'refused', source: 'ci', detail: err.message });
      throw err;
    }
    // A GitHub Actions job (OIDC) deploys a commit of a GitHub repository: GitHub shows the deployment.
    const run = await startDeploy(deps, body, { source: 'ci', actor: caller.actor, deliveryId }, 'accept', caller.method === 'oidc' ? {} : undefined);
    return reply.code(202).send({ workflowId: run.workflowId, disposition: run.disposition });
  });
}
