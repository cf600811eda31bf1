import { beforeAll, describe, expect, it } from 'vitest';
import type { SimApp } from '../../sim/testing.js';
import { parseConcatenatedJson, useSim, type MachineJson } from './useSim.js';

const RELEASE_KEYS = ['ID', 'Version', 'Stable', 'InProgress', 'Reason', 'Description', 'Status', 'DeploymentStrategy', 'Metadata', 'User', 'EvaluationID', 'CreatedAt', 'ImageRef'];
const MACHINE_KEYS = ['id', 'name', 'state', 'region', 'image_ref', 'instance_id', 'private_ip', 'created_at', 'updated_at', 'config', 'events', 'checks', 'host_status', 'cordoned'];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('flyctl simulator JSON output', () => {
  const fixture = useSim();
  let app: SimApp;

  beforeAll(async () => {
    app = await fixture.sim.createApp('shapes-app', { machines: 2 });
    await fixture.sim.runOrThrow(['secrets', 'set', 'DATABASE_URL=postgres://u:p@db/app', '-a', app.name]);
  });

  it('prints JSON like render.JSON: four-space indent and a trailing newline', async () => {
    const { stdout } = await fixture.sim.runOrThrow(['releases', '-a', app.name, '--json']);
    expect(stdout.startsWith('[\n    {\n        "ID": ')).toBe(true);
    expect(stdout.endsWith(']\n')).toBe(true);
  });

  it('lists releases as fly-go Release objects, newest first', async () => {
    const releases = await fixture.sim.runJson<Array<Record<string, unknown>>>(['releases', '-a', app.name]);
    expect(releases.map((release) => release.Version)).toEqual([2, 1]);
    for (const release of releases) {
      expect(Object.keys(release)).toEqual(RELEASE_KEYS);
      expect(Object.keys(release.User as object)).toEqual(['ID', 'Name', 'Email', 'EnablePaidHobby']);
      expect(release).toMatchObject({ Stable: true, InProgress: false, Status: 'complete', DeploymentStrategy: '', Metadata: null, EvaluationID: '', ImageRef: app.imageRef });
      expect(release.CreatedAt).toMatch(RFC3339);
    }
  });

  it('answers the same for apps releases as for releases', async () => {
    const viaApps = await fixture.sim.runJson(['apps', 'releases', '-a', app.name]);
    expect(viaApps).toEqual(await fixture.sim.runJson(['releases', '-a', app.name]));
  });

  it('gives tests the same releases and machine images in-process as flyctl prints them', async () => {
    expect(fixture.sim.releases(app.name)).toEqual(await fixture.sim.runJson(['releases', '-a', app.name]));
    const machines = await fixture.sim.runJson<MachineJson[]>(['machine', 'list', '-a', app.name]);
    expect(fixture.sim.machineImages(app.name)).toEqual(machines.map((m) => m.config.image));
    expect(() => fixture.sim.releases('no-such-app')).toThrow('the simulator has no app no-such-app');
  });

  it('renders status with sorted keys, the router as AppURL and machines newest id first', async () => {
    const status = await fixture.sim.runJson<{ Organization: object; Machines: MachineJson[] }>(['status', '-a', app.name]);
    expect(Object.keys(status)).toEqual(['AppURL', 'Deployed', 'Hostname', 'ID', 'Machines', 'Name', 'Organization', 'PlatformVersion', 'Status', 'Version']);
    expect(status).toMatchObject({ AppURL: app.appUrl, Deployed: true, Hostname: 'shapes-app.fly.dev', ID: 'shapes-app', Name: 'shapes-app', PlatformVersion: 'machines', Status: 'deployed', Version: 2 });
    expect(Object.keys(status.Organization)).toEqual(['ID', 'InternalNumericID', 'Name', 'Slug', 'RawSlug', 'PaidPlan']);
    const ids = status.Machines.map((machine) => machine.id);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it('lists machines in the Machines API shape with release metadata and live checks', async () => {
    const machines = await fixture.sim.runJson<Array<MachineJson & { events: object[] }>>(['machine', 'list', '-a', app.name]);
    expect(machines).toHaveLength(2);
    for (const machine of machines) {
      expect(Object.keys(machine)).toEqual(MACHINE_KEYS);
      expect(machine.id).toMatch(/^[0-9a-f]{14}$/);
      expect(machine).toMatchObject({ state: 'started', region: 'iad', host_status: 'ok', cordoned: false });
      expect(machine.image_ref).toMatchObject({ registry: 'registry.fly.io', repository: 'shapes-app' });
      expect(`${machine.image_ref.registry}/${machine.image_ref.repository}:${machine.image_ref.tag}`).toBe(app.imageRef);
      expect(machine.config.image).toBe(app.imageRef);
      expect(machine.config.metadata).toMatchObject({ fly_platform_version: 'v2', fly_process_group: 'app', fly_release_version: '2' });
      expect(machine.checks).toEqual([{ name: 'servicecheck-00-http-8080', status: 'passing', output: 'OK', updated_at: expect.stringMatching(RFC3339) }]);
      for (const event of machine.events) expect(Object.keys(event)).toEqual(['type', 'status', 'source', 'timestamp']);
    }
  });

  it('accepts the machines and m aliases of machine list', async () => {
    const viaAlias = await fixture.sim.runJson<Array<{ id: string }>>(['m', 'ls', '-a', app.name]);
    const viaMachines = await fixture.sim.runJson<Array<{ id: string }>>(['machines', 'list', '-a', app.name]);
    expect(viaAlias.map((machine) => machine.id)).toEqual(viaMachines.map((machine) => machine.id));
  });

  it('maps machine ids to their checks in checks list', async () => {
    const checks = await fixture.sim.runJson<Record<string, unknown[]>>(['checks', 'list', '-a', app.name]);
    const machines = await fixture.sim.runJson<Array<{ id: string }>>(['machine', 'list', '-a', app.name]);
    expect(Object.keys(checks).sort()).toEqual(machines.map((machine) => machine.id).sort());
    for (const statuses of Object.values(checks)) {
      expect(statuses).toEqual([{ name: 'servicecheck-00-http-8080', status: 'passing', output: 'OK', updated_at: expect.stringMatching(RFC3339) }]);
    }
  });

  it('lists secrets as name, digest and deployment status', async () => {
    const secrets = await fixture.sim.runJson(['secrets', 'list', '-a', app.name]);
    expect(secrets).toEqual([{ name: 'DATABASE_URL', digest: expect.stringMatching(/^[0-9a-f]{16}$/), status: 'Deployed' }]);
  });

  it('shows scale per process group', async () => {
    const scale = await fixture.sim.runJson(['scale', 'show', '-a', app.name]);
    expect(scale).toEqual([{ Process: 'app', Count: 2, CPUKind: 'shared', CPUs: 1, Memory: 256, Regions: { iad: 2 } }]);
  });

  it('shows each machine image as all-string fields', async () => {
    const images = await fixture.sim.runJson<Array<Record<string, string>>>(['image', 'show', '-a', app.name]);
    expect(images).toHaveLength(2);
    for (const image of images) {
      expect(Object.keys(image)).toEqual(['MachineID', 'Registry', 'Repository', 'Tag', 'Version', 'Digest', 'Labels']);
      expect(Object.values(image).every((value) => typeof value === 'string')).toBe(true);
      expect(image).toMatchObject({ Registry: 'registry.fly.io', Repository: 'shapes-app', Version: 'N/A' });
    }
  });

  it('prints version as one JSON line without needing a token', async () => {
    const { stdout, exitCode } = await fixture.sim.run(['version', '--json'], { env: { FLY_API_TOKEN: '' } });
    expect(exitCode).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(Object.keys(JSON.parse(stdout))).toEqual(['Name', 'Version', 'Commit', 'BranchName', 'BuildDate', 'OS', 'Architecture', 'Environment']);
    expect(JSON.parse(stdout)).toMatchObject({ Name: 'flyctl', Version: '0.4.87' });
  });

  it('answers whoami with the email only', async () => {
    expect(await fixture.sim.runJson(['auth', 'whoami'])).toEqual({ email: 'sim@flightdeck.test' });
  });

  it('lists apps as fly-go App objects', async () => {
    const apps = await fixture.sim.runJson<Array<{ Name: string }>>(['apps', 'list']);
    const listed = apps.find((candidate) => candidate.Name === app.name);
    expect(listed).toMatchObject({ ID: app.name, Status: 'deployed', Deployed: true, Hostname: 'shapes-app.fly.dev', Organization: { Slug: 'personal' }, CurrentRelease: { Status: 'complete' } });
  });

  it('prints logs as concatenated pretty-printed objects, not NDJSON', async () => {
    const { stdout } = await fixture.sim.runOrThrow(['logs', '--no-tail', '--json', '-a', app.name]);
    expect(stdout.startsWith('{\n    "level": ')).toBe(true);
    const entries = parseConcatenatedJson(stdout) as Array<{ message: string; meta: object }>;
    expect(entries.length).toBeGreaterThan(0);
    expect(Object.keys(entries[0])).toEqual(['level', 'instance', 'message', 'region', 'timestamp', 'meta']);
    expect(Object.keys(entries[0].meta)).toEqual(['Instance', 'Region', 'Event', 'HTTP', 'Error', 'URL']);
    expect(entries.some((entry) => String(entry.message).startsWith('Listening on'))).toBe(true);
  });
});
