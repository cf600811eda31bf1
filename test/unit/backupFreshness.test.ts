// The freshness alarm's threshold and verdict (pure): derived from the backup schedule unless configured.
import { describe, expect, it } from 'vitest';
import { assessFreshness, describeFreshness } from '../../lib/backupFreshness.js';
import { staleAfterMs } from '../../lib/backupFreshnessThreshold.js';
import { parseAppsConfig } from '../../lib/config.js';

const HOUR_MS = 3_600_000;
const NOW = new Date('2026-12-01T12:00:00Z');

function databaseWith(settings: Record<string, unknown>) {
  return parseAppsConfig({ databases: { orders: { secret: 'ORDERS_DATABASE_URL', ...settings } } }).databases.orders!;
}

describe('backup freshness threshold', () => {
  it('is 26 hours for a nightly schedule', () => {
    expect(staleAfterMs(databaseWith({}), NOW)).toBe(26 * HOUR_MS);
  });

  it('follows the longest gap of the schedule: weekdays only wait over the weekend', () => {
    expect(staleAfterMs(databaseWith({ schedule: '0 2 * * 1-5' }), NOW)).toBe(74 * HOUR_MS);
  });

  it('counts the 25-hour night when the clocks go back in the schedule\'s time zone', () => {
    expect(staleAfterMs(databaseWith({ schedule: '30 2 * * *', timezone: 'Europe/Paris' }), NOW)).toBe(27 * HOUR_MS);
  });

  it('is the configured staleAfter when there is one', () => {
    expect(staleAfterMs(databaseWith({ freshness: { staleAfter: '8h' } }), NOW)).toBe(8 * HOUR_MS);
  });

  it('refuses a schedule it cannot read unless staleAfter is set', () => {
    expect(() => databaseWith({ schedule: '@every 6h' })).toThrow(/set freshness.staleAfter, e.g. 26h/);
    expect(databaseWith({ schedule: '@every 6h', freshness: { staleAfter: '8h' } }).freshness.staleAfter).toBe('8h');
  });
});

describe('backup freshness verdict', () => {
  const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * HOUR_MS).toISOString();

  it('judges the newest verified backup, not the newest backup', () => {
    const freshness = assessFreshness({
      database: 'orders', staleAfterMs: 26 * HOUR_MS, now: NOW,
      backups: [{ backupId: 'b-failed', createdAt: at(1), status: 'failed' }, { backupId: 'b-ok', createdAt: at(30), status: 'verified' }],
    });
    expect(freshness).toMatchObject({ isStale: true, ageMs: 30 * HOUR_MS, lastVerified: { backupId: 'b-ok' }, newest: { backupId: 'b-failed' } });
    expect(describeFreshness(freshness)).toBe('OVERDUE: the newest verified backup, b-ok, is 30 h old (alarm after 26 h); the newest attempt, b-failed, is failed');
  });

  it('gives a database without a verified backup the threshold from when watching began', () => {
    expect(assessFreshness({ database: 'orders', staleAfterMs: 26 * HOUR_MS, now: NOW, backups: [], since: at(2) }).isStale).toBe(false);
    expect(assessFreshness({ database: 'orders', staleAfterMs: 26 * HOUR_MS, now: NOW, backups: [], since: at(27) }).isStale).toBe(true);
    expect(describeFreshness(assessFreshness({ database: 'orders', staleAfterMs: 26 * HOUR_MS, now: NOW, backups: [] }))).toBe('OVERDUE: no verified backup (alarm after 26 h)');
  });
});
