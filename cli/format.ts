// Plain-text formatting for terminals: durations, times and aligned tables.
import type { RunStatus, StageStatus } from '../lib/messages.js';
import { formatDuration } from '../lib/units.js';

/** "2026-11-22 14:03:07Z": sortable, unambiguous, short. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const render = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return [render(header), ...rows.map(render)].join('\n');
}

const STAGE_MARK: Record<StageStatus['state'], string> = { pending: ' ', running: '…', succeeded: '✓', failed: '✗', skipped: '-' };

/** One line per stage: "✓ test  2.1s  3 passed". */
export function formatStageLine(stage: StageStatus, isRunFinished = false): string {
  const duration = stage.state !== 'running' && stage.durationMs !== undefined ? formatDuration(stage.durationMs) : '';
  // A finished run's pending stages were never reached; "pending" would suggest they still may run.
  const state = stage.state === 'running' ? 'started' : stage.state === 'pending' && isRunFinished ? 'not run' : stage.state;
  return [`${STAGE_MARK[stage.state]} ${stage.name}`, state, duration, stage.detail ?? ''].filter(Boolean).join('  ');
}

/** What the run is about: "deploy shop/production", "backup orders". */
export function describeRun(status: Pick<RunStatus, 'kind' | 'app' | 'environment' | 'database'>): string {
  const subject = status.app ? [status.app, status.environment].filter(Boolean).join('/') : status.database ?? '';
  return `${status.kind} ${subject}`.trim();
}

/** The last line of a followed run: its state and, when known, why. */
export function formatOutcome(status: RunStatus): string {
  const elapsed = status.finishedAt ? ` in ${formatDuration(Date.parse(status.finishedAt) - Date.parse(status.startedAt))}` : '';
  return `${describeRun(status)} ${status.state}${elapsed}${status.outcome ? `: ${status.outcome}` : ''}`;
}
