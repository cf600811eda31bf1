import { describe, expect, it } from 'vitest';
import { decideGitHubEvent } from '../../api/githubEvents.js';
import { parseAppsConfig } from '../../lib/config.js';

const app = (repository: string) => ({ repository: '/srv/repo', github: { repository }, environments: { staging: { flyApp: 'fly-app', branch: 'main' } } });
const push = (fullName: string) => ({ ref: 'refs/heads/main', after: 'a'.repeat(40), deleted: false, repository: { full_name: fullName }, sender: { login: 'dana' } });

describe('GitHub events: repository to apps', () => {
  it('deploys every app of the pushed repository, however GitHub cases its name, in config order, and none of another repository', () => {
    const config = parseAppsConfig({ apps: { web: app('Acme/Shop'), other: app('acme/blog'), worker: app('acme/shop') } });
    const targetsOf = (fullName: string) => {
      const decision = decideGitHubEvent('push', push(fullName), config);
      return decision.kind === 'deploy' ? decision.targets.map((t) => t.app) : decision.kind;
    };
    expect(targetsOf('acme/SHOP')).toEqual(['web', 'worker']);
    expect(targetsOf('acme/blog')).toEqual(['other']);
    // Asked again of the same config (the API keeps one until the apps file changes): the same answer.
    expect(targetsOf('ACME/shop')).toEqual(['web', 'worker']);
    expect(targetsOf('acme/unknown')).toBe('ignored');
  });
});
