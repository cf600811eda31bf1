// @ts-check
// A bounded worker pool that stops taking new work after the first failure, like the conc pools
// flyctl updates machines with (WithCancelOnError): items not yet started are reported as skipped.

/**
 * @template T
 * @param {T[]} items
 * @param {number} size
 * @param {(item: T, index: number) => Promise<void>} work
 * @param {(item: T, index: number) => void} [onSkipped]
 */
export async function runPool(items, size, work, onSkipped = () => {}) {
  /** @type {unknown} */
  let firstError;
  let hasFailed = false;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      if (hasFailed) {
        onSkipped(items[index], index);
        continue;
      }
      try {
        await work(items[index], index);
      } catch (err) {
        if (!hasFailed) firstError = err;
        hasFailed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
  if (hasFailed) throw firstError;
}
