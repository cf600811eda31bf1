// Webhook benchmark: `npx tsx bench/webhooks.ts` (a few minutes on 2 cores).
// On a fresh Temporal dev server (BENCH_TEMPORAL=postgres: the production server on PostgreSQL) with a real worker, it sends signed GitHub push webhooks over HTTP
// at concurrency 50, each for its own app (so every one starts a pipeline instead of queueing behind
// another), and times request → 202 (what GitHub waits for: the request is durable once the server
// has the deploy queue's signal-with-start; no worker in the path) and request → pipeline workflow
// started (its start time on the server: the queue, on the worker, starts it).
// Next to it, the same number of bare `client.workflow.start` calls at the same concurrency (the
// ceiling), and of `requestDeploy` calls without HTTP (what the deploy queue itself costs). BENCH_COUNT
// (1000) calls each, and webhooks whose runs go to a task queue no worker polls (the intake alone, as while
// the worker is down or redeploying: the 202 is durable, and no pipeline work shares the cores). Bare
// starts and webhooks are sent in alternating blocks (ROUNDS), as the dev server slows while its database
// grows; every block starts once the worker has ended the pipelines of the one before, so none is measured
// against another's backlog.
// GitHub's side (the signed requests and their timing) runs in a process of its own, as it is in
// production, and so does the worker, with the workflows and one stub activity: a
// pipeline starts, and its first step (preflight's activity, which resolves the deploy target) stops it at once; nothing is
// deployed. (With no activity at all, that local activity failed as unregistered and was retried in the
// worker for seconds, with stack traces and source maps, holding workflow-task slots: load on the cores
// the API and the server share, and pipeline starts held back, which production does not have.)
// Prints figures; it passes or fails nothing.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createApiMetrics } from '../api/metrics.js';
import { buildServer } from '../api/server.js';
import { hmacSha256Hex } from '../api/signatures.js';
import { loadEnvConfig, parseAppsConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { requestDeploy } from '../lib/operations.js';
import { startBenchTemporal } from './temporalServer.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 1000);
const WARM_UP = 50;
const CONCURRENCY = 50;
/**
 * The dev server slows as its database grows: a phase measured after another pays for it. Bare starts
 * and webhooks run in alternating blocks instead (a b, b a, a b, b a), so the drift falls on both alike.
 */
const ROUNDS = 4;
const SECRET = 'bench-webhook-secret';
const TASK_QUEUE = 'bench-webhooks';
const UNPOLLED_TASK_QUEUE = 'bench-webhooks-unpolled';

/** Calls made and how long each took; a phase's figures merge the samples of its blocks. */
interface Sample { count: number; seconds: number; latenciesMs: number[]; failures: number }
interface Figures { count: number; seconds: number; perSecond: number; p50Ms: number; p99Ms: number; failures: number }

async function main(): Promise<void> {
  const temporal = await startBenchTemporal();
  const workerProcess = await startWorkerProcess(temporal.address, temporal.namespace);
  const sender = await startSender();
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const apps = parseAppsConfig({ apps: Object.fromEntries(Array.from({ length: WARM_UP + 3 * COUNT }, (_, i) => [`bench-${i}`, benchApp(i)])) });
  const startApi = async (taskQueue: string) => {
    const api = await buildServer({
      client, taskQueue, loadApps: () => apps, logger: createLogger({ level: 'silent' }), metrics: createApiMetrics(), now: Date.now,
      env: loadEnvConfig({ GITHUB_WEBHOOK_SECRET: SECRET, FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE: '1000000', FLIGHTDECK_API_RATE_LIMIT_BURST: '100000' }),
    });
    return { api, url: `${await api.listen({ host: '127.0.0.1', port: 0 })}/webhooks/github` };
  };
  const { api: server, url } = await startApi(TASK_QUEUE);
  // Its runs go to a queue no worker polls: accepted durably, and nothing else runs on these cores.
  const { api: intakeServer, url: intakeUrl } = await startApi(UNPOLLED_TASK_QUEUE);
  try {
    console.log(`${temporal.description}; ${COUNT} requests each, concurrency ${CONCURRENCY}, after ${WARM_UP} warm-up webhooks and starts; `
      + `bare starts and webhooks alternate in ${ROUNDS} blocks each`);
    let asked = 0;
    const ask = (pipelines: number) => { asked += pipelines; };
    await sender.send({ url, first: 0, count: WARM_UP });
    await measure(WARM_UP, (i) => bareStart(client, `warm-${i}`));
    ask(2 * WARM_UP);
    // Each block starts with the worker done with the one before, so none pays for another's backlog.
    await drained(client, asked);
    const sent: SentWebhook[] = [];
    const [startBlocks, webhookBlocks] = await alternate(
      async (first, count) => { const sample = await measure(count, (i) => bareStart(client, `bare-${first + i}`)); ask(count); await drained(client, asked); return sample; },
      async (first, count) => {
        const answer = await sender.send({ url, first: WARM_UP + first, count });
        sent.push(...answer.sent);
        ask(count);
        await drained(client, asked);
        return answer.sample;
      },
    );
    const starts = summarize(startBlocks);
    const webhooks = summarize(webhookBlocks);
    const pipelineStarts = await pipelinesStarted(client, sent);
    const direct = summarize([await measure(COUNT, (i) => directDeploy(client, WARM_UP + COUNT + i))]);
    ask(COUNT);
    await drained(client, asked);
    const [bareIntakeBlocks, intakeBlocks] = await alternate(
      (first, count) => measure(count, (i) => bareStart(client, `unpolled-${first + i}`, UNPOLLED_TASK_QUEUE)),
      async (first, count) => (await sender.send({ url: intakeUrl, first: WARM_UP + 2 * COUNT + first, count })).sample,
    );
    const bareIntake = summarize(bareIntakeBlocks);
    const intake = summarize(intakeBlocks);
    report('bare client.workflow.start (ceiling)', starts);
    report('GitHub webhook → 202', webhooks);
    report('GitHub webhook → pipeline workflow started', pipelineStarts);
    report('requestDeploy without HTTP → answered', direct);
    console.log('with no worker polling (the intake alone, as while the worker is down; no pipeline work on these cores):');
    report('  bare client.workflow.start (ceiling)', bareIntake);
    report('  GitHub webhook → 202', intake);
    console.log(`1-min load average at the end: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
    console.log(`ratio webhooks/ceiling: throughput ${(webhooks.perSecond / starts.perSecond).toFixed(2)} (202s), `
      + `${(pipelineStarts.perSecond / starts.perSecond).toFixed(2)} (pipelines started); p50 latency to 202 ${(webhooks.p50Ms / starts.p50Ms).toFixed(1)}× the ceiling's`);
    console.log(`ratio with no worker polling: throughput ${(intake.perSecond / bareIntake.perSecond).toFixed(2)}; p50 latency to 202 ${(intake.p50Ms / bareIntake.p50Ms).toFixed(1)}× the ceiling's`);
  } finally {
    sender.stop();
    await Promise.all([server.close(), intakeServer.close()]);
    workerProcess.send('stop');
    await once(workerProcess, 'exit');
    await connection.close();
    await temporal.stop();
  }
}

/** Waits until every pipeline asked for so far exists and has ended (the worker stops each at its first step). */
async function drained(client: Client, pipelines: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const [all, running] = await Promise.all([
      client.workflow.count('WorkflowType = "deployPipeline"'),
      client.workflow.count('WorkflowType = "deployPipeline" AND ExecutionStatus = "Running"'),
    ]);
    if (all.count >= pipelines && running.count === 0) return;
    await sleep(250);
  }
  console.error('the worker did not finish the previous phase\'s pipelines within 120 s; measuring anyway');
}

async function startWorkerProcess(address: string, namespace: string): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['worker', address, namespace]);
  const [message] = await Promise.race([once(child, 'message'), once(child, 'exit').then(() => { throw new Error('the worker process exited'); })]) as unknown[];
  if (message !== 'ready') throw new Error(`the worker process said ${String(message)}`);
  return child;
}

