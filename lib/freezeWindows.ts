// Freeze windows: scheduled deploy locks per environment ("no deploys Friday 16:00 → Monday 08:00
// Paris time", "none during Black Friday"). A frozen environment refuses deploys, at the edge (API,
// Slack, CLI) and again when the pipeline starts; rollbacks and incident runbooks are never frozen.
// Named people may break the glass: their deploy runs, audit-logged and announced in Slack.
// Pure (the pipeline imports it): the clock is an argument. The config's schema is in lib/config.ts.

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MINUTES_PER_WEEK = 7 * 24 * 60;
/** "Fri 16:00": a weekday and a 24-hour time, in the window's time zone. */
export const WEEKLY_TIME = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) ([01]\d|2[0-3]):([0-5]\d)$/;

/** Every week from `from` to `to` (wall-clock in timeZone); `to` before `from` wraps over the week's end. */
export interface WeeklyFreeze { reason: string; from: string; to: string; timeZone: string }
/** Once, between two instants (ISO with offsets). */
export interface OneOffFreeze { reason: string; from: string; to: string }
export type FreezeWindow = WeeklyFreeze | OneOffFreeze;

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The freeze in force: why, and until when (ISO time). */
export interface ActiveFreeze {
  reason: string;
  until: string;
  /** Who may deploy anyway (break-glass): Slack user ids, cli:<user>, token:<name>. */
  breakGlass: string[];
}

export function activeFreeze(windows: FreezeWindow[], breakGlass: string[], nowMs: number): ActiveFreeze | undefined {
  for (const window of windows) {
    const until = 'timeZone' in window ? weeklyFreezeEnd(window, nowMs) : oneOffFreezeEnd(window, nowMs);
    if (until !== undefined) return { reason: window.reason, until: new Date(until).toISOString(), breakGlass };
  }
  return undefined;
}

/** May this identity deploy through the freeze? */
export function mayBreakGlass(freeze: ActiveFreeze, identity: string | undefined): boolean {
  return identity !== undefined && freeze.breakGlass.includes(identity);
}

export function describeFreeze(app: string, environment: string, freeze: ActiveFreeze): string {
  const who = freeze.breakGlass.length > 0 ? `only ${freeze.breakGlass.join(', ')} may break the glass (--break-glass "<reason>")` : 'nobody may break the glass (set breakGlass)';
  return `Deploys of ${app} to ${environment} are frozen until ${freeze.until}: ${freeze.reason}. Rollbacks still run; ${who}.`;
}

function oneOffFreezeEnd(window: { from: string; to: string }, nowMs: number): number | undefined {
  const from = Date.parse(window.from), to = Date.parse(window.to);
  return nowMs >= from && nowMs < to ? to : undefined;
}

/** When the weekly window holding `now` ends, or undefined outside it. Wall-clock minutes in its zone. */
function weeklyFreezeEnd(window: { from: string; to: string; timeZone: string }, nowMs: number): number | undefined {
  const now = minuteOfWeek(nowMs, window.timeZone);
  const from = parseWeeklyTime(window.from), to = parseWeeklyTime(window.to);
  const sinceStart = (now - from + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  const length = (to - from + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  if (sinceStart >= length) return undefined;
  const minutesLeft = length - sinceStart;
  return Math.floor(nowMs / 60_000) * 60_000 + minutesLeft * 60_000;
}

function parseWeeklyTime(text: string): number {
  const [, day, hour, minute] = WEEKLY_TIME.exec(text)!;
  return WEEKDAYS.indexOf(day as (typeof WEEKDAYS)[number]) * 1440 + Number(hour) * 60 + Number(minute);
}

function minuteOfWeek(nowMs: number, timeZone: string): number {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(nowMs)).map((p) => [p.type, p.value]));
  return WEEKDAYS.indexOf(parts.weekday as (typeof WEEKDAYS)[number]) * 1440 + Number(parts.hour) * 60 + Number(parts.minute);
}
