// The flightdeck command line, run as a real subprocess against the real Temporal server, a real
// worker and the Fly simulator: what a person at a terminal (or a script reading --json) sees.
import { fileURLToPath } from 'node:url';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../lib/messages.js';
import { deployQueueId } from '../../lib/operations.js';
import { pushPrebuiltImage } from '../deploy/support.js';
import { FLY_TOKEN, useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { useFlightdeckCli, type CliResult } from './runFlightdeck.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const cli = useFlightdeckCli(() => ({ apps: world.apps }));

/** Runs the command line while a worker serves its task queue. */
async function flightdeck(args: string[]): Promise<CliResult> {
  return kit.withWorker(world.activities(), (taskQueue) => cli.run(args, { taskQueue }));
}

// Deploys on a loaded 2-core machine, plus a tsx start per command: generous time, no fixed sleeps.
// Each test has its own app and task queue: they run side by side (maxConcurrency).
describe.concurrent('flightdeck command line', { timeout: 180_000 }, () => {
  it('deploys a healthy commit, printing each stage with its timing, and exits 0', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const result = await flightdeck(['deploy', app.name, 'staging', '--sha', sha, '--actor', 'dana']);

    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^deploy ${app.name}/staging: deploy/${app.name}/staging/${sha.slice(-40)}-\\w+$`));
    // Stages are seen by polling: a quick one may start and finish between two looks.
    expect(lines.filter((line) => /^… \w+ {2}started$/.test(line)).length).toBeGreaterThan(0);
    for (const stage of ['preflight', 'test', 'build', 'deploy', 'health', 'smoke']) {
      expect(lines.some((line) => new RegExp(`^✓ ${stage}  succeeded  \\d+(\\.\\d)? (ms|s)`).test(line))).toBe(true);
    }
    expect(lines).toContainEqual(expect.stringMatching(/^- approval {2}skipped/));
    expect(lines.at(-1)).toMatch(new RegExp(`^deploy ${app.name}/staging succeeded in \\d`));
    expect(await world.servedBody(app)).toContain('v2');
  });

  it('exits 1 and prints why when a deploy fails its smoke checks and is rolled back', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 500 } } } });
    const result = await flightdeck(['deploy', app.name, '--sha', sha]);

    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^✗ smoke {2}failed {2}\d/m);
    expect(result.stdout).toMatch(/^ {2}✗ home: GET \/: expected HTTP 200, got 500/m);
    expect(result.stdout).toMatch(/^✓ rollback {2}succeeded/m);
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^deploy ${app.name}/staging rolled-back in .*smoke checks failed: home \\(GET /: expected HTTP 200, got 500\\).*Rolled back to`));
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('prints one JSON object and nothing else with --json', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const result = await flightdeck(['deploy', app.name, 'staging', '--sha', sha, '--json']);

    expect(result.exitCode).toBe(0);
    const output = JSON.parse(result.stdout) as { workflowId: string; disposition: string; state: string; status: RunStatus };
    expect(output).toMatchObject({ disposition: 'started', state: 'succeeded' });
    expect(output.workflowId).toMatch(new RegExp(`^deploy/${app.name}/staging/`));
    expect(output.status).toMatchObject({ kind: 'deploy', app: app.name, environment: 'staging', trigger: { source: 'cli' } });
    expect(output.status.stages.find((stage) => stage.name === 'smoke')).toMatchObject({ state: 'succeeded', durationMs: expect.any(Number) });
  });

  it('refuses an unknown environment with exit code 2, lists the environments, and starts nothing', async () => {
    const app = await world.createApp();
    // An unreachable Temporal proves the command line was refused before it tried to connect.
    const result = await cli.run(['deploy', app.name, 'prod', '--sha', 'abc1234'], { temporalAddress: '127.0.0.1:1' });

    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`app "${app.name}" has no environment "prod"; it has: staging`);
    expect(result.stderr).toContain('usage: flightdeck deploy <app> [environment]');
    await expect(kit.client.workflow.getHandle(deployQueueId(app.name, 'prod')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('refuses malformed values and unknown options with exit code 2 and says what is expected', async () => {
    const app = await world.createApp();
    const badSha = await cli.run(['deploy', app.name, '--sha', 'not-a-sha'], { temporalAddress: '127.0.0.1:1' });
    expect(badSha.exitCode).toBe(2);
    expect(badSha.stderr).toContain('--sha "not-a-sha" is not valid: expected a hex commit sha of 7 to 64 characters');

    const unknownOption = await cli.run(['history', '--bogus'], { temporalAddress: '127.0.0.1:1' });
    expect(unknownOption.exitCode).toBe(2);
    expect(unknownOption.stderr).toContain('unknown option --bogus');

    const unknownState = await cli.run(['history', '--state', 'asleep'], { temporalAddress: '127.0.0.1:1' });
    expect(unknownState.exitCode).toBe(2);
    expect(unknownState.stderr).toContain('--state must be one of queued, running, waiting-for-approval');

    const unknownApp = await cli.run(['status', 'nope', '--json'], { temporalAddress: '127.0.0.1:1' });
    expect(unknownApp.exitCode).toBe(2);
    expect(JSON.parse(unknownApp.stdout)).toMatchObject({ error: 'usage', message: expect.stringContaining(`unknown app "nope"; configured apps: ${Object.keys(world.apps).join(', ')}`) });
  });

  it('lists finished runs in history with Flightdeck\'s verdict, the release ledger, and a run\'s stages in status', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { started, history, status, releases } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const started = await cli.run(['deploy', app.name, '--sha', sha, '--no-wait', '--json'], { taskQueue });
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      await kit.client.workflow.getHandle(workflowId).result();
      let history: CliResult;
      // Visibility is eventually consistent: the finished run shows up shortly after it closes.
      do history = await cli.run(['history', app.name, 'staging'], { taskQueue });
      while (!history.stdout.includes('verified  '));
      const releases = await cli.run(['releases', app.name, 'staging'], { taskQueue });
      return { started, history, status: await cli.run(['status', workflowId], { taskQueue }), releases };
    });
    expect(started.exitCode).toBe(0);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };

    expect(history.exitCode).toBe(0);
    const [header, ...rows] = history.stdout.trim().split('\n');
    expect(header).toMatch(/^STARTED\s+KIND\s+TARGET\s+STATUS\s+DURATION\s+RUN$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(new RegExp(`deploy\\s+${app.name}/staging\\s+verified\\s+\\d.*${workflowId.replace(/[/.]/g, '\\$&')}$`));
    expect(releases.exitCode).toBe(0);
    const [ledgerHeader, ...ledgerRows] = releases.stdout.trim().split('\n');
    expect(ledgerHeader).toMatch(/^STARTED\s+KIND\s+IMAGE\s+COMMIT\s+RELEASE\s+VERDICT\s+DETAIL$/);
    expect(ledgerRows[0]).toMatch(new RegExp(`deploy\\s+${app.name}:${sha.slice(0, 12)}-\\S+\\s+${sha.slice(0, 12)}\\s+v\\d+\\s+verified\\s+-$`));
    expect(ledgerRows[1]).toMatch(/adopted\s+.*verified-by-probe/);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`deploy ${app.name}/staging: ${workflowId}`);
    expect(status.stdout).toMatch(/state: succeeded/);
    expect(status.stdout).toMatch(/✓ smoke {2}succeeded/);
  });

  it('locks deploys: a deploy is refused with exit 1 and the lock\'s reason until unlocked', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { locked, refused, status, unlocked } = await kit.withWorker(world.activities(), async (taskQueue) => ({
      locked: await cli.run(['lock', app.name, 'staging', '--reason', 'release freeze', '--for', '2h', '--actor', 'erin'], { taskQueue }),
      refused: await cli.run(['deploy', app.name, '--sha', sha], { taskQueue }),
      status: await cli.run(['status', app.name, '--json'], { taskQueue }),
      unlocked: await cli.run(['unlock', app.name, 'staging', '--actor', 'erin'], { taskQueue }),
    }));

    expect(locked.exitCode).toBe(0);
    expect(locked.stdout).toMatch(new RegExp(`^locked deploys of ${app.name}/staging until \\d{4}-`));
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`Deploys of ${app.name} to staging are locked by erin`);
    expect(refused.stderr).toContain('release freeze');
    expect(JSON.parse(status.stdout)).toMatchObject({ environments: [{ app: app.name, environment: 'staging', lock: { owner: 'erin', reason: 'release freeze' } }] });
    expect(unlocked.exitCode).toBe(0);
    expect(unlocked.stdout).toContain(`unlocked deploys of ${app.name}/staging (locked by erin: release freeze)`);
    expect(await world.servedBody(app)).toContain('v1');
  });
});

