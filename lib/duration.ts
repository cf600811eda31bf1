// Duration strings as config and Temporal use them (90s, 5m, 1h30m, 500ms). Pure: workflow-safe.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationToMs(value: string): number {
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return total;
}

const GO_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go duration (time.ParseDuration: 300ms, 1.5h, 2h45m; no `d`) in milliseconds, or undefined when
 * it is not one. flyctl's duration flags also take a bare number of seconds.
 */
export function goDurationToMs(value: string, { allowBareSeconds = false } = {}): number | undefined {
  if (value === '0') return 0;
  if (allowBareSeconds && /^\d+$/.test(value)) return Number(value) * 1000;
  let total = 0;
  let consumed = 0;
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy)) {
    total += Number(match[1]) * GO_UNIT_MS[match[2]!]!;
    consumed += match[0].length;
  }
  return consumed > 0 && consumed === value.length ? total : undefined;
}
