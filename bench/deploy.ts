// Deploy pipeline benchmark: `npx tsx bench/deploy.ts` (a few minutes on 2 cores).
// A real Temporal dev server, the Fly simulator and one production worker (worker/main.ts, built from
// the sources and started as its own process, bench/workerProcess.ts); apps with no-op stage commands
// (`true` as the test command, one machine, one probe). It reports:
//   1. per-stage orchestration overhead: each stage's time in the pipeline minus the time the same
//      activities take when called directly, in the same order, with no Temporal in between. The direct
//      runs deploy a twin app (same settings), so each pipeline finds its own previous release serving,
//      as in production, instead of an image deployed behind its back (which preflight would adopt:
//      a probe, the smoke checks and a ledger write more). BENCH_TIMELINE=1 prints the last pipeline's
//      history (ms since its start) to show where a stage's time goes;
//   2. the time from the first failed health probe to the rollback starting;
//   3. N pipelines at once for different apps: runs per minute and the worker process's peak RSS (its
//      command launcher, the simulator and this harness apart).
// BENCH_RUNS (default 15), BENCH_ROLLBACKS (5) and BENCH_CONCURRENCY (100) change the counts. The worker uses the
// production settings (worker/tuning.ts, FLIGHTDECK_WORKER_* variables).
// Prints figures; it passes or fails nothing.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities/index.js';
import { loadEnvConfig, parseAppsConfig } from '../lib/config.js';
import { startCommandLauncher } from '../lib/launcher/client.js';
import { createLogger } from '../lib/log.js';
import { statusQuery, type RunStatus } from '../lib/messages.js';
import { requestDeploy } from '../lib/operations.js';
import { startTemporalDevServer } from '../scripts/localTemporal.js';
import { createSim } from '../sim/testing.js';
import { createGitRepo, type GitRepo } from '../test/helpers/gitRepo.js';
import { workerTuning } from '../worker/tuning.js';
import { buildWorker, imageProcessEnv, residentBytes, startWorkerProcess } from './workerProcess.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const ROLLBACKS = Number(process.env.BENCH_ROLLBACKS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const STAGES = ['preflight', 'test', 'build', 'deploy', 'health', 'smoke'] as const;
type Stage = (typeof STAGES)[number];
const HEALTH = { consecutiveSuccesses: 1, interval: '100ms', deadline: '1s', requestTimeout: '1s' };
const HEALTH_DEADLINE_MS = 1000;
// The throughput run measures how many pipelines one worker carries, not how fast a rollback starts: with
// 100 apps on 2 cores a probe that takes over a second is load, not a broken release.
const CONCURRENT_HEALTH = { deadline: '60s', requestTimeout: '5s', interval: '500ms' };
const TASK_QUEUE = 'bench-deploy';

type Activities = ReturnType<typeof createActivities>;

interface BenchApp { name: string; repo: GitRepo; initialImage: string; appUrl: string }

