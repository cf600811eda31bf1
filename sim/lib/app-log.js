// @ts-check
// The app's log stream (what `fly logs` shows): lines machine processes print and platform
// events, one JSON object per line in logs/<app>.jsonl. Small appends with O_APPEND do not
// interleave, so machine servers and flyctl calls write without the state lock.
import fs from 'node:fs';
import path from 'node:path';
import { simPaths } from './state.js';

/**
 * @typedef {{ timestamp: string, instance: string, region: string, level: string, message: string, provider: string }} AppLogLine
 */

/**
 * @param {string} dir
 * @param {string} appName
 * @param {Omit<AppLogLine, 'timestamp'>} line
 */
export function appendAppLog(dir, appName, line) {
  const { logsDir } = simPaths(dir);
  try {
    fs.mkdirSync(logsDir, { recursive: true });
    fs.appendFileSync(path.join(logsDir, `${appName}.jsonl`), `${JSON.stringify({ timestamp: new Date().toISOString(), ...line })}\n`);
  } catch {
    // The state directory is being removed (teardown): nothing left to log to.
  }
}

/**
 * @param {string} dir
 * @param {string} appName
 * @returns {AppLogLine[]}
 */
export function readAppLog(dir, appName) {
  try {
    const text = fs.readFileSync(path.join(simPaths(dir).logsDir, `${appName}.jsonl`), 'utf8');
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

/**
 * The shape of flyctl's logs.LogEntry, as `fly logs --json` prints it.
 * @param {AppLogLine} line
 */
export function renderLogEntry(line) {
  return {
    level: line.level,
    instance: line.instance,
    message: line.message,
    region: line.region,
    timestamp: line.timestamp,
    meta: {
      Instance: line.instance,
      Region: line.region,
      Event: { Provider: line.provider },
      HTTP: { Request: { ID: '', Method: '', Version: '' }, Response: { status_code: 0 } },
      Error: { Code: 0, Message: '' },
      URL: { Full: '' },
    },
  };
}
