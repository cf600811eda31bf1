// The health watch of one app and environment (opt-in: environments.<env>.watch): probe the health
// URL every interval; after N consecutive failures outside a deploy, page Slack and, per the action,
// run the incident runbook (restart, and roll back if that does not heal). One probe that fails (a
// blip) never acts: failures must follow one another, and a deploy or operation in progress resets
// the count. The runbook has one workflow id per environment and runs in the environment's queue,
// so a watch and a person asking at once never run two. Long-running: continues as new; ends when
// the environment no longer has a watch (the worker starts it again when one is configured).
import { continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { rootMessage } from '../lib/errors.js';
import { healthWatchQuery, type HealthWatchStatus, type IncidentRequest } from '../lib/messages.js';
import { flyReadOptions, localOptions } from './activityOptions.js';
import { healthUrl } from './health.js';

const local = proxyActivities<Activities>(localOptions);
const fly = proxyActivities<Activities>(flyReadOptions);
/** Paging must not wait on Slack for long; a missed page is logged by the activity. */
const slack = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: { maximumAttempts: 3 } });
/** Waiting for the incident runbook it started: as long as a runbook can take (a decision included). */
const runWatch = proxyActivities<Activities>({ startToCloseTimeout: '3h', heartbeatTimeout: '1m', retry: { maximumAttempts: 10 } });

const PROBES_PER_RUN = 500;

export async function healthWatch(state: HealthWatchStatus): Promise<void> {
  const status: HealthWatchStatus = { ...state };
  setHandler(healthWatchQuery, () => status);
  for (let probes = 0; probes < PROBES_PER_RUN && !workflowInfo().continueAsNewSuggested; probes += 1) {
    const target = await local.resolveDeployTarget({ app: status.app, environment: status.environment });
    if (!target.watch) return;
    await sleep(target.watch.everyMs);
    const busyWith = await local.appBusyWith({ app: status.app, environment: status.environment });
    if (busyWith) {
      status.consecutiveFailures = 0;
      status.lastProbe = { at: new Date().toISOString(), isOk: true, detail: `not probed: ${busyWith} runs` };
      continue;
    }
    const probe = await probeHealth(target);
    status.lastProbe = { at: new Date().toISOString(), ...probe };
    status.consecutiveFailures = probe.isOk ? 0 : status.consecutiveFailures + 1;
    if (status.consecutiveFailures >= target.watch.failures) {
      await act(target, status);
      status.consecutiveFailures = 0;
    }
  }
  await continueAsNew<typeof healthWatch>(status);
}

async function probeHealth(target: DeployTarget): Promise<{ isOk: boolean; detail: string }> {
  try {
    const appUrl = target.health.url ? undefined : (await fly.flyAppStatus(target.flyApp)).appUrl;
    return await local.probeHealthOnce({ url: healthUrl(target, appUrl ?? ''), requestTimeoutMs: target.health.requestTimeoutMs });
  } catch (err) {
    // flyctl not answering is not the app failing: no count either way.
    return { isOk: true, detail: `not probed: ${rootMessage(err)}` };
  }
}

/** Pages Slack; then, unless only alerting, runs the incident runbook and waits for it to end. */
async function act(target: DeployTarget, status: HealthWatchStatus): Promise<void> {
  const action = target.watch!.action;
  const failed = `${target.app} ${target.environment}: health failed ${status.consecutiveFailures} times in a row `
    + `(every ${Math.round(target.watch!.everyMs / 1000)}s; last: ${status.lastProbe?.detail ?? 'unknown'})`;
  const at = new Date().toISOString();
  if (action === 'alert') {
    await page(target, `${failed}. Watch action: alert, nothing was done. To restart: flightdeck restart ${target.app} ${target.environment}`);
    status.lastAction = { at, action, detail: 'paged' };
    return;
  }
  const request: IncidentRequest = {
    app: target.app, environment: target.environment, reason: failed,
    ifStillFailing: action === 'restart' ? 'report' : 'rollback',
    trigger: { source: 'schedule', actor: 'health watch' },
  };
  const { workflowId } = await local.startIncidentRunbook(request);
  await page(target, `${failed}. Running the incident runbook (${action}): ${workflowId}`);
  status.lastAction = { at, action, detail: 'incident runbook started', workflowId };
  const closedAs = await runWatch.awaitRunClosed({ workflowId });
  status.lastAction = { ...status.lastAction, detail: `incident runbook ${closedAs.toLowerCase()}` };
}

async function page(target: DeployTarget, text: string): Promise<void> {
  await slack.postThreadReply({ channel: target.slackChannel, text, isAlert: true }).catch(() => undefined);
}
