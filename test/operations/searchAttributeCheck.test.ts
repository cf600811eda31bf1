// Flightdeck starts runs tagged with its search attributes, which Temporal refuses in a namespace that does
// not know them: the worker and the API check first and stop with what to run. A namespace of its own on the
// run's dev server, created without them (the dev server registers them only in the namespaces it starts with).
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { RUN_SEARCH_ATTRIBUTES } from '../../lib/runSearchAttributes.js';
import { assertSearchAttributes } from '../../lib/searchAttributeCheck.js';
import { locateTemporalCli } from '../../scripts/localTemporal.js';
import { useFlightdeckCli } from '../cli/runFlightdeck.js';

const execFileAsync = promisify(execFile);
const WORKER_MAIN = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));

let connection: Connection;
let scratch: string;
const bareNamespace = `bare-${randomUUID().slice(0, 8)}`;
const warnings: string[] = [];
const warn = (message: string) => { warnings.push(message); };
const cli = useFlightdeckCli(() => ({ apps: {} }));

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  await execFileAsync(locateTemporalCli(), ['operator', 'namespace', 'create', '--namespace', bareNamespace, '--address', inject('temporalAddress')]);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-search-attributes-'));
});
afterAll(async () => {
  await connection?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

it('accepts the namespace the dev server was started with', async () => {
  await expect(assertSearchAttributes(connection, inject('temporalNamespace'), warn)).resolves.toBeUndefined();
  expect(warnings).toEqual([]);
});

it('stops a worker in a namespace without the attributes, naming each one and the command that registers it', async () => {
  const configFile = path.join(scratch, 'flightdeck.yaml');
  fs.writeFileSync(configFile, 'apps: {}\n');
  const worker = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], {
    env: {
      ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: bareNamespace,
      TEMPORAL_TASK_QUEUE: `bare-${bareNamespace}`, FLIGHTDECK_CONFIG: configFile, LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  worker.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exitCode = await new Promise<number | null>((resolve) => worker.once('exit', resolve));
  expect(exitCode).toBe(2);
  expect(stderr).toContain(`Invalid configuration in the Temporal namespace "${bareNamespace}"`);
  expect(stderr).toContain('search attribute FlightdeckApp (Keyword) is not registered');
  expect(stderr).toContain('search attribute FlightdeckState (Keyword) is not registered');
  expect(stderr).toContain(`temporal operator search-attribute create --namespace ${bareNamespace} --name FlightdeckKind --type Keyword`);
}, 60_000);

it('refuses a command line command in such a namespace with exit code 2 and the same explanation', async () => {
  const result = await cli.run(['history'], { temporalNamespace: bareNamespace });
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toContain('search attribute FlightdeckKind (Keyword) is not registered');
  expect(result.stderr).toContain(`temporal operator search-attribute create --namespace ${bareNamespace} --name FlightdeckApp --type Keyword`);
}, 60_000);

it('accepts the namespace once the printed commands have registered the attributes', async () => {
  const problems = await assertSearchAttributes(connection, bareNamespace, warn).then(() => '', (err: Error) => err.message);
  const commands = problems.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('temporal operator search-attribute create'));
  expect(commands).toHaveLength(5);
  const cli = locateTemporalCli();
  for (const command of commands) await execFileAsync(cli, [...command.split(' ').slice(1), '--address', inject('temporalAddress')]);
  await expect(assertSearchAttributes(connection, bareNamespace, warn)).resolves.toBeUndefined();
});

it('registers every attribute in the compose stack, with its type', () => {
  const compose = fs.readFileSync(fileURLToPath(new URL('../../docker-compose.yml', import.meta.url)), 'utf8');
  const loop = /for name in ([\w ]+); do[^;]*; until temporal operator search-attribute create -n default --name "\$\$name" --type (\w+)/.exec(compose);
  expect(loop?.[1]?.split(' ').sort()).toEqual(RUN_SEARCH_ATTRIBUTES.map((key) => key.name).sort());
  expect(RUN_SEARCH_ATTRIBUTES.every((key) => key.type === 'KEYWORD') && loop?.[2]).toBe('Keyword');
});
