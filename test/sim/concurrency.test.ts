import { describe, expect, it } from 'vitest';
import { releasesOf, useSim } from './useSim.js';

describe('flyctl simulator under concurrent calls', () => {
  const fixture = useSim();

  it('applies ten parallel secrets set calls with gapless, unique release numbers', async () => {
    const { sim } = fixture;
    const app = await sim.createApp('concurrent-app', { machines: 1 });
    const names = Array.from({ length: 10 }, (_, index) => `SECRET_${index}`);

    const results = await Promise.all(names.map((name) => sim.run(['secrets', 'set', `${name}=value-${name}`, '-a', app.name])));

    expect(results.map((result) => result.exitCode)).toEqual(names.map(() => 0));
    const secrets = await sim.runJson<Array<{ name: string; status: string }>>(['secrets', 'list', '-a', app.name]);
    expect(secrets.map((secret) => secret.name)).toEqual([...names].sort());
    expect(secrets.every((secret) => secret.status === 'Deployed')).toBe(true);
    const releases = await releasesOf(sim, app.name);
    expect(releases.map((release) => release.Version)).toEqual(Array.from({ length: 11 }, (_, index) => 11 - index));
    expect(releases.every((release) => release.Status === 'complete' && release.ImageRef === app.imageRef)).toBe(true);
    const info = await (await fetch(`${app.appUrl}/__sim/info`)).json() as { envNames: string[]; releaseVersion: string };
    expect(info.envNames).toEqual(expect.arrayContaining(names));
    expect(info.releaseVersion).toBe('11');
  });

  it('stages secrets without a release when asked to', async () => {
    const { sim } = fixture;
    await sim.createApp('staged-app', { machines: 1 });

    const result = await sim.run(['secrets', 'set', 'API_KEY=abc', '--stage', '-a', 'staged-app']);

    expect(result.stdout).toBe('Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n');
    expect(await sim.runJson(['secrets', 'list', '-a', 'staged-app'])).toEqual([{ name: 'API_KEY', digest: expect.any(String), status: 'Staged' }]);
    expect(await releasesOf(sim, 'staged-app')).toHaveLength(1);
  });

  it('never leaks secret values or tokens into the call log', async () => {
    const { sim } = fixture;
    await sim.run(['secrets', 'set', 'PASSWORD=hunter2', '--stage', '-a', 'staged-app', '-t', 'tok-123']);

    const record = sim.callLog().at(-1);

    expect(record?.argv).toEqual(['secrets', 'set', 'PASSWORD=<redacted>', '--stage', '-a', 'staged-app', '-t', '<redacted>']);
  });
});