/** The child process: a worker polling the benchmark's task queue until the parent says stop. */
async function runWorker(address: string, namespace: string): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection, namespace, taskQueue: TASK_QUEUE, workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    // The pipeline's first step on current code (preflight-resolves-target), and on code before it.
    activities: { resolveAndReadPreflight: stopThePipeline, resolveDeployTarget: stopThePipeline },
  });
  process.on('message', () => worker.shutdown());
  const running = worker.run();
  process.send!('ready');
  await running;
  await connection.close();
  process.disconnect();
}

/** The pipeline's first step: the benchmark measures its start, not what it would do next. */
async function stopThePipeline(): Promise<never> {
  throw ApplicationFailure.nonRetryable('the webhook benchmark stops every pipeline at its first step', 'BenchmarkStop');
}

function benchApp(i: number) {
  return { repository: `/srv/bench-${i}`, github: { repository: `acme/bench-${i}` }, environments: { staging: { flyApp: `bench-${i}`, branch: 'main' } } };
}

interface SentWebhook { workflowId: string; disposition: string; sentAtMs: number }

interface SendOrder { url: string; first: number; count: number }
interface Sent { sample: Sample; sent: SentWebhook[] }

/**
 * GitHub's side of the exchange in a process of its own, as it is in production: the requests' CPU is
 * not taken from the API's event loop. Webhooks first..first+count-1, CONCURRENCY at a time.
 */