async function main(): Promise<void> {
  // The direct runs' commands start from a small process, as the worker's do (worker/main.ts).
  startCommandLauncher();
  log('building the worker (tsc and the workflow bundle) …');
  const built = buildWorker();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-bench-deploy-'));
  const server = await startTemporalDevServer();
  const sim = await createSim();
  const apps: Record<string, unknown> = {};
  const repos: GitRepo[] = [];
  const brokenHealth = await startBrokenHealthProxies();
  process.env.FLY_SIM_DIR = sim.dir;
  // The worker reads its apps from this file again when it changes, as it does in production.
  const configFile = path.join(workDir, 'flightdeck.yaml');
  const writeConfig = () => {
    fs.writeFileSync(`${configFile}.new`, JSON.stringify({ apps }));
    fs.renameSync(`${configFile}.new`, configFile);
  };
  writeConfig();
  const workerEnv = {
    TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace, TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    FLIGHTDECK_CONFIG: configFile, FLYCTL_PATH: sim.flyctlPath, FLY_API_TOKEN: 'fo1_bench_token', FLY_SIM_DIR: sim.dir,
    FLIGHTDECK_WORK_DIR: path.join(workDir, 'worker'), LOG_LEVEL: 'info',
    // Node options for the worker alone (heap or GC flags to try), not the harness or the simulator.
    ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}),
  };
  const env = loadEnvConfig({ ...process.env, ...workerEnv, FLIGHTDECK_WORK_DIR: workDir });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const activities = createActivities({ env, logger: createLogger({ level: 'silent' }), loadAppsConfig: () => parseAppsConfig({ apps }), temporalClient: client });
  const worker = await startWorkerProcess(built, workerEnv);
  // The simulator's processes: machines, routers, proxies and its flyctl server (sim/README.md).
  const rss = sampleRss(worker.pid, worker.launcherPid, () => (sim.serverPid ? [...sim.processIds(), sim.serverPid] : sim.processIds()));
  let counter = 0;

  async function createApp(options: { health?: Record<string, unknown>; waitTimeout?: string } = {}): Promise<BenchApp> {
    const name = `bench-${++counter}`;
    const created = await sim.createApp(name, { machines: 1, image: { version: 'v1' } });
    const repo = createGitRepo(sim, name);
    repos.push(repo);
    apps[name] = {
      repository: repo.dir, testCommand: ['true'], smokeChecks: [{ name: 'home', path: '/', expectStatus: 200 }],
      environments: { staging: { flyApp: name, waitTimeout: options.waitTimeout ?? '30s', health: { ...HEALTH, ...options.health } } },
    };
    writeConfig();
    return { name, repo, initialImage: created.imageRef, appUrl: created.appUrl };
  }

  async function runPipeline(app: BenchApp, sha: string): Promise<RunStatus> {
    const { workflowId } = await requestDeploy(client, TASK_QUEUE, { app: app.name, environment: 'staging', sha, trigger: { source: 'api', actor: 'bench' } });
    const handle = client.workflow.getHandle(workflowId);
    // The queue starts the pipeline after it answers (seconds later on a loaded worker): wait for it to exist.
    for (;;) {
      const ended = await handle.result().then(() => true, (err: unknown) => !(err instanceof WorkflowNotFoundError));
      if (ended) break;
      await sleep(250);
    }
    // A closed run's status is a replay on the worker: a worker busy with 100 pipelines may miss a query's deadline.
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle.query(statusQuery);
      } catch (err) {
        if (attempt === 5) throw err;
        await sleep(2000 * attempt);
      }
    }
  }

  try {
    // ---- 1. per-stage overhead: pipeline vs the same activities called directly
    log(`overhead: ${RUNS} pipelines and ${RUNS} direct runs …`);
    const overheadApp = await createApp();
    const directApp = await createApp();
    await runPipeline(overheadApp, overheadApp.repo.commit({ behaviour: { version: 'warm-up' } }));
    const overhead: Record<Stage, number[]> = { preflight: [], test: [], build: [], deploy: [], health: [], smoke: [] };
    const pipelineTotals: number[] = [];
    const firstTasks: number[] = [];
    const directTotals: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const status = await runPipeline(overheadApp, overheadApp.repo.commit({ behaviour: { version: `p${i}` } }));
      if (status.state !== 'succeeded') throw new Error(`pipeline run ${i} ended ${status.state}: ${status.outcome}`);
      const direct = await runDirect(activities, directApp, directApp.repo.commit({ behaviour: { version: `d${i}` } }), i, overheadApp.name);
      const firstTask = await firstWorkflowTaskMs(client, status.workflowId);
      for (const stage of STAGES) overhead[stage].push((stage === 'preflight' ? preflightMs(status, firstTask) : stageMs(status, stage)) - direct[stage]);
      pipelineTotals.push(Date.parse(status.finishedAt!) - Date.parse(status.startedAt));
      firstTasks.push(firstTask);
      directTotals.push(STAGES.reduce((sum, stage) => sum + direct[stage], 0));
      process.stdout.write('.');
      if (process.env.BENCH_TIMELINE && i === RUNS - 1) await printTimeline(client, status.workflowId);
    }
    process.stdout.write('\n');

    // ---- 2. first failed probe → rollback
    log(`rollback latency: ${ROLLBACKS} failing deploys …`);
    const rollbackLatency: Array<{ toDecision: number; toRollbackDeploy: number }> = [];
    for (let i = 0; i < ROLLBACKS; i++) {
      const proxy = await brokenHealth.open();
      const app = await createApp({ health: { url: `${proxy.url}/health` } });
      proxy.forwardTo(app.appUrl);
      const status = await runPipeline(app, app.repo.commit({ behaviour: { version: 'broken' } }));
      if (status.state !== 'rolled-back') throw new Error(`the failing deploy ended ${status.state}: ${status.outcome}`);
      const firstFailure = proxy.firstFailureAt();
      const rollbackStage = status.stages.find((s) => s.name === 'rollback')!;
      const rollbackDeploy = sim.callLog().find((c) => c.command === 'deploy' && c.argv.includes(app.name) && c.argv.includes(app.initialImage))!;
      rollbackLatency.push({ toDecision: Date.parse(rollbackStage.startedAt!) - firstFailure!, toRollbackDeploy: Date.parse(rollbackDeploy.at) - firstFailure! });
      process.stdout.write('.');
    }
    process.stdout.write('\n');

    // ---- 3. N pipelines at once, for different apps
    log(`concurrency: ${CONCURRENCY} pipelines at once …`);
    // A few at a time: the simulator's state lock turns away too many creations at once.
    const concurrentApps: BenchApp[] = [];
    while (concurrentApps.length < CONCURRENCY) {
      const batch = Math.min(5, CONCURRENCY - concurrentApps.length);
      concurrentApps.push(...await Promise.all(Array.from({ length: batch }, () => createApp({ health: CONCURRENT_HEALTH, waitTimeout: '120s' }))));
    }
    const shas = concurrentApps.map((app) => app.repo.commit({ behaviour: { version: 'c' } }));
    rss.reset();
    const startedAt = Date.now();
    // A dot per finished pipeline: on a loaded machine the run can take minutes.
    const outcomes = await Promise.all(concurrentApps.map((app, i) => runPipeline(app, shas[i]!).finally(() => process.stdout.write('.'))));
    process.stdout.write('\n');
    const wallMs = Date.now() - startedAt;
    const concurrentPeak = rss.peak();
    const simPeak = rss.simPeak();
    const succeeded = outcomes.filter((s) => s.state === 'succeeded').length;
    const loadAfter = os.loadavg()[0]!;
    const notSucceeded = outcomes.filter((s) => s.state !== 'succeeded').map((s) => `${s.state}: ${s.outcome}`);

    console.log('\n=== deploy pipeline benchmark ===');
    console.log(`no-op stages on the simulator, 1 machine per app, ${os.cpus().length} cores; the worker in its own process (polling ${fmt(worker.readyAfterMs)} ms after its start, RSS then ${formatMb(rss.first())})\n`);
    console.log(`per-stage orchestration overhead over ${RUNS} runs (stage time in the pipeline minus the same activities called directly)`);
    console.log(`${'stage'.padEnd(12)}${'median ms'.padStart(12)}${'p99 ms'.padStart(10)}`);
    for (const stage of STAGES) console.log(`${stage.padEnd(12)}${fmt(percentile(overhead[stage], 50)).padStart(12)}${fmt(percentile(overhead[stage], 99)).padStart(10)}`);
    console.log(`  preflight holds the run's first workflow task (the workflow's start on the worker, the patch markers, scheduling preflight's activity): median ${fmt(percentile(firstTasks, 50))} ms, p99 ${fmt(percentile(firstTasks, 99))} ms`);
    const totalOverhead = pipelineTotals.map((total, i) => total - directTotals[i]!);
    console.log(`${'whole run'.padEnd(12)}${fmt(percentile(totalOverhead, 50)).padStart(12)}${fmt(percentile(totalOverhead, 99)).padStart(10)}   (pipeline median ${fmt(percentile(pipelineTotals, 50))} ms vs direct ${fmt(percentile(directTotals, 50))} ms; includes queueing, skipped stages, Slack-less reporting)`);
    console.log(`\nfirst failed health probe → rollback, over ${ROLLBACKS} failing deploys (health deadline ${HEALTH_DEADLINE_MS} ms included)`);
    const toDecision = rollbackLatency.map((r) => r.toDecision);
    const toDeploy = rollbackLatency.map((r) => r.toRollbackDeploy);
    console.log(`  → rollback stage starts        median ${fmt(percentile(toDecision, 50))} ms, p99 ${fmt(percentile(toDecision, 99))} ms (minus the deadline: ${fmt(percentile(toDecision, 50) - HEALTH_DEADLINE_MS)} ms)`);
    console.log(`  → rollback's fly deploy starts median ${fmt(percentile(toDeploy, 50))} ms, p99 ${fmt(percentile(toDeploy, 99))} ms (minus the deadline: ${fmt(percentile(toDeploy, 50) - HEALTH_DEADLINE_MS)} ms)`);
    console.log(`\n${CONCURRENCY} pipelines at once (different apps, one worker)`);
    console.log(`  ${succeeded}/${CONCURRENCY} succeeded in ${fmt(wallMs)} ms → ${(CONCURRENCY / (wallMs / 60_000)).toFixed(1)} runs per minute (1-min load average at the end ${loadAfter.toFixed(1)})`);
    for (const line of notSucceeded.slice(0, 5)) console.log(`  not succeeded: ${line}`);
    console.log(`  worker process peak RSS ${formatMb(concurrentPeak.worker)} (anonymous ${formatMb(concurrentPeak.anonymous)}); its command launcher ${formatMb(concurrentPeak.launcher)}; worker settings ${JSON.stringify(workerTuning(env))}`);
    console.log(`  worker process environment: MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? imageProcessEnv().MALLOC_ARENA_MAX ?? '(unset)'} (the Dockerfile's unless set here)${process.env.BENCH_WORKER_NODE_OPTIONS ? `, NODE_OPTIONS=${process.env.BENCH_WORKER_NODE_OPTIONS}` : ''}`);
    console.log(`  this harness (not the worker): peak RSS ${formatMb(rss.harnessPeak())}`);
    console.log(`  simulator (not the worker): peak ${simPeak.processes} machine, router, proxy and flyctl-server processes, ${formatMb(simPeak.bytes)} RSS together`);
  } finally {
    rss.stop();
    await worker.stop();
    await connection.close();
    await brokenHealth.close();
    // A teardown failure must not hide the error that ended the benchmark.
    await sim.teardown().catch((err: Error) => console.error(`simulator teardown: ${err.message}`));
    await server.stop();
    for (const repo of repos) repo.remove();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * The pipeline's stages, as the same activity calls in the same order, without Temporal. ledgerApp: whose
 * release ledger preflight reads (the pipeline's app: the twin has no ledger, and a missing one answers faster).
 */
async function runDirect(activities: Activities, app: BenchApp, sha: string, run: number, ledgerApp: string): Promise<Record<Stage, number>> {
  const timings = {} as Record<Stage, number>;
  const time = async <T>(stage: Stage, fn: () => Promise<T>): Promise<T> => {
    const startedAt = Date.now();
    try {
      return await fn();
    } finally {
      timings[stage] = Date.now() - startedAt;
    }
  };
  // The pipeline's preflight stage, one activity (patches preflight-one-read, preflight-resolves-target):
  // the deploy target, then Fly's status, the secret names and the ledger at once.
  const { target, before } = await time('preflight', async () => {
    const resolved = await call(activities.resolveDeployTarget, { app: app.name, environment: 'staging' });
    const [status] = await Promise.all([
      call(activities.flyAppStatus, resolved.flyApp), call(activities.flySecretNames, resolved.flyApp),
      call(activities.readReleaseLedger, { app: ledgerApp, environment: 'staging' }),
    ]);
    return { target: resolved, before: status };
  });
  const probe = { consecutiveSuccesses: target.health.consecutiveSuccesses, intervalMs: target.health.intervalMs, deadlineMs: target.health.deadlineMs, requestTimeoutMs: target.health.requestTimeoutMs };
  // The checkout and the tests in one activity, as the pipeline's (patch one-trip-stages).
  const { workspace } = await time('test', () => call(activities.checkoutAndTest, {
    repository: target.repository, sha, runKey: `direct-${app.name}-${run}`,
    test: { command: target.testCommand!, timeoutMs: 60_000, failureType: 'TestsFailed', label: 'tests', app: app.name, kind: 'test' },
  }));
  const image = await time('build', () => call(activities.flyBuildImage, { flyApp: target.flyApp, workspace, imageLabel: `direct-${sha.slice(0, 12)}`, timeoutMs: 300_000 }));
  // The pipeline's deploy stage: the rollout, and beside it the `deploying` entry in the release ledger.
  await time('deploy', () => Promise.all([
    call(activities.recordDeploying, {
      app: app.name, environment: 'staging', workspace,
      record: { id: `direct-${app.name}-${run}`, kind: 'deploy', image, commit: sha, trigger: { source: 'api', actor: 'bench' }, startedAt: new Date().toISOString(), verdict: 'deploying' },
    }),
    call(activities.flyDeployImage, {
      flyApp: target.flyApp, image, strategy: target.strategy, waitTimeout: target.waitTimeout, baselineReleaseVersion: before.releaseVersion ?? null,
      workDir: `deploys/direct-${run}`, timeoutMs: 300_000, configPath: `${workspace}/fly.toml`,
    }),
  ]));
  // The probe and the machine checks at once in one activity, as the pipeline's (patch health-in-one-activity).
  const appUrl = await time('health', async () => {
    await call(activities.verifyAppHealth, { ...probe, url: new URL(target.health.path, before.appUrl).toString(), flyApp: target.flyApp });
    return before.appUrl;
  });
  await time('smoke', () => call(activities.runSmokeChecks, { baseUrl: appUrl, checks: target.smokeChecks }));
  await call(activities.removeWorkspace, workspace);
  return timings;
}

/** From the first workflow task's start to its completion, on the server's clock. */
async function firstWorkflowTaskMs(client: Client, workflowId: string): Promise<number> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const timeOf = (type: 'workflowTaskStartedEventAttributes' | 'workflowTaskCompletedEventAttributes') => {
    const at = events.find((e) => e[type])!.eventTime!;
    return Number(at.seconds) * 1000 + Math.floor((at.nanos ?? 0) / 1e6);
  };
  return timeOf('workflowTaskCompletedEventAttributes') - timeOf('workflowTaskStartedEventAttributes');
}

/** The pipeline's history as a timeline (ms since its start): where a stage's time goes. */
async function printTimeline(client: Client, workflowId: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const run = await client.workflow.getHandle(workflowId).query(statusQuery);
  console.log(`\n${workflowId}: ${run.stages.map((s) => `${s.name} ${s.startedAt?.slice(17, 23)}..${s.finishedAt?.slice(17, 23)} ${s.durationMs}ms`).join(', ')}`);
  const t0 = Number(events[0]!.eventTime!.seconds) * 1000 + Math.floor((events[0]!.eventTime!.nanos ?? 0) / 1e6);
  const names = new Map<string, string>();
  for (const e of events) {
    const ms = Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6) - t0;
    const type = String(e.eventType).replace('EVENT_TYPE_', '');
    let what = '';
    if (e.activityTaskScheduledEventAttributes) {
      what = e.activityTaskScheduledEventAttributes.activityType?.name ?? '';
      names.set(String(e.eventId), what);
    }
    if (e.activityTaskStartedEventAttributes) what = names.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? '';
    if (e.activityTaskCompletedEventAttributes) what = names.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? '';
    if (e.markerRecordedEventAttributes) what = e.markerRecordedEventAttributes.markerName ?? '';
    console.log(`${String(ms).padStart(6)} ${type} ${what}`);
  }
}

