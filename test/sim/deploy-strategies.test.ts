import { describe, it } from 'vitest';
import { machinesOf, releasesOf, useSim } from './useSim.js';

/** Which image versions the app's router serves, over enough requests to reach every machine. */
async function versionsServed(appUrl: string, requests = 6): Promise<Set<string>> {
  const versions = new Set<string>();
  for (let i = 0; i < requests; i += 1) {
    const response = await fetch(`${appUrl}/`);
    versions.add(response.headers.get('x-sim-version') ?? '');
  }
  return versions;
}

// Each test deploys its own app, so they run concurrently.
describe.concurrent('flyctl simulator deploy strategies', () => {
  const fixture = useSim();

  it('leaves a mixed fleet when a rolling deploy fails health, and deploy -i of the previous image restores it', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('rolling-app', { machines: 2, image: { version: 'good' } });
    const previousImage = (await machinesOf(sim, app.name))[0].config.image;
    const broken = sim.makeSourceDir({ version: 'broken', health: 'fail' }, { app: app.name });

    const failed = await sim.run(['deploy', broken, '--wait-timeout', '1s', '--yes']);

    expect(failed.exitCode).toBe(1);
    const [first, second] = await machinesOf(sim, app.name);
    expect(first.config.image).not.toBe(previousImage);
    expect(first.config.metadata.fly_release_version).toBe('2');
    expect(second.config.image).toBe(previousImage);
    expect(second.config.metadata.fly_release_version).toBe('1');
    expect(await versionsServed(app.appUrl)).toEqual(new Set(['good', 'broken']));
    expect((await releasesOf(sim, app.name)).map((release) => [release.Version, release.Status])).toEqual([[2, 'failed'], [1, 'complete']]);

    const restored = await sim.run(['deploy', '-a', app.name, '-i', previousImage, '--yes']);

    expect(restored.exitCode).toBe(0);
    expect(restored.stderr).toContain(`Searching for image '${previousImage}' remotely...\n`);
    expect(restored.stdout).toContain(`Updating existing machines in '${app.name}' with rolling strategy\n`);
    expect(restored.stdout).toMatch(/✔ \[1\/2\] Machine [0-9a-f]{14} \[app\] update succeeded\n/);
    expect(restored.stdout).toContain(`Visit your newly deployed app at https://${app.name}.fly.dev/\n`);
    expect((await machinesOf(sim, app.name)).map((machine) => machine.config.image)).toEqual([previousImage, previousImage]);
    expect(await versionsServed(app.appUrl)).toEqual(new Set(['good']));
    expect((await releasesOf(sim, app.name))[0]).toMatchObject({ Version: 3, Status: 'complete', Stable: true, ImageRef: previousImage });
  });

  it('keeps the blue machines when a bluegreen deploy fails', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('bluegreen-app', { machines: 2, image: { version: 'blue' } });
    const blue = await machinesOf(sim, app.name);
    const green = sim.makeSourceDir({ version: 'green', health: 'fail' }, { app: app.name });

    const result = await sim.run(['deploy', green, '--strategy', 'bluegreen', '--wait-timeout', '1s', '--yes']);

    // The health wait's deadline stays in the error chain: 126, although green machines were made.
    expect(result.exitCode).toBe(126);
    expect(result.stderr).toContain('\nCreating green machines\n');
    expect(result.stderr).toContain('\nRolling back failed deployment\n');
    expect(result.stderr).toContain('Error: context deadline exceeded\ncould not get all green machines to be healthy\n');
    const after = await machinesOf(sim, app.name);
    expect(after.map((machine) => [machine.id, machine.instance_id, machine.config.image])).toEqual(blue.map((machine) => [machine.id, machine.instance_id, machine.config.image]));
    expect(await versionsServed(app.appUrl)).toEqual(new Set(['blue']));
    expect((await releasesOf(sim, app.name))[0]).toMatchObject({ Version: 2, Status: 'failed' });
  });

  it('replaces every machine with a green one when a bluegreen deploy succeeds', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('bluegreen-ok-app', { machines: 2, image: { version: 'blue' } });
    const blueIds = (await machinesOf(sim, app.name)).map((machine) => machine.id);

    const result = await sim.run(['deploy', sim.makeSourceDir({ version: 'green' }, { app: app.name }), '--strategy', 'bluegreen', '--yes']);

    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('\nDeployment Complete\n');
    const after = await machinesOf(sim, app.name);
    expect(after).toHaveLength(2);
    expect(after.some((machine) => blueIds.includes(machine.id))).toBe(false);
    expect(await versionsServed(app.appUrl)).toEqual(new Set(['green']));
  });

  it('prints the release as JSON when FLY_EMIT_RELEASE_JSON is set', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('emit-app', { machines: 1 });
    const next = sim.makeSourceDir({ version: 'next' }, { app: app.name });

    const result = await sim.run(['deploy', next, '--yes', '--image-label', 'v42'], { env: { FLY_EMIT_RELEASE_JSON: '1' } });

    expect(result.exitCode).toBe(0);
    const line = result.stdout.split('\n').find((candidate) => candidate.startsWith('{"id":'));
    const [release] = await releasesOf(sim, app.name);
    expect(JSON.parse(line ?? '{}')).toEqual({ id: release.ID, version: 2, image_ref: 'registry.fly.io/emit-app:v42' });
  });

  it('builds and pushes with --build-only --push without releasing, and deploys that image later', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('build-app', { machines: 1 });
    const source = sim.makeSourceDir({ version: 'prebuilt' }, { app: app.name });

    const build = await sim.run(['deploy', source, '--build-only', '--push', '--image-label', 'ci-123']);

    expect(build.exitCode).toBe(0);
    // Text blocks, the built image's ref among them, are on stderr (render.go → ErrOut).
    expect(build.stderr).toContain('image: registry.fly.io/build-app:ci-123\n');
    expect(build.stdout).not.toContain('image:');
    expect(await releasesOf(sim, app.name)).toHaveLength(1);

    const deploy = await sim.run(['deploy', '-a', app.name, '--image', 'registry.fly.io/build-app:ci-123', '--yes']);

    expect(deploy.exitCode).toBe(0);
    expect(await versionsServed(app.appUrl, 2)).toEqual(new Set(['prebuilt']));
    expect(sim.deployCount('registry.fly.io/build-app:ci-123')).toBe(1);
  });

  it('updates machines without waiting for health with --detach, and still completes the release', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('detach-app', { machines: 1 });

    const result = await sim.run(['deploy', sim.makeSourceDir('unhealthy', { app: app.name }), '--detach', '--yes']);

    expect(result.exitCode).toBe(0);
    expect((await releasesOf(sim, app.name))[0]).toMatchObject({ Version: 2, Status: 'complete' });
  });
});
