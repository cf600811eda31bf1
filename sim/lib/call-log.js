// @ts-check
// Every flyctl call, appended to calls.jsonl in the state directory: argv with tokens and secret
// values redacted, the command, timing, exit code and (for deploys) the image that was deployed.
import fs from 'node:fs';
import { simPaths } from './state.js';

const REDACTED = '<redacted>';
const TOKEN_FLAGS = new Set(['-t', '--access-token']);

/**
 * @typedef {{ at: string, command: string, argv: string[], exitCode: number, durationMs: number, pid: number } & Record<string, unknown>} CallRecord
 */

/**
 * @param {string} dir
 * @param {CallRecord} record
 */
export function appendCallRecord(dir, record) {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(simPaths(dir).callLog, `${JSON.stringify(record)}\n`);
  } catch {
    // Teardown removed the directory while this call ran.
  }
}

/**
 * @param {string} dir
 * @returns {CallRecord[]}
 */
export function readCallRecords(dir) {
  try {
    return fs.readFileSync(simPaths(dir).callLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

/**
 * Access tokens and secret values never reach the log.
 * @param {string[]} argv
 * @param {string} command
 */
export function redactArgv(argv, command) {
  const isSecretsSet = command === 'secrets set';
  return argv.map((token, index) => {
    if (index > 0 && TOKEN_FLAGS.has(argv[index - 1])) return REDACTED;
    if (token.startsWith('--access-token=')) return `--access-token=${REDACTED}`;
    if (token.startsWith('-t') && token.length > 2 && !token.startsWith('--')) return `-t${REDACTED}`;
    if (isSecretsSet && /^[A-Za-z_][A-Za-z0-9_]*=/.test(token)) return `${token.slice(0, token.indexOf('='))}=${REDACTED}`;
    return token;
  });
}
