// The write API (bearer token): start a deploy, a rollback, the incident runbook, a stop/start/scale or a backup, as the CLI and Slack do.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestFields, resolveTarget } from '../../lib/config.js';
import { requestBackup, resolveDatabase } from '../../lib/databaseOperations.js';
import type { Trigger } from '../../lib/messages.js';
import { requestRollback } from '../../lib/operations.js';
import { flyRegion, machineCount, requestIncidentRunbook, requestScale } from '../../lib/appOperations.js';
import { imageRef } from '../../lib/validate.js';
import { apiActor, apiIdentity, requireApiToken, requireScope } from '../apiToken.js';
import { auditLog } from '../../lib/audit.js';
import type { ApiDeps } from '../deps.js';
import { deployTargetSchema, startDeploy } from '../deployStarter.js';
import { promotionSchema, startPromotion } from '../promotionStarter.js';
import { idempotencyDeliveryId, lookUp, parseRequest } from '../validation.js';

const rollbackBody = z.object({
  app: requestFields.resourceName,
  environment: requestFields.resourceName,
  image: imageRef.optional(),
  releaseVersion: z.number().int().min(1).optional(),
  reason: z.string().min(1).max(500).optional(),
  force: z.boolean().optional(),
}).strict()
  .refine((body) => !(body.image && body.releaseVersion), 'give image or releaseVersion, not both')
  .refine((body) => !body.force || ((body.image || body.releaseVersion) && body.reason), 'force needs image or releaseVersion and a reason (it is audit-logged)');

const backupBody = z.object({ database: requestFields.resourceName }).strict();

const restartBody = z.object({
  app: requestFields.resourceName,
  environment: requestFields.resourceName,
  reason: z.string().min(1).max(500).optional(),
}).strict();

const scaleBody = z.object({
  app: requestFields.resourceName,
  environment: requestFields.resourceName,
  action: z.enum(['stop', 'start', 'scale']),
  count: machineCount.optional(),
  region: flyRegion.optional(),
  reason: z.string().min(1).max(500).optional(),
}).strict()
  .refine((body) => body.action !== 'scale' || body.count !== undefined, 'scale needs a count')
  .refine((body) => body.action === 'scale' || (body.count === undefined && body.region === undefined), 'stop and start take no count or region');

export async function writeApiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.addHook('onRequest', async (request) => { requireApiToken(deps, request); });

  app.post('/deploys', async (request, reply) => {
    const trigger = apiTrigger(request);
    const body = parseRequest(deployTargetSchema, request.body, 'deploy request');
    requireScope(deps, request, 'deploy', `${body.app}/${body.environment}`);
    const run = await startDeploy(deps, body, trigger);
    return reply.code(202).send({ workflowId: run.workflowId, disposition: run.disposition });
  });

  app.post('/rollbacks', async (request, reply) => {
    const trigger = apiTrigger(request);
    const body = parseRequest(rollbackBody, request.body, 'rollback request');
    requireScope(deps, request, 'rollback', `${body.app}/${body.environment}`);
    lookUp(() => resolveTarget(deps.loadApps(), body.app, body.environment));
    const target = body.image ? { image: body.image } : body.releaseVersion ? { releaseVersion: body.releaseVersion } : undefined;
    const workflowId = await requestRollback(deps.client, deps.taskQueue, {
      app: body.app, environment: body.environment, reason: body.reason ?? `requested by ${trigger.actor}`, trigger, ...(target ? { target } : {}),
      ...(body.force ? { force: { reason: body.reason! } } : {}),
    });
    deps.metrics.runsStarted.inc({ kind: 'rollback' });
    auditLog(deps.logger, { actor: trigger.actor, action: 'rollback', target: `${body.app}/${body.environment}`, outcome: 'allowed', source: 'api', detail: workflowId });
    return reply.code(202).send({ workflowId });
  });

  app.post('/promotions', async (request, reply) => {
    const trigger = apiTrigger(request);
    const body = parseRequest(promotionSchema, request.body, 'promotion request');
    requireScope(deps, request, 'deploy', `${body.app}/${body.to}`);
    const run = await startPromotion(deps, body, trigger);
    return reply.code(202).send(run);
  });

  // The incident runbook: queued in the environment's deploy queue, one per environment at a time.
  app.post('/restarts', async (request, reply) => {
    const trigger = apiTrigger(request);
    const body = parseRequest(restartBody, request.body, 'restart request');
    requireScope(deps, request, 'rollback', `${body.app}/${body.environment}`);
    lookUp(() => resolveTarget(deps.loadApps(), body.app, body.environment));
    const run = await requestIncidentRunbook(deps.client, deps.taskQueue, {
      app: body.app, environment: body.environment, reason: body.reason ?? `requested by ${trigger.actor}`, trigger,
    });
    deps.metrics.runsStarted.inc({ kind: 'incident' });
    auditLog(deps.logger, { actor: trigger.actor, action: 'restart', target: `${body.app}/${body.environment}`, outcome: 'allowed', source: 'api', detail: run.workflowId });
    return reply.code(202).send({ workflowId: run.workflowId, disposition: run.disposition });
  });

  // stop / start / scale: changes what runs, like a deploy (deploy scope).
  app.post('/scales', async (request, reply) => {
    const trigger = apiTrigger(request);
    const body = parseRequest(scaleBody, request.body, 'scale request');
    requireScope(deps, request, 'deploy', `${body.app}/${body.environment}`);
    lookUp(() => resolveTarget(deps.loadApps(), body.app, body.environment));
    const run = await requestScale(deps.client, deps.taskQueue, { ...body, reason: body.reason ?? `requested by ${trigger.actor}`, trigger });
    deps.metrics.runsStarted.inc({ kind: 'scale' });
    auditLog(deps.logger, { actor: trigger.actor, action: body.action, target: `${body.app}/${body.environment}`, outcome: 'allowed', source: 'api', detail: run.workflowId });
    return reply.code(202).send({ workflowId: run.workflowId, disposition: run.disposition });
  });

  app.post('/backups', async (request, reply) => {
    const trigger = apiTrigger(request);
    const body = parseRequest(backupBody, request.body, 'backup request');
    requireScope(deps, request, 'backup', body.database);
    lookUp(() => resolveDatabase(deps.loadApps(), body.database));
    const workflowId = await requestBackup(deps.client, deps.taskQueue, { database: body.database, trigger });
    deps.metrics.runsStarted.inc({ kind: 'backup' });
    auditLog(deps.logger, { actor: trigger.actor, action: 'backup', target: body.database, outcome: 'allowed', source: 'api', detail: workflowId });
    return reply.code(202).send({ workflowId });
  });
}

function apiTrigger(request: FastifyRequest): Trigger {
  const deliveryId = idempotencyDeliveryId(request);
  return { source: 'api', actor: apiActor(request), identity: apiIdentity(request), ...(deliveryId === undefined ? {} : { deliveryId }) };
}
