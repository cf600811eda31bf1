// The deployment files cannot be run here (no Docker engine, no Fly account): these tests check what
// can be checked without one. Each file parses; every file, script and variable it names exists.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadAppsConfig, loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { parseToml, type TomlTable } from './tinyToml.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const exists = (file: string) => fs.existsSync(path.join(ROOT, file));

/** The variable names of lib/config.ts's environment schema (the only reader of process.env). */
function envSchemaVariables(): Set<string> {
  const source = read('lib/config.ts');
  const start = source.indexOf('const envSchema = z.object({');
  const block = source.slice(start, source.indexOf('\n});', start));
  return new Set([...block.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
}

/** Variables Flightdeck reads by name without a schema entry: database secrets and the AWS SDK's. */
const isSecretByName = (name: string) => /_DATABASE_URL$/.test(name) || /^AWS_/.test(name);

/** `node dist/x/y.js` → the TypeScript source it is compiled from. */
function sourceOfDistCommand(command: string): string {
  const match = /node dist\/(\S+)\.js/.exec(command);
  if (!match) throw new Error(`not a "node dist/….js" command: ${command}`);
  return `${match[1]}.ts`;
}

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, unknown>;
  volumes?: string[];
  healthcheck?: { disable?: boolean };
  ports?: string[];
  depends_on?: unknown;
}

function compose(): { services: Record<string, ComposeService>; volumes: Record<string, unknown> } {
  return parseYaml(read('docker-compose.yml'), { merge: true });
}

function dockerfileInstructions(): Array<{ instruction: string; args: string }> {
  const joined = read('Dockerfile').replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [instruction, ...rest] = l.split(/\s+/); return { instruction: instruction!.toUpperCase(), args: rest.join(' ') }; });
}

describe('docker-compose.yml', () => {
  it('runs Temporal with its own PostgreSQL, the Temporal UI, and the worker and API built from the Dockerfile', () => {
    const { services } = compose();
    expect(Object.keys(services).sort()).toEqual(['api', 'runner', 'temporal', 'temporal-namespace', 'temporal-postgresql', 'temporal-schema', 'temporal-ui', 'worker']);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d/);
    expect(services.worker!.build).toBe('.');
    expect(services.api!.image).toBe(services.worker!.image);
    expect(sourceOfDistCommand(services.worker!.command!.join(' '))).toBe('worker/main.ts');
    expect(sourceOfDistCommand(services.api!.command!.join(' '))).toBe('api/main.ts');
    expect(sourceOfDistCommand(services.runner!.command!.join(' '))).toBe('worker/main.ts');
    expect(services.runner!.command).toContain('--runner');
  });

  it('runs the Temporal server and schema tool of the version the tests run, not the deprecated auto-setup image', () => {
    const { services } = compose();
    const testedVersion = /^TEMPORAL_SERVER_VERSION="v([\d.]+)"/m.exec(read('scripts/temporal-server.sh'))![1];
    expect(services.temporal!.image).toBe(`temporalio/server:${testedVersion}`);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'temporal-postgresql' });
    for (const job of ['temporal-schema', 'temporal-namespace']) expect(services[job]!.image).toBe(`temporalio/admin-tools:${testedVersion}`);
    expect(Object.values(services).map((s) => s.image).filter((image) => image?.includes('auto-setup'))).toEqual([]);
  });

  it('sets up the schema with the script the tests run, before the server starts, and the namespace before Flightdeck starts', () => {
    const { services } = compose();
    const mounts = (name: string) => (services[name]!.volumes ?? []).map((v) => v.split(':'));
    const [schemaScript, schemaScriptInContainer] = mounts('temporal-schema').find(([, inContainer]) => inContainer?.endsWith('.sh'))!;
    expect(schemaScript).toBe('./scripts/temporal-schema.sh');
    expect(services['temporal-schema']!.command!.join(' ')).toContain(schemaScriptInContainer);
    expect(read('scripts/temporalServer.ts')).toContain("'./temporal-schema.sh'");
    expect(mounts('temporal').map(([file]) => file)).toContain('./scripts/temporal-dynamicconfig.yaml');
    expect(services.temporal!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    for (const name of ['worker', 'runner', 'api']) {
      expect(services[name]!.depends_on).toMatchObject({ 'temporal-namespace': { condition: 'service_completed_successfully' } });
    }
  });

  it('keeps backups on a named volume the worker writes', () => {
    const { services, volumes } = compose();
    expect(Object.keys(volumes)).toContain('backups');
    expect(services.worker!.volumes).toContain('backups:/app/data/backups');
    expect(services.worker!.healthcheck?.disable).toBe(true);
  });

  it('wires only variables that lib/config.ts reads, and points both at the Temporal service', () => {
    const known = envSchemaVariables();
    for (const name of ['worker', 'api', 'runner'] as const) {
      const environment = compose().services[name]!.environment!;
      expect(environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(Object.keys(environment).filter((v) => !known.has(v))).toEqual([]);
    }
  });
});