async function startSender(): Promise<{ send(order: SendOrder): Promise<Sent>; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['sender']);
  const exited = once(child, 'exit').then(() => { throw new Error('the webhook sender exited'); });
  exited.catch(() => undefined); // its exit after stop() is no error
  return {
    async send(order) {
      child.send(order);
      const [answer] = await Promise.race([once(child, 'message'), exited]) as [Sent];
      return answer;
    },
    stop: () => child.disconnect(),
  };
}

/** The sender process: sends what it is told and answers with the figures and the webhooks sent. */
function runSender(): void {
  process.on('message', (order: SendOrder) => {
    const sent: SentWebhook[] = [];
    void measure(order.count, async (i) => { sent.push(await sendPush(order.url, order.first + i)); })
      .then((sample) => process.send!({ sample, sent } satisfies Sent));
  });
  process.on('disconnect', () => agent.destroy());
}

// Kept light: one keep-alive connection per concurrent sender (WHATWG
// fetch costs this process several times the CPU of a plain request, CPU the API and the server share).
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

async function sendPush(url: string, i: number): Promise<SentWebhook> {
  const sentAtMs = Date.now();
  const body = JSON.stringify({
    ref: 'refs/heads/main', after: (i + 1).toString(16).padStart(40, '0'), deleted: false,
    repository: { full_name: `acme/bench-${i}` }, sender: { login: 'bench' },
  });
  const { status, text } = await post(url, body, {
    'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `bench-${i}`, 'x-github-hook-id': '1',
    'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, body)}`,
  });
  const answer = JSON.parse(text) as { workflowId?: string; disposition?: string; message?: string };
  if (status !== 202 || !answer.workflowId || answer.disposition !== 'accepted') {
    throw new Error(`webhook ${i}: HTTP ${status} ${text}`);
  }
  return { workflowId: answer.workflowId, disposition: answer.disposition!, sentAtMs };
}

