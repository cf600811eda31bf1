// @ts-check
// What a machine's /metrics endpoint exposes, in the Prometheus text format: request totals by
// status and a latency histogram, counting the requests the process really served plus the
// synthetic traffic its image's manifest describes (so a "bad" image raises 5xx without a load
// generator). And where a scraper finds the machine: a file_sd target file while it listens.
import fs from 'node:fs';
import path from 'node:path';

/** Latency buckets in seconds (the Prometheus client default). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * @typedef {{ requestsPerSecond: number, errorRate: number, latencyMs: number }} TrafficBehaviour
 */

export function createRequestMetrics() {
  /** @type {Map<string, number>} */
  const totals = new Map();
  /** @type {number[]} */
  const bucketCounts = LATENCY_BUCKETS.map(() => 0);
  let count = 0;
  let sumSeconds = 0;

  /** @param {number} status @param {number} seconds @param {number} [times] */
  function observe(status, seconds, times = 1) {
    if (times <= 0) return;
    totals.set(String(status), (totals.get(String(status)) ?? 0) + times);
    LATENCY_BUCKETS.forEach((le, i) => { if (seconds <= le) bucketCounts[i] += times; });
    count += times;
    sumSeconds += seconds * times;
  }

  let syntheticServed = 0;
  let syntheticErrors = 0;
  /**
   * Brings the synthetic traffic up to date: requestsPerSecond since start, errorRate of them 500.
   * @param {TrafficBehaviour} traffic @param {number} elapsedMs
   */
  function catchUp(traffic, elapsedMs) {
    const served = Math.floor((elapsedMs / 1000) * traffic.requestsPerSecond);
    const errors = Math.floor(served * traffic.errorRate);
    const seconds = traffic.latencyMs / 1000;
    observe(500, seconds, errors - syntheticErrors);
    observe(200, seconds, served - errors - (syntheticServed - syntheticErrors));
    syntheticServed = served;
    syntheticErrors = errors;
  }

  /** @param {Record<string, string>} labels */
  function render(labels = {}) {
    const extra = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
    const labelled = (/** @type {string[]} */ own) => `{${[...extra, ...own].join(',')}}`;
    const lines = [
      '# HELP http_requests_total Requests served, by status.',
      '# TYPE http_requests_total counter',
      ...[...totals.entries()].sort().map(([status, n]) => `http_requests_total${labelled([`status="${status}"`])} ${n}`),
      '# HELP http_request_duration_seconds Request latency.',
      '# TYPE http_request_duration_seconds histogram',
      ...LATENCY_BUCKETS.map((le, i) => `http_request_duration_seconds_bucket${labelled([`le="${le}"`])} ${bucketCounts[i]}`),
      `http_request_duration_seconds_bucket${labelled(['le="+Inf"'])} ${count}`,
      `http_request_duration_seconds_sum${labelled([])} ${sumSeconds}`,
      `http_request_duration_seconds_count${labelled([])} ${count}`,
    ];
    return `${lines.join('\n')}\n`;
  }

  return { observe, catchUp, render };
}

/**
 * Where a machine is registered as a Prometheus file_sd target (settings.metricsTargetsDir): one file
 * per machine, kept across its updates and restarts, like a Fly machine keeping its private address.
 * @param {string} targetsDir @param {string} app @param {string} machineId
 */
function targetFile(targetsDir, app, machineId) {
  return path.join(targetsDir, `${app}-${machineId}.json`);
}

/**
 * The port the machine's previous process was scraped on (0: none). A replacement listens there
 * again, so the scrape target stays the same and Prometheus keeps scraping it without waiting for
 * service discovery (which applies changes at most every 5 s).
 * @param {string | null} targetsDir @param {string} app @param {string} machineId
 */
export function previousScrapePort(targetsDir, app, machineId) {
  if (!targetsDir) return 0;
  try {
    const [group] = JSON.parse(fs.readFileSync(targetFile(targetsDir, app, machineId), 'utf8'));
    return Number(String(group.targets[0]).split(':').pop()) || 0;
  } catch {
    return 0;
  }
}

/**
 * Registers a listening machine as a scrape target, with Fly's labels (app, instance = machine id,
 * region). Returns the function that removes the registration (when the machine is stopped or gone;
 * a replaced machine's next process takes the registration over).
 * @param {string | null} targetsDir
 * @param {{ app: string, machineId: string, region: string, port: number }} machine
 */
export function registerScrapeTarget(targetsDir, machine) {
  if (!targetsDir) return () => undefined;
  const file = targetFile(targetsDir, machine.app, machine.machineId);
  const target = [{ targets: [`127.0.0.1:${machine.port}`], labels: { app: machine.app, instance: machine.machineId, region: machine.region } }];
  try {
    fs.mkdirSync(targetsDir, { recursive: true });
    fs.writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(target));
    fs.renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    return () => undefined;
  }
  return () => fs.rmSync(file, { force: true });
}
