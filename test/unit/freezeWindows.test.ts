import { describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { checkFreeze, DeployFrozenError } from '../../lib/deployFreeze.js';
import { activeFreeze } from '../../lib/freezeWindows.js';

const weekend = { reason: 'weekend', from: 'Fri 16:00', to: 'Mon 08:00', timeZone: 'Europe/Paris' };
const at = (iso: string) => Date.parse(iso);

describe('freeze windows', () => {
  it('freezes a weekly window in its own time zone, across the end of the week, until its end', () => {
    // Paris is UTC+1 in December: Friday 16:00 Paris is 15:00Z, Monday 08:00 Paris is 07:00Z.
    expect(activeFreeze([weekend], [], at('2026-12-04T14:59:00Z'))).toBeUndefined();
    expect(activeFreeze([weekend], [], at('2026-12-04T15:00:00Z'))).toEqual({ reason: 'weekend', until: '2026-12-07T07:00:00.000Z', breakGlass: [] });
    expect(activeFreeze([weekend], [], at('2026-12-06T23:30:00Z'))?.until).toBe('2026-12-07T07:00:00.000Z');
    expect(activeFreeze([weekend], [], at('2026-12-07T07:00:00Z'))).toBeUndefined();
    expect(activeFreeze([weekend], [], at('2026-12-02T12:00:00Z'))).toBeUndefined();
  });

  it('freezes a one-off window between its two instants only', () => {
    const blackFriday = { reason: 'Black Friday', from: '2026-11-27T00:00:00+01:00', to: '2026-11-30T08:00:00+01:00' };
    expect(activeFreeze([blackFriday], [], at('2026-11-26T22:59:59Z'))).toBeUndefined();
    expect(activeFreeze([blackFriday], ['U1'], at('2026-11-28T12:00:00Z'))).toEqual({ reason: 'Black Friday', until: '2026-11-30T07:00:00.000Z', breakGlass: ['U1'] });
    expect(activeFreeze([blackFriday], [], at('2026-11-30T07:00:00Z'))).toBeUndefined();
  });

  it('refuses a deploy during a freeze with when and why, and lets only a named person break the glass', () => {
    const env = { freezes: [weekend], breakGlass: ['U_ONCALL'] };
    const saturday = at('2026-12-05T12:00:00Z');
    expect(() => checkFreeze('shop', 'production', env, undefined, 'U_ONCALL', saturday))
      .toThrow(new DeployFrozenError('Deploys of shop to production are frozen until 2026-12-07T07:00:00.000Z: weekend. Rollbacks still run; only U_ONCALL may break the glass (--break-glass "<reason>").'));
    expect(() => checkFreeze('shop', 'production', env, { reason: 'hotfix' }, 'U_MALLORY', saturday)).toThrow(/U_MALLORY is not on that list/);
    expect(checkFreeze('shop', 'production', env, { reason: 'payment outage hotfix' }, 'U_ONCALL', saturday)).toBe('through the freeze (weekend, until 2026-12-07T07:00:00.000Z): payment outage hotfix');
    expect(checkFreeze('shop', 'production', env, undefined, undefined, at('2026-12-02T12:00:00Z'))).toBeUndefined();
  });

  it('refuses a malformed freeze in the config, saying what is expected', () => {
    const withFreezes = (freezes: unknown[]) => () => parseAppsConfig({ apps: { shop: { repository: '/srv/shop', environments: { production: { flyApp: 'shop', freezes } } } } });
    expect(withFreezes([{ reason: 'w', from: 'Friday 16:00', to: 'Mon 08:00' }])).toThrow(/weekly \("Fri 16:00" to "Mon 08:00", with timeZone\) or one-off/);
    expect(withFreezes([{ reason: 'w', from: 'Fri 16:00', to: 'Mon 08:00', timeZone: 'Mars/Olympus' }])).toThrow(/weekly|IANA time zone/);
    expect(withFreezes([{ reason: 'x', from: '2026-11-30T08:00:00+01:00', to: '2026-11-27T00:00:00+01:00' }])).toThrow(/weekly|to must be after from/);
    expect(parseAppsConfig({ apps: { shop: { repository: '/srv/shop', environments: { production: { flyApp: 'shop', freezes: [{ reason: 'w', from: 'Fri 16:00', to: 'Mon 08:00' }] } } } } })
      .apps.shop!.environments.production!.freezes).toEqual([{ reason: 'w', from: 'Fri 16:00', to: 'Mon 08:00', timeZone: 'UTC' }]);
  });
});