function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Request → pipeline started, from each pipeline's start time on the server (same clock: loopback). */
async function pipelinesStarted(client: Client, sent: SentWebhook[]): Promise<Figures> {
  const latenciesMs: number[] = [];
  let lastStartMs = 0;
  for (const webhook of sent) {
    const startTime = await startTimeOf(client, webhook.workflowId);
    latenciesMs.push(startTime - webhook.sentAtMs);
    lastStartMs = Math.max(lastStartMs, startTime);
  }
  const seconds = (lastStartMs - Math.min(...sent.map((w) => w.sentAtMs))) / 1000;
  return summarize([{ count: sent.length, seconds, latenciesMs, failures: sent.length - latenciesMs.length }]);
}

async function startTimeOf(client: Client, workflowId: string): Promise<number> {
  for (;;) {
    try {
      return (await client.workflow.getHandle(workflowId).describe()).startTime.getTime();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await sleep(100); // accepted: the queue starts the pipeline moments later
    }
  }
}

async function directDeploy(client: Client, i: number): Promise<void> {
  const result = await requestDeploy(client, TASK_QUEUE, {
    app: `bench-${i}`, environment: 'staging', sha: (i + 1).toString(16).padStart(40, '0'), ref: 'main', trigger: { source: 'api', actor: 'bench' },
  });
  if (result.disposition === 'duplicate') throw new Error(`requestDeploy ${i}: duplicate`);
}

async function bareStart(client: Client, id: string, taskQueue = TASK_QUEUE): Promise<void> {
  await client.workflow.start('deployPipeline', {
    workflowId: `bench/${id}`, taskQueue,
    args: [{ app: 'bench-0', environment: 'staging', sha: 'a'.repeat(40), trigger: { source: 'api', actor: 'bench' } }],
  });
}

/**
 * Calls a and b for COUNT calls each, in ROUNDS blocks that alternate which goes first; each gets the
 * index of its block's first call and how many to make.
 */
async function alternate(a: (first: number, count: number) => Promise<Sample>, b: (first: number, count: number) => Promise<Sample>): Promise<[Sample[], Sample[]]> {
  const [aSamples, bSamples]: [Sample[], Sample[]] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    const first = Math.floor((round * COUNT) / ROUNDS);
    const count = Math.floor(((round + 1) * COUNT) / ROUNDS) - first;
    const runA = async () => { aSamples.push(await a(first, count)); };
    const runB = async () => { bSamples.push(await b(first, count)); };
    if (round % 2 === 0) { await runA(); await runB(); } else { await runB(); await runA(); }
  }
  return [aSamples, bSamples];
}

/** Runs `count` calls with CONCURRENCY in flight, timing each. */
async function measure(count: number, call: (i: number) => Promise<void>): Promise<Sample> {
  const latenciesMs: number[] = [];
  let next = 0;
  let failures = 0;
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++;
      const callStartedAt = performance.now();
      try {
        await call(i);
        latenciesMs.push(performance.now() - callStartedAt);
      } catch (err) {
        failures++;
        if (failures <= 3) console.error((err as Error).message);
      }
    }
  }));
  return { count, seconds: (performance.now() - startedAt) / 1000, latenciesMs, failures };
}

/** One phase's figures from its blocks: throughput over the blocks' time together, percentiles over every call. */
function summarize(samples: Sample[]): Figures {
  const count = samples.reduce((sum, s) => sum + s.count, 0);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const failures = samples.reduce((sum, s) => sum + s.failures, 0);
  const latenciesMs = samples.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const percentile = (p: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor((p / 100) * latenciesMs.length))] ?? NaN;
  return { count, seconds, perSecond: latenciesMs.length / seconds, p50Ms: percentile(50), p99Ms: percentile(99), failures };
}

function report(label: string, figures: Figures): void {
  console.log(`${label}: ${figures.perSecond.toFixed(1)}/s (${figures.count} in ${figures.seconds.toFixed(2)} s), `
    + `p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms, failures ${figures.failures}`);
}

const [role, address, namespace] = process.argv.slice(2);
if (role === 'sender') runSender();
else (role === 'worker' ? runWorker(address!, namespace!) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
