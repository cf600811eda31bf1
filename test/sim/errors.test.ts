import { beforeAll, describe, expect, it } from 'vitest';
import type { SimApp } from '../../sim/testing.js';
import { machinesOf, releasesOf, useSim } from './useSim.js';

describe('flyctl simulator errors and exit codes', () => {
  const fixture = useSim();
  let app: SimApp;

  beforeAll(async () => {
    app = await fixture.sim.createApp('errors-app', { machines: 2 });
  });

  it('fails without an access token like flyctl', async () => {
    const result = await fixture.sim.run(['status', '-a', app.name], { env: { FLY_API_TOKEN: '', FLY_ACCESS_TOKEN: '' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("Error: no access token available. Please login with 'flyctl auth login'\n");
    expect(result.stdout).toBe('');
  });

  it('prefers -t over FLY_ACCESS_TOKEN over FLY_API_TOKEN', async () => {
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

  it('reports an unknown app the way each command does', async () => {
    const status = await fixture.sim.run(['status', '-a', 'no-such-app', '--json']);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toBe('Error: failed to get app: Could not find App "no-such-app"\n');

    const deploy = await fixture.sim.run(['deploy', '-a', 'no-such-app', '-i', app.imageRef, '--yes']);
    expect(deploy.exitCode).toBe(1);
    expect(deploy.stderr).toBe('Error: the app name no-such-app could not be found, did you create the app or misspell it in the fly.toml file or via -a?\n');

    const machines = await fixture.sim.run(['machine', 'list', '-a', 'no-such-app', '--json']);
    expect(machines.stderr).toMatch(/^Error: failed to list VMs: app not found \(Request ID: .+\)\n$/);
  });

  it('takes the app from FLY_APP, then from fly.toml', async () => {
    const viaEnv = await fixture.sim.run(['status', '--json'], { env: { FLY_APP: app.name } });
    const viaConfig = await fixture.sim.run(['status', '--json', '-c', app.sourceDir]);
    const withoutApp = await fixture.sim.run(['status', '--json']);
    expect([viaEnv.exitCode, viaConfig.exitCode]).toEqual([0, 0]);
    expect(withoutApp.stderr).toBe('Error: the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag\n');
  });

  it('fails a deploy whose machine never passes health, leaving the release failed', async () => {
    const unhealthy = fixture.sim.makeSourceDir('unhealthy', { app: 'errors-health' });
    await fixture.sim.createApp('errors-health', { machines: 1 });
    const [machine] = await machinesOf(fixture.sim, 'errors-health');

    const result = await fixture.sim.run(['deploy', unhealthy, '--wait-timeout', '1s', '--yes']);

    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`✖ Machine ${machine.id} [app] update failed: timeout reached waiting for health checks to pass for machine ${machine.id}: `);
    expect(result.stderr).toMatch(new RegExp(`^Error: timeout reached waiting for health checks to pass for machine ${machine.id}: .*context deadline exceeded\\n$`));
    expect((await releasesOf(fixture.sim, 'errors-health'))[0]).toMatchObject({ Version: 2, Status: 'failed', Stable: false });
  });

  it('aborts on a failed release_command before any machine changes', async () => {
    const before = await machinesOf(fixture.sim, app.name);
    const failingMigration = fixture.sim.makeSourceDir('release-fails', { app: app.name });

    const result = await fixture.sim.run(['deploy', failingMigration, '--yes']);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Running ${app.name} release_command: bin/migrate\n`);
    expect(result.stderr).toMatch(/Error release_command failed running on machine [0-9a-f]{14} with exit code 1\.\n/);
    expect(result.stderr).toContain('Error: migration 0042_add_index failed');
    expect(result.stderr).toMatch(/Error: release command failed - aborting deployment\. machine [0-9a-f]{14} exited with non-zero status of 1\n$/);
    const after = await machinesOf(fixture.sim, app.name);
    expect(after.map((machine) => [machine.id, machine.instance_id, machine.config.image])).toEqual(before.map((machine) => [machine.id, machine.instance_id, machine.config.image]));
    expect((await releasesOf(fixture.sim, app.name))[0]).toMatchObject({ Status: 'failed' });
  });

  it('fails a build whose source says so, without making a release', async () => {
    const broken = fixture.sim.makeSourceDir('build-fails', { app: app.name });
    const releasesBefore = await releasesOf(fixture.sim, app.name);

    const result = await fixture.sim.run(['deploy', broken, '--build-only', '--push']);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^Error: failed to fetch an image or build from source: error building: failed to solve: /);
    expect(await releasesOf(fixture.sim, app.name)).toEqual(releasesBefore);
  });

  it('cannot deploy an image the registry does not have', async () => {
    const result = await fixture.sim.run(['deploy', '-a', app.name, '-i', 'registry.fly.io/errors-app:never-built', '--yes']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('Error: failed to fetch an image or build from source: could not find image "registry.fly.io/errors-app:never-built"\n');
  });

  it('rejects an invalid --wait-timeout with flyctl\'s text', async () => {
    const result = await fixture.sim.run(['deploy', '-a', app.name, '-i', app.imageRef, '--wait-timeout', 'soon']);
    expect(result.stderr).toBe("Error: invalid duration value soon used for --wait-timeout flag: valid options are a number of seconds, number with time unit (i.e.: 5m, 180s) or 'none'\n");
  });

  it('requires --yes to scale when not interactive', async () => {
    const result = await fixture.sim.run(['scale', 'count', '3', '-a', app.name]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`App '${app.name}' is going to be scaled according to this plan:\n  +1 machines for group 'app' on region 'iad' of size 'shared-cpu-1x'\n`);
    expect(result.stderr).toBe('Error: --yes flag must be specified when not running interactively\n');
  });

  it('rejects unknown flags and commands like cobra', async () => {
    expect((await fixture.sim.run(['status', '--bogus'])).stderr).toBe('Error: unknown flag: --bogus\n');
    expect((await fixture.sim.run(['status', '-x'])).stderr).toBe("Error: unknown shorthand flag: 'x' in -x\n");
    expect((await fixture.sim.run(['teleport'])).stderr).toBe('Error: unknown command "teleport" for "flyctl"\n');
  });

  it('says what is missing when FLY_SIM_DIR is not set', async () => {
    const result = await fixture.sim.run(['status', '-a', app.name], { env: { FLY_SIM_DIR: '' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('FLY_SIM_DIR is not set');
  });

  // Last: it leaves the app with a crashed machine.
  it('reports a machine that crashes at start as failing its smoke checks', async () => {
    const crashing = fixture.sim.makeSourceDir('crash', { app: app.name });
    const [firstMachine] = await machinesOf(fixture.sim, app.name);

    const result = await fixture.sim.run(['deploy', crashing, '--yes']);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Error: smoke checks for ${firstMachine.id} failed: the app appears to be crashing\n`);
    expect((await machinesOf(fixture.sim, app.name))[0].state).toBe('stopped');
  });
});