/**
 * Runs an activity function outside a worker (heartbeats and cancellation need a context), as if on the
 * worker's task queue: the release ledger's workflows start on the queue of the activity that writes them.
 */
async function call<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({ taskQueue: TASK_QUEUE }).run(fn, ...args);
}

function stageMs(status: RunStatus, stage: string): number {
  const found = status.stages.find((s) => s.name === stage);
  if (found?.durationMs === undefined) throw new Error(`stage ${stage} has no duration (${found?.state})`);
  return found.durationMs;
}

/**
 * Preflight is two run.stage() calls (the target, then the reads; a freeze check between), and the
 * second one restarts the stage's clock. Counted instead: from the run's start to preflight's end,
 * minus the run's first workflow task (reported on its own), so the figure means the same whether the
 * target is read in that task (a local activity) or in preflight's activity (preflight-resolves-target).
 */
function preflightMs(status: RunStatus, firstTaskMs: number): number {
  const found = status.stages.find((s) => s.name === 'preflight');
  if (!found?.finishedAt) throw new Error(`preflight has not finished (${found?.state})`);
  return Date.parse(found.finishedAt) - Date.parse(status.startedAt) - firstTaskMs;
}

/**
 * A health endpoint in front of an app that answers 500 while the new ("broken") release serves and
 * passes through otherwise, noting when it first failed: Fly's own checks pass, Flightdeck's fail.
 */
