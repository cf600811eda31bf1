// Starts a throwaway Prometheus (the Debian package's binary) on a free loopback port, scraping
// whatever file_sd target files appear in its targets directory every second: the test run's one
// metrics server, which simulated machines register with (sim setting metricsTargetsDir).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../lib/net.js';
import { stopProcess } from './localTemporal.js';

export interface LocalPrometheus {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Where file_sd target files (*.json) are picked up. */
  targetsDir: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

const HOW_TO_INSTALL = 'Install Prometheus (Debian: apt-get install -y prometheus), or set PROMETHEUS_PATH to its binary.';

export function locatePrometheus(): string {
  const candidate = process.env.PROMETHEUS_PATH ?? 'prometheus';
  try {
    execFileSync(candidate, ['--version'], { stdio: 'pipe' });
    return candidate;
  } catch {
    throw new Error(`Cannot start Prometheus: "${candidate}" was not found or does not run. ${HOW_TO_INSTALL}`);
  }
}

export async function startLocalPrometheus(options: { scrapeInterval?: string; startupTimeoutMs?: number } = {}): Promise<LocalPrometheus> {
  const binary = locatePrometheus();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-prom-'));
  const targetsDir = path.join(root, 'targets');
  fs.mkdirSync(targetsDir);
  const interval = options.scrapeInterval ?? '1s';
  fs.writeFileSync(path.join(root, 'prometheus.yml'), [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: machines',
    `    scrape_timeout: ${interval}`,
    '    file_sd_configs:',
    `      - files: ['${targetsDir}/*.json']`,
    '        refresh_interval: 1s',
    '',
  ].join('\n'));
  const port = await freePort();
  const server = spawn(binary, [
    `--config.file=${path.join(root, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(root, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=1d',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess(server, 2000);
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(url, () => server.exitCode, options.startupTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw new Error(`Prometheus did not start: ${(err as Error).message}\n${stderr}\n${HOW_TO_INSTALL}`);
  }
  return { url, targetsDir, pid: server.pid, stop };
}

async function waitUntilReady(url: string, exitCode: () => number | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode() !== null) throw new Error(`prometheus exited with code ${exitCode()}`);
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
