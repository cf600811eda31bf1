import { beforeAll, describe, it } from 'vitest';
import type { SimApp } from '../../sim/testing.js';
import { errorFrom, machinesOf, releasesOf, useSim } from './useSim.js';

// One simulator for the file; a test that changes an app's machines or releases uses its own app,
// so the tests run concurrently.
const fixture = useSim();
let app: SimApp;

beforeAll(async () => {
  app = await fixture.sim.createApp('errors-app', { machines: 2 });
});

describe.concurrent('flyctl simulator errors and exit codes', () => {
  it('fails without an access token like flyctl', async ({ expect }) => {
    const result = await fixture.sim.run(['status', '-a', app.name], { env: { FLY_API_TOKEN: '', FLY_ACCESS_TOKEN: '' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("Error: no access token available. Please login with 'flyctl auth login'\n");
    expect(result.stdout).toBe('');
  });

  it('reports an unknown app the way each command does', async ({ expect }) => {
    const status = await fixture.sim.run(['status', '-a', 'no-such-app', '--json']);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toBe('Error: failed to get app: Could not find App "no-such-app"\n');

    const deploy = await fixture.sim.run(['deploy', '-a', 'no-such-app', '-i', app.imageRef, '--yes']);
    expect(deploy.exitCode).toBe(1);
    expect(errorFrom(deploy.stderr)).toBe('Error: the app name no-such-app could not be found, did you create the app or misspell it in the fly.toml file or via -a?\n');

    const machines = await fixture.sim.run(['machine', 'list', '-a', 'no-such-app', '--json']);
    expect(machines.stderr).toMatch(/^Error: failed to list VMs: app not found \(Request ID: .+\)\n$/);
  });

  it('takes the app from FLY_APP, then from fly.toml', async ({ expect }) => {
    const viaEnv = await fixture.sim.run(['status', '--json'], { env: { FLY_APP: app.name } });
    const viaConfig = await fixture.sim.run(['status', '--json', '-c', app.sourceDir]);
    const withoutApp = await fixture.sim.run(['status', '--json']);
    expect([viaEnv.exitCode, viaConfig.exitCode]).toEqual([0, 0]);
    expect(withoutApp.stderr).toBe('Error: the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag\n');
  });

  it('fails a deploy whose machine never passes health, leaving the release failed', async ({ expect }) => {
    await fixture.sim.createApp('errors-health', { machines: 1 });
    const [machine] = await machinesOf(fixture.sim, 'errors-health');

    const result = await fixture.sim.run(['deploy', fixture.sim.makeSourceDir('unhealthy', { app: 'errors-health' }), '--wait-timeout', '1s', '--yes']);

    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`✖ Machine ${machine.id} [app] update failed: timeout reached waiting for health checks to pass for machine ${machine.id}: `);
    expect(errorFrom(result.stderr)).toMatch(new RegExp(`^Error: timeout reached waiting for health checks to pass for machine ${machine.id}: .*context deadline exceeded\\n$`));
    expect((await releasesOf(fixture.sim, 'errors-health'))[0]).toMatchObject({ Version: 2, Status: 'failed', Stable: false });
  });

  it('aborts on a failed release_command before any machine changes', async ({ expect }) => {
    const before = await machinesOf(fixture.sim, app.name);

    const result = await fixture.sim.run(['deploy', fixture.sim.makeSourceDir('release-fails', { app: app.name }), '--yes']);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Running ${app.name} release_command: bin/migrate\n`);
    expect(result.stderr).toMatch(/Error release_command failed running on machine [0-9a-f]{14} with exit code 1\.\n/);
    expect(result.stderr).toContain('Error: migration 0042_add_index failed');
    expect(result.stderr).toMatch(/Error: release command failed - aborting deployment\. machine [0-9a-f]{14} exited with non-zero status of 1\n$/);
    const after = await machinesOf(fixture.sim, app.name);
    expect(after.map((machine) => [machine.id, machine.instance_id, machine.config.image])).toEqual(before.map((machine) => [machine.id, machine.instance_id, machine.config.image]));
    expect((await releasesOf(fixture.sim, app.name))[0]).toMatchObject({ Status: 'failed' });
  });

  it('reports a machine that crashes at start as failing its smoke checks', async ({ expect }) => {
    await fixture.sim.createApp('errors-crash', { machines: 1 });
    const [machine] = await machinesOf(fixture.sim, 'errors-crash');

    const result = await fixture.sim.run(['deploy', fixture.sim.makeSourceDir('crash', { app: 'errors-crash' }), '--yes']);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Error: smoke checks for ${machine.id} failed: the app appears to be crashing\n`);
    expect((await machinesOf(fixture.sim, 'errors-crash'))[0].state).toBe('stopped');
  });

  it("exits 1, not 126, when the release_command outlives --release-command-timeout (flyctl rewords the wait's timeout)", async ({ expect }) => {
    await fixture.sim.createApp('errors-slow-migration', { machines: 0 });
    const slowMigration = fixture.sim.makeSourceDir({ releaseCommand: { durationMs: 60_000 } }, { app: 'errors-slow-migration' });

    const result = await fixture.sim.run(['deploy', slowMigration, '--release-command-timeout', '300ms', '--yes']);

    expect(result.exitCode).toBe(1);
    expect(errorFrom(result.stderr)).toMatch(/^Error: release command failed - aborting deployment\. error waiting for release_command machine [0-9a-f]{14} to finish running: timeout reached waiting for machine's state to change\nYour machine never reached the state "destroyed"\./);
  });

  it('fails a build whose source says so, without making a release', async ({ expect }) => {
    await fixture.sim.createApp('errors-build', { machines: 0 });

    const result = await fixture.sim.run(['deploy', fixture.sim.makeSourceDir('build-fails', { app: 'errors-build' }), '--build-only', '--push']);

    expect(result.exitCode).toBe(1);
    expect(errorFrom(result.stderr)).toMatch(/^Error: failed to fetch an image or build from source: error building: failed to solve: /);
    expect(await releasesOf(fixture.sim, 'errors-build')).toEqual([]);
  });

  it('cannot deploy an image the registry does not have', async ({ expect }) => {
    const result = await fixture.sim.run(['deploy', '-a', app.name, '-i', 'registry.fly.io/errors-app:never-built', '--yes']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Searching for image 'registry.fly.io/errors-app:never-built' remotely...\n");
    expect(errorFrom(result.stderr)).toBe('Error: failed to fetch an image or build from source: could not find image "registry.fly.io/errors-app:never-built"\n');
  });

  it("rejects an invalid --wait-timeout with flyctl's text", async ({ expect }) => {
    const result = await fixture.sim.run(['deploy', '-a', app.name, '-i', app.imageRef, '--wait-timeout', 'soon']);
    expect(errorFrom(result.stderr)).toBe("Error: invalid duration value soon used for --wait-timeout flag: valid options are a number of seconds, number with time unit (i.e.: 5m, 180s) or 'none'\n");
  });

  it('requires --yes to scale when not interactive', async ({ expect }) => {
    const result = await fixture.sim.run(['scale', 'count', '3', '-a', app.name]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`App '${app.name}' is going to be scaled according to this plan:\n  +1 machines for group 'app' on region 'iad' of size 'shared-cpu-1x'\n`);
    expect(result.stderr).toBe('Error: --yes flag must be specified when not running interactively\n');
  });

  it('rejects unknown flags and commands like cobra', async ({ expect }) => {
    expect((await fixture.sim.run(['status', '--bogus'])).stderr).toBe('Error: unknown flag: --bogus\n');
    expect((await fixture.sim.run(['status', '-x'])).stderr).toBe("Error: unknown shorthand flag: 'x' in -x\n");
    expect((await fixture.sim.run(['teleport'])).stderr).toBe('Error: unknown command "teleport" for "flyctl"\n');
  });

  it('says what is missing when FLY_SIM_DIR is not set', async ({ expect }) => {
    const result = await fixture.sim.run(['status', '-a', app.name], { env: { FLY_SIM_DIR: '' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('FLY_SIM_DIR is not set');
  });
});

// Not concurrent: these change settings of the whole simulator.
describe('flyctl simulator settings', () => {
  it('prefers -t over FLY_ACCESS_TOKEN over FLY_API_TOKEN', async ({ expect }) => {
    await fixture.sim.configure({ validTokens: ['good'] });
    try {
      const viaFlag = await fixture.sim.run(['status', '-a', app.name, '-t', 'good'], { env: { FLY_ACCESS_TOKEN: 'bad', FLY_API_TOKEN: 'bad' } });
      const viaAccessToken = await fixture.sim.run(['status', '-a', app.name], { env: { FLY_ACCESS_TOKEN: 'good', FLY_API_TOKEN: 'bad' } });
      const viaApiToken = await fixture.sim.run(['status', '-a', app.name], { env: { FLY_ACCESS_TOKEN: '', FLY_API_TOKEN: 'bad' } });
      expect([viaFlag.exitCode, viaAccessToken.exitCode, viaApiToken.exitCode]).toEqual([0, 0, 1]);
      expect(viaApiToken.stderr).toBe('Error: You must be authenticated to view this.\n');
    } finally {
      await fixture.sim.configure({ validTokens: null });
    }
  });

  it('caps --wait-timeout when a test asks it to', async ({ expect }) => {
    await fixture.sim.configure({ maxWaitTimeoutMs: 500 });
    try {
      const startedAt = Date.now();
      const result = await fixture.sim.run(['deploy', fixture.sim.makeSourceDir('unhealthy', { app: 'errors-health' }), '--yes']);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain('timeout reached waiting for health checks to pass');
      expect(Date.now() - startedAt).toBeLessThan(60_000);
    } finally {
      await fixture.sim.configure({ maxWaitTimeoutMs: null });
    }
  });
});
