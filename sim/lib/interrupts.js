// @ts-check
/* global AbortController */
// SIGINT/SIGTERM cancel the running command: flyctl prints nothing and exits 127. Installed before
// the rest of the simulator loads, so an early signal is handled the same way.
import { EXIT_INTERRUPTED } from './errors.js';

// flyctl gives in-flight work a moment to record an interruption before it is forced to stop.
const INTERRUPT_GRACE_MS = 1500;

/** @returns {AbortSignal} aborted on SIGINT or SIGTERM */
export function installInterruptHandlers() {
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) return;
    abort.abort();
    setTimeout(() => process.exit(EXIT_INTERRUPTED), INTERRUPT_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return abort.signal;
}