async function startBrokenHealthProxies() {
  const servers: http.Server[] = [];
  return {
    async open() {
      let target = '';
      let firstFailureAt: number | undefined;
      const server = http.createServer((req, res) => {
        fetch(`${target}${req.url}`).then(async (upstream) => {
          const isBroken = req.url === '/health' && upstream.headers.get('x-sim-version') === 'broken';
          if (isBroken) firstFailureAt ??= Date.now();
          res.writeHead(isBroken ? 500 : upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
          res.end(isBroken ? 'broken\n' : await upstream.text());
        }, () => { res.writeHead(502); res.end(); });
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        forwardTo(appUrl: string) { target = appUrl; },
        firstFailureAt: () => firstFailureAt,
      };
    },
    close: () => Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); }))),
  };
}

/**
 * Samples the worker's RSS every 250 ms (at its peak, how much is anonymous memory: heaps, the Rust
 * core, malloc), its launcher's and this harness's apart, and the simulator's processes every second.
 */
function sampleRss(workerPid: number, launcherPid: () => number | undefined, simProcessIds: () => number[]) {
  const first = residentBytes(workerPid);
  let peak = { worker: first, anonymous: 0, launcher: 0 };
  let harness = process.memoryUsage().rss;
  let simPeak = { processes: 0, bytes: 0 };
  let tick = 0;
  const timer = setInterval(() => {
    const worker = residentBytes(workerPid);
    if (worker > peak.worker) peak = { worker, anonymous: residentBytes(workerPid, 'RssAnon'), launcher: peak.launcher };
    const launcher = launcherPid();
    if (launcher) peak.launcher = Math.max(peak.launcher, residentBytes(launcher));
    harness = Math.max(harness, process.memoryUsage().rss);
    if (tick++ % 4 !== 0) return;
    const pids = simProcessIds();
    const bytes = pids.reduce((sum, pid) => sum + residentBytes(pid), 0);
    if (bytes > simPeak.bytes) simPeak = { processes: pids.length, bytes };
  }, 250);
  return {
    first: () => first,
    reset() { peak = { worker: residentBytes(workerPid), anonymous: 0, launcher: 0 }; simPeak = { processes: 0, bytes: 0 }; harness = process.memoryUsage().rss; },
    peak: () => peak,
    simPeak: () => simPeak,
    harnessPeak: () => harness,
    stop: () => clearInterval(timer),
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const fmt = (ms: number) => String(Math.round(ms));
const formatMb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MiB`;
const log = (line: string) => console.log(`[bench] ${line}`);

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
