// @ts-check
import { Interrupted } from './errors.js';

/**
 * Resolves after ms (never, for Infinity), or rejects with Interrupted when the signal aborts.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Interrupted());
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    const keepAlive = Number.isFinite(ms) ? undefined : setInterval(() => {}, 1 << 30);
    const onAbort = () => { clear(); reject(new Interrupted()); };
    signal?.addEventListener('abort', onAbort, { once: true });
    function clear() {
      if (timer) clearTimeout(timer);
      if (keepAlive) clearInterval(keepAlive);
      signal?.removeEventListener('abort', onAbort);
    }
    function done() { clear(); resolve(); }
  });
}

/**
 * Polls check() until it returns a value other than undefined, or until the deadline.
 * @template T
 * @param {() => Promise<T | undefined> | T | undefined} check
 * @param {{ timeoutMs: number, intervalMs?: number, signal?: AbortSignal }} options timeoutMs may be Infinity
 * @returns {Promise<{ value: T } | { timedOut: true }>}
 */
export async function pollUntil(check, { timeoutMs, intervalMs = 50, signal }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return { value };
    if (Date.now() >= deadline) return { timedOut: true };
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())), signal);
  }
}

/** RFC 3339 with whole seconds, as the GraphQL API renders timestamps. */
export function rfc3339Seconds(date = new Date()) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
