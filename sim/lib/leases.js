// @ts-check
// Machine leases, simplified to one lease per app: a deploy, a secrets restart or a scale holds it
// while it changes machines, and concurrent ones wait for it, as flyctl waits on a held lease. A
// lease whose holder process has died is free.
import { randomBytes } from 'node:crypto';
import { FlyError } from './errors.js';
import { isProcessAlive } from './processes.js';
import { pollUntil } from './time.js';

const LEASE_WAIT_LIMIT_MS = 120_000;
const WAITING_NOTICE_AFTER_MS = 2000;

/**
 * Waits for and takes the app's lease; returns its nonce.
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} appName
 * @returns {Promise<string>}
 */
export async function acquireAppLease(ctx, appName) {
  const nonce = randomBytes(8).toString('hex');
  const owner = ctx.readState().settings.user.email;
  const startedAt = Date.now();
  let hasNoticed = false;
  const isHeldByOther = (/** @type {import('./state.js').LeaseRecord | null | undefined} */ lease) => Boolean(lease && isProcessAlive(lease.pid));
  const outcome = await pollUntil(async () => {
    // Look without the lock first: waiters poll, and most polls find the lease still held.
    const isFree = !isHeldByOther(ctx.readState().apps[appName]?.lease);
    const isTaken = isFree && await ctx.updateState((state) => {
      const app = state.apps[appName];
      if (!app || isHeldByOther(app.lease)) return false;
      app.lease = { owner, pid: ctx.pid, nonce, acquiredAt: new Date().toISOString() };
      return true;
    });
    if (isTaken) return true;
    if (!hasNoticed && Date.now() - startedAt > WAITING_NOTICE_AFTER_MS) {
      hasNoticed = true;
      ctx.out(`Waiting on lease for app ${appName}...\n`);
    }
    return undefined;
  }, { timeoutMs: LEASE_WAIT_LIMIT_MS, intervalMs: 25 + Math.random() * 25, signal: ctx.signal });
  if ('timedOut' in outcome) {
    const holder = ctx.readState().apps[appName]?.lease?.owner ?? 'another process';
    throw new FlyError(`failed to acquire leases: lease currently held by ${holder}`);
  }
  return nonce;
}

/**
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} appName
 * @param {string} nonce
 */
export async function releaseAppLease(ctx, appName, nonce) {
  await ctx.updateState((state) => {
    const app = state.apps[appName];
    if (app?.lease?.nonce === nonce) app.lease = null;
  });
}

/**
 * Runs fn while holding the app's lease.
 * @template T
 * @param {import('./context.js').CommandContext} ctx
 * @param {string} appName
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withAppLease(ctx, appName, fn) {
  const nonce = await acquireAppLease(ctx, appName);
  try {
    return await fn();
  } finally {
    await releaseAppLease(ctx, appName, nonce);
  }
}