describe('Dockerfile', () => {
  it('builds in its own stages (the app; squawk from PyPI) and runs slim on the current Node LTS, as a non-root user, with a health check on /healthz', () => {
    const instructions = dockerfileInstructions();
    expect(instructions.filter((i) => i.instruction === 'FROM').map((i) => i.args)).toEqual([
      'node:26-bookworm-slim AS build', 'python:3.12-slim-bookworm AS squawk', 'node:26-bookworm-slim AS runtime',
    ]);
    const user = instructions.filter((i) => i.instruction === 'USER').at(-1)?.args;
    expect(user).toBe('flightdeck');
    const healthcheck = instructions.find((i) => i.instruction === 'HEALTHCHECK')?.args;
    expect(healthcheck).toContain('/healthz');
    expect(read('api/routes/health.ts')).toContain("'/healthz'");
  });

  it('copies only files that exist, and every source directory tsconfig.build.json compiles', () => {
    const copies = dockerfileInstructions().filter((i) => i.instruction === 'COPY' && !i.args.includes('--from='));
    const sources = copies.flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    expect(sources.filter((s) => !exists(s))).toEqual([]);
    const buildConfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    expect(buildConfig.include.filter((dir) => !sources.includes(dir))).toEqual([]);
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(sources.filter((s) => ignored.includes(s))).toEqual([]);
  });

  it('runs only commands and scripts that exist: the compiler config, npm scripts, the API entry point', () => {
    const runs = dockerfileInstructions().filter((i) => i.instruction === 'RUN').map((i) => i.args).join('\n');
    for (const [, config] of runs.matchAll(/tsc -p (\S+)/g)) expect(exists(config!), config).toBe(true);
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const [, script] of runs.matchAll(/npm run (\S+)/g)) expect(scripts[script!], `npm run ${script}`).toBeDefined();
    expect(runs).toMatch(/postgresql-client-\$\{PG_MAJOR\}/);
    expect(runs).toMatch(/flyctl version && pg_dump --version && pg_restore --version/);
    const cmd = dockerfileInstructions().find((i) => i.instruction === 'CMD')!.args;
    expect(exists(sourceOfDistCommand(JSON.parse(cmd).join(' ')))).toBe(true);
  });

  it('sets only environment variables that lib/config.ts reads', () => {
    const known = envSchemaVariables();
    const env = dockerfileInstructions().filter((i) => i.instruction === 'ENV').map((i) => i.args).join(' ');
    const names = [...env.matchAll(/([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1]!);
    // NODE_ENV is Node's, FLY_NO_UPDATE_CHECK is flyctl's, MALLOC_ARENA_MAX is glibc's.
    const others = new Set(['NODE_ENV', 'FLY_NO_UPDATE_CHECK', 'MALLOC_ARENA_MAX']);
    expect(names.filter((n) => !known.has(n) && !others.has(n))).toEqual([]);
  });
});

describe('fly.toml', () => {
  const flyToml = () => parseToml(read('fly.toml'));

  it('runs the api and worker process groups from the image, the API behind the HTTP service', () => {
    const config = flyToml();
    const processes = config.processes as Record<string, string>;
    expect(Object.keys(processes).sort()).toEqual(['api', 'worker']);
    expect(sourceOfDistCommand(processes.api!)).toBe('api/main.ts');
    expect(sourceOfDistCommand(processes.worker!)).toBe('worker/main.ts');
    const service = config.http_service as TomlTable;
    expect(service.processes).toEqual(['api']);
    expect(String(service.internal_port)).toBe((config.env as TomlTable).FLIGHTDECK_API_PORT);
    expect((service.checks as TomlTable[]).map((c) => c.path)).toEqual(['/healthz']);
  });

  it('gives a stopping worker longer than its shutdown grace, and keeps its deploy work files on a volume', () => {
    const config = flyToml();
    const grace = /shutdownGraceTime: '(\d+)s'/.exec(read('worker/main.ts'))?.[1];
    expect(Number(/^(\d+)s?$/.exec(String(config.kill_timeout))?.[1])).toBeGreaterThan(Number(grace));
    const workDir = /FLIGHTDECK_WORK_DIR=(\S+)/.exec(read('Dockerfile'))?.[1];
    const workerMounts = (config.mounts as TomlTable[]).filter((m) => (m.processes as string[]).includes('worker'));
    expect(workerMounts.some((m) => `${workDir}/`.startsWith(`${String(m.destination)}/`))).toBe(true);
  });

  it('writes the apps file where FLIGHTDECK_CONFIG points', () => {
    const config = flyToml();
    expect((config.files as TomlTable[]).map((f) => f.guest_path)).toEqual([(config.env as TomlTable).FLIGHTDECK_CONFIG]);
  });

  it('names as secrets and env only variables that lib/config.ts reads', () => {
    const known = envSchemaVariables();
    const env = Object.keys(flyToml().env as TomlTable);
    const secrets = read('fly.toml').split('\n').filter((l) => /^#\s+[A-Z<]/.test(l))
      .flatMap((l) => [...l.matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g)].map((m) => m[1]!))
      .filter((n) => !n.startsWith('<'));
    expect(secrets).toEqual(expect.arrayContaining(['TEMPORAL_ADDRESS', 'FLY_API_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'FLIGHTDECK_API_TOKEN']));
    expect([...env, ...secrets].filter((n) => !known.has(n) && !isSecretByName(n))).toEqual([]);
  });
});

describe('examples', () => {
  it('has an apps file that the real config schema accepts', () => {
    const config = loadAppsConfig(path.join(ROOT, 'examples/flightdeck.example.yaml'));
    expect(Object.keys(config.apps)).toEqual(['shop']);
    expect(config.storage).toEqual({ type: 'local', dir: '/app/data/backups' });
  });

  it('has a GitHub Actions workflow that deploys through /webhooks/ci with an OIDC token after the tests pass', () => {
    const workflow = parseYaml(read('examples/github-actions/deploy.yml')) as {
      jobs: Record<string, { needs?: string; permissions?: Record<string, string>; steps: Array<{ run?: string }> }>;
    };
    const deploy = workflow.jobs.deploy!;
    expect(deploy.needs).toBe('test');
    expect(workflow.jobs.test!.steps.map((s) => s.run)).toContain('npm test');
    expect(deploy.permissions).toMatchObject({ 'id-token': 'write' });
    const script = deploy.steps.map((s) => s.run ?? '').join('\n');
    expect(script).toContain(`audience=${loadEnvConfig({}).CI_OIDC_AUDIENCE}`);
    expect(script).toContain('/webhooks/ci');
    expect(script).toContain('Authorization: Bearer $oidc_token');
  });
});

describe('README.md', () => {
  const readme = () => read('README.md');
  const section = (heading: string) => {
    const text = readme();
    const start = text.indexOf(heading);
    if (start < 0) throw new Error(`README.md has no "${heading}"`);
    const next = text.slice(start + heading.length).search(/\n#{2,3} /);
    return text.slice(start, next < 0 ? undefined : start + heading.length + next);
  };
  const firstColumnNames = (text: string) => [...text.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!);

  it('names exactly the services docker-compose.yml runs', () => {
    expect(firstColumnNames(section('### Self-hosted: docker compose')).sort()).toEqual(Object.keys(compose().services).sort());
  });

  it('documents every environment variable lib/config.ts reads, and no other', () => {
    const table = section('### Environment variables');
    const documented = new Set([...table.matchAll(/^\|([^|]+)\|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((n) => n[1]!)));
    expect([...envSchemaVariables()].filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !envSchemaVariables().has(v))).toEqual([]);
  });

  it("has an apps file example that the real config schema accepts", () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(section('### The apps file'))![1]!;
    const config = parseAppsConfig(parseYaml(example), 'the README example');
    expect(Object.keys(config.apps)).toEqual(['shop']);
    expect(Object.keys(config.databases)).toEqual(['shop']);
  });

  it('links only to files and headings that exist', () => {
    const links = [...readme().matchAll(/\]\(([^)#\s]+)(?:#([^)]*))?\)/g)].filter((m) => !/^https?:/.test(m[1]!));
    expect(links.length).toBeGreaterThan(5);
    expect(links.map((m) => m[1]!).filter((file) => !exists(file))).toEqual([]);
    // GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes.
    const anchorsOf = (file: string) => [...read(file).matchAll(/^#+ (.+)$/gm)].map((h) => h[1]!.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-'));
    const missing = links.filter((m) => m[2] && !anchorsOf(m[1]!).includes(m[2])).map((m) => `${m[1]}#${m[2]}`);
    expect(missing).toEqual([]);
  });
});
