// What the incident runbook reads in an app's recent logs: the lines a person would grep for
// (`fly logs -n 50 | grep -i "error\|fatal\|panic"`), counted, with a few samples. Pure and workflow-safe.

/** The fields of `fly logs --json` the runbook uses (activities/fly.ts FlyLogLine). */
export interface LogLine { timestamp: string; level: string; instance: string; message: string }

const ERROR_PATTERN = /\b(error|fatal|panic)\b/i;
const MAX_SAMPLES = 5;
const MAX_SAMPLE_LENGTH = 200;

/** Lines at level error/fatal, or whose message says error, fatal or panic; the newest few as samples. */
export function errorLogLines(lines: LogLine[]): { count: number; samples: string[] } {
  const matching = lines.filter((line) => ERROR_PATTERN.test(line.level) || ERROR_PATTERN.test(line.message));
  const samples = matching.slice(-MAX_SAMPLES).map((line) => `${line.timestamp} ${line.instance} [${line.level}] ${line.message}`.slice(0, MAX_SAMPLE_LENGTH));
  return { count: matching.length, samples };
}