// The injected fault answers every caller's deploy: alone, after the tests above.
describe('flightdeck command line, while Fly rate-limits deploys', { timeout: 180_000 }, () => {
  it('shows why each attempt of a rate-limited deploy failed and when it is retried, while following and in status, with the token flyctl printed redacted', async () => {
    const app = await world.createApp();
    const image = await pushPrebuiltImage(world, app, { version: 'v2' });
    // flyctl deploy answers 429 three times, printing the token as it goes: attempts 1-3 of the rollout
    // fail and each is retried after its backoff (2, 4 and 8 s); the fourth deploys.
    await world.sim.injectFault('deploy', { kind: 'rate-limited', times: 3, message: `429 Too Many Requests (token ${FLY_TOKEN})` });
    const { followed, looks } = await kit.withWorker(world.activities(), async (taskQueue) => {
      let followed: CliResult | undefined;
      const following = cli.run(['deploy', app.name, 'staging', '--image', image], { taskQueue }).then((result) => (followed = result));
      // Someone checking on the run meanwhile, until a look shows a retry or the run has ended.
      const looks: string[] = [];
      while (!followed && !looks.some((look) => look.includes('↻ deploy: attempt'))) looks.push((await cli.run(['status', app.name, 'staging'], { taskQueue })).stdout);
      return { followed: await following, looks };
    });

    expect(followed.exitCode).toBe(0);
    expect(followed.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^deploy ${app.name}/staging succeeded in \\d`));
    const failure = String.raw`deploy: attempt (\d) failed: flyctl deploy failed: 429 Too Many Requests \(token \[REDACTED\]\)`;
    const retryLines = followed.stdout.split('\n').filter((line) => line.startsWith('↻'));
    for (const line of retryLines) expect(line).toMatch(new RegExp(`^↻ ${failure}; (retrying in \\d+ s|retrying now) \\(attempt \\d of 4\\)$|^↻ ${failure}; attempt \\d of 4 running$`));
    // The longest backoff (8 s) is seen whatever the load; each state of a retry is printed once, not at every poll.
    expect(retryLines).toContainEqual(expect.stringMatching(/^↻ deploy: attempt 3 failed: .*; retrying in \d+ s \(attempt 4 of 4\)$/));
    expect(new Set(retryLines).size).toBe(retryLines.length);
    expect(looks.at(-1)).toMatch(new RegExp(`^ {4}↻ ${failure}; `, 'm'));
    expect([followed.stdout, followed.stderr, ...looks].join('\n')).not.toContain(FLY_TOKEN);
    expect(await world.servedBody(app)).toContain('v2');
  });
});
