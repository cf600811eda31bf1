// Code from the repository being deployed (its test command here) runs in the bubblewrap sandbox:
// it finds none of the secrets the worker or the API hold, cannot write outside its workspace, dies
// whole on cancel, and when no sandbox can be made it does not run at all unless the operator says so.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PermanentError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { cancelRun, requestDeploy } from '../../lib/operations.js';
import { UNSANDBOXED_NOTICE } from '../../lib/sandbox.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { processesWithMarker, sessionOf } from '../helpers/processes.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, isStageRunning, settle, waitForStatus, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/** What the worker and the API hold, in their real environments (and in this process's). */
const HELD_SECRETS = {
  FLY_API_TOKEN: 'fo1_worker_fly_token_9f8e7d6c5b4a',
  SLACK_BOT_TOKEN: 'xoxb-worker-slack-token-1a2b3c',
  SHOP_DATABASE_URL: 'postgres://shop:db-password-5e6f7a@db.internal/shop',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-key-8b9c0d1e2f',
  TEMPORAL_API_KEY: 'temporal-api-key-3a4b5c6d',
  FLIGHTDECK_API_TOKEN: 'fdk_api_token_7e8f9a0b',
  SLACK_SIGNING_SECRET: 'slack-signing-secret-1c2d3e',
  GITHUB_WEBHOOK_SECRET: 'github-webhook-secret-4f5a6b',
  CI_WEBHOOK_SECRET: 'ci-webhook-secret-7c8d9e',
};

const standIns: ChildProcess[] = [];
afterEach(() => {
  for (const child of standIns.splice(0)) child.kill('SIGKILL');
  for (const name of Object.keys(HELD_SECRETS)) delete process.env[name];
});

/** A long-running process holding the secrets in its environment, as the worker and the API do. */
function startSecretHolder(name: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', name], { env: { ...process.env, ...HELD_SECRETS }, stdio: 'ignore' });
  standIns.push(child);
  return child;
}

/** Reads everything it can and tries to write outside; leaves its findings in the workspace. */
const SNOOPING_TEST = `
const fs = require('fs');
const environs = [];
for (const entry of fs.readdirSync('/proc')) {
  if (!/^\\d+$/.test(entry)) continue;
  try { environs.push(fs.readFileSync('/proc/' + entry + '/environ', 'utf8')); } catch {}
}
const writes = {};
for (const target of JSON.parse(process.argv[2])) {
  try { fs.writeFileSync(target, 'escaped'); writes[target] = 'written'; } catch (err) { writes[target] = err.code; }
}
fs.writeFileSync('snoop-report.json', JSON.stringify({ env: process.env, environs, writes, pids: fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e)) }));
`;

describe('repository commands in the sandbox', () => {
  const outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-outside-'));
  afterAll(() => fs.rmSync(outsideDir, { recursive: true, force: true }));

  it('a test command finds no secret of the worker or the API and cannot write outside its workspace', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' }, testScript: SNOOPING_TEST });
    Object.assign(process.env, HELD_SECRETS);
    const holders = [startSecretHolder('worker-stand-in'), startSecretHolder('api-stand-in')];
    // The secrets really are readable in /proc from outside the sandbox.
    await waitUntil('the stand-ins to start', () => holders.every((h) => fs.readFileSync(`/proc/${h.pid}/environ`, 'utf8').includes(HELD_SECRETS.FLY_API_TOKEN)));
    const activities = world.activities();
    const env = new MockActivityEnvironment();
    const checkout = await env.run<Parameters<typeof activities.checkoutCommit>, { workspace: string }, typeof activities.checkoutCommit>(activities.checkoutCommit, { repository: app.repo.dir, sha, runKey: `snoop-${randomUUID()}` });
    const outsideTargets = [
      path.join(outsideDir, 'escape'), path.join(app.repo.dir, 'escape'), path.join(path.dirname(checkout.workspace), 'escape'),
      path.join(os.homedir(), `escape-${randomUUID()}`), path.join(process.cwd(), `escape-${randomUUID()}`), '/etc/flightdeck-escape',
    ];

    await env.run(activities.runWorkspaceCommand, {
      workspace: checkout.workspace, command: ['node', 'test.js', JSON.stringify(outsideTargets)], timeoutMs: 30_000,
      failureType: PermanentError.TestsFailed, label: 'tests', app: app.name, kind: 'test' as const,
    });

    const report = JSON.parse(fs.readFileSync(path.join(checkout.workspace, 'snoop-report.json'), 'utf8')) as { env: Record<string, string>; environs: string[]; writes: Record<string, string>; pids: string[] };
    const everythingSeen = JSON.stringify([report.env, report.environs]);
    expect(Object.values(HELD_SECRETS).filter((secret) => everythingSeen.includes(secret))).toEqual([]);
    expect(report.env.CI).toBe('true');
    expect(report.pids.length).toBeLessThan(5);
    expect(outsideTargets.filter((target) => fs.existsSync(target))).toEqual([]);
    expect(Object.values(report.writes)).not.toContain('written');
  });

  it('a child that left the session with setsid is gone after the deploy is cancelled', async () => {
    const app = await world.createApp();
    const marker = `flightdeck-setsid-${randomUUID()}`;
    const sha = app.repo.commit({
      behaviour: { version: 'v2' },
      testScript: `require('child_process').spawn('setsid', [process.execPath, '-e', 'setInterval(() => {}, 1000)', '${marker}'], { stdio: 'ignore' }).unref();\nsetInterval(() => {}, 1000);\n`,
    });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the test stage running', (s) => isStageRunning(s, 'test'));
      const [escapee] = await waitUntil('the setsid child to start', () => processesWithMarker(marker).length > 0 && processesWithMarker(marker));
      expect(sessionOf(escapee!)).toBe(escapee);

      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'suspicious branch' });
      const settled = await settle(kit.client, workflowId);
      await waitUntil('the setsid child to be killed', () => processesWithMarker(marker).length === 0, 15_000);
      return settled;
    });
    expect(status.state).toBe('cancelled');
  });

  it('without bubblewrap, a deploy fails at the test stage and says how to fix it', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await kit.withWorker(world.activities({}, { FLIGHTDECK_BWRAP_PATH: '/nonexistent/bwrap' }), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });
    expect(status.state).toBe('failed');
    expect(status.stages.find((s) => s.name === 'test')?.state).toBe('failed');
    expect(status.outcome).toContain('/nonexistent/bwrap was not found');
    expect(status.outcome).toContain('apt-get install bubblewrap');
    expect(status.outcome).toContain('FLIGHTDECK_UNSANDBOXED_COMMANDS=allow');
  });

  it('without bubblewrap but with the escape hatch, the tests run unsandboxed and the worker log says so', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const logLines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } }) });
    const environment = { FLIGHTDECK_BWRAP_PATH: '/nonexistent/bwrap', FLIGHTDECK_UNSANDBOXED_COMMANDS: 'allow' };
    const { status } = await kit.withWorker(world.activities({ logger }, environment), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });
    expect(status.state).toBe('succeeded');
    expect(logLines.join('')).toContain(UNSANDBOXED_NOTICE);
  });
});
