// Health's verdict in one activity: Flightdeck's own probe and every machine's checks, run at once.
// One activity completion wakes the workflow once; two activities side by side woke it twice, and
// each workflow task costs the stage 10-60 ms on a busy worker (issue 19.2).
import { PermanentError, permanentFailure } from '../lib/errors.js';
import type { MachineChecks } from './fly.js';
import { interruptedAttempt, withHeartbeat } from './heartbeat.js';
import { probeUntilHealthy, type HealthProbeInput, type HealthProbeProgress, type HealthProbeResult } from './http.js';

/** What the machine checks loop listens to: a stop (the probe failed, or the attempt ends) and its progress line. */
export interface CheckWatch {
  signal: AbortSignal;
  report(line: string): void;
}

export interface HealthVerdict {
  probe: HealthProbeResult;
  checks: MachineChecks;
}

/**
 * The probe and the machine checks at once; the first failure is the verdict and stops the other:
 * the probe's HealthCheckFailed, or `machine checks failing: …` (HealthCheckFailed too) when the
 * checks still fail at their deadline. The heartbeat carries the probe's streak, so an attempt lost
 * with its worker resumes it (the checks are simply read again). A worker shutdown or a cancel is
 * never a verdict: it ends the attempt as interruptedAttempt says, whichever part noticed first.
 */
export async function checkHealthAtOnce(probe: HealthProbeInput, readChecks: (watch: CheckWatch) => Promise<MachineChecks>): Promise<HealthVerdict> {
  return withHeartbeat<HealthVerdict, HealthProbeProgress>('health', async (progress) => {
    const stop = new AbortController();
    const onAbort = () => stop.abort(progress.signal.reason);
    progress.signal.addEventListener('abort', onAbort, { once: true });
    const watch = { report: progress.report, signal: stop.signal };
    const probing = probeUntilHealthy(probe, { ...progress, ...watch });
    const checking = readChecks(watch).then((checks) => {
      if (stop.signal.aborted) throw interruptedAttempt('the machine checks');
      if (!checks.isAllPassing) throw permanentFailure(PermanentError.HealthCheckFailed, `machine checks failing: ${checks.failing.join('; ')}`);
      return checks;
    });
    try {
      const [probed, checks] = await Promise.all([probing, checking]);
      return { probe: probed, checks };
    } catch (err) {
      stop.abort();
      // The other part stops at its next step; nothing of it outlives the attempt.
      await Promise.allSettled([probing, checking]);
      if (progress.signal.aborted) throw interruptedAttempt('the health check');
      throw err;
    } finally {
      progress.signal.removeEventListener('abort', onAbort);
    }
  });
}
