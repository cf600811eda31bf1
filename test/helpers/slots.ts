// Concurrent test rows that each start worker processes: at most `count` run at once, the others wait
// their turn (most of a fault row is waiting for a heartbeat timeout or a retry, but a worker's start
// is all a small machine can take several of at once).

/** Runs at most `count` functions at once; the others wait their turn. */
export function slots(count: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let free = count;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (free === 0) await new Promise<void>((resolve) => waiting.push(resolve));
    else free--;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
