// Machine counts per region, as `fly scale show` reports them and `flightdeck start` restores them.
// Pure and workflow-safe.

export function totalMachines(regions: Record<string, number>): number {
  return Object.values(regions).reduce((sum, count) => sum + count, 0);
}

/** "ams 1, iad 2" (sorted), or "no machines". */
export function describeRegions(regions: Record<string, number>): string {
  const entries = Object.entries(regions).filter(([, count]) => count > 0).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([region, count]) => `${region} ${count}`).join(', ') : 'no machines';
}
