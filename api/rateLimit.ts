// A token bucket per source IP: bursts up to `burst` requests, refilled at `perMinute`. Small enough
// to own instead of a dependency; uses the injected clock so tests do not wait.
export interface RateLimitVerdict {
  isAllowed: boolean;
  /** Seconds until one request will be allowed again (only when refused). */
  retryAfterSeconds: number;
}

interface Bucket { tokens: number; updatedAtMs: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillPerMs: number;

  constructor(private readonly perMinute: number, private readonly burst: number, private readonly now: () => number, private readonly maxTrackedSources = 10_000) {
    this.refillPerMs = perMinute / 60_000;
  }

  take(source: string): RateLimitVerdict {
    const nowMs = this.now();
    const bucket = this.refill(this.buckets.get(source) ?? { tokens: this.burst, updatedAtMs: nowMs }, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.remember(source, bucket);
      return { isAllowed: true, retryAfterSeconds: 0 };
    }
    this.remember(source, bucket);
    return { isAllowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.refillPerMs / 1000)) };
  }

  private refill(bucket: Bucket, nowMs: number): Bucket {
    const elapsedMs = Math.max(0, nowMs - bucket.updatedAtMs);
    return { tokens: Math.min(this.burst, bucket.tokens + elapsedMs * this.refillPerMs), updatedAtMs: nowMs };
  }

  private remember(source: string, bucket: Bucket): void {
    this.buckets.set(source, bucket);
    if (this.buckets.size > this.maxTrackedSources) this.forgetFullBuckets();
  }

  // A full bucket carries no information: dropping it bounds memory under many distinct sources.
  private forgetFullBuckets(): void {
    const nowMs = this.now();
    for (const [source, bucket] of this.buckets) {
      if (this.refill(bucket, nowMs).tokens >= this.burst) this.buckets.delete(source);
    }
  }
}
