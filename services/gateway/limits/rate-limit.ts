/**
 * Fixed-window rate limiting. Counters live in memory by default; a shared store
 * (NATS KV, Redis) can replace the local one behind the same interface. Bucket names never contain a raw
 * key or its hash: they are `key:<id>`, `user:<sub>` or `ip:<address>`.
 */
import type { RateLimit } from '../../../src/config.ts';

export interface Hit {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds when the window resets. */
  reset: number;
  /** Whole seconds to wait, ≥ 1, when not allowed. */
  retryAfter: number;
}

export interface CounterStore {
  /** Adds one to the bucket's counter in the current window and returns the new count. */
  incr(bucket: string, windowStart: number, windowMs: number): Promise<number> | number;
  peek(bucket: string, windowStart: number): Promise<number> | number;
}

export class MemoryCounterStore implements CounterStore {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private lastSweep = Date.now();

  incr(bucket: string, windowStart: number, windowMs: number): number {
    this.sweep(windowMs);
    const w = this.windows.get(bucket);
    if (!w || w.start !== windowStart) {
      this.windows.set(bucket, { start: windowStart, count: 1 });
      return 1;
    }
    w.count++;
    return w.count;
  }

  peek(bucket: string, windowStart: number): number {
    const w = this.windows.get(bucket);
    return w && w.start === windowStart ? w.count : 0;
  }

  /** Drops finished windows now and then, so memory stays bounded by active clients. */
  private sweep(windowMs: number): void {
    const now = Date.now();
    if (now - this.lastSweep < Math.max(windowMs, 10_000)) return;
    this.lastSweep = now;
    for (const [k, w] of this.windows) if (w.start + 86_400_000 < now) this.windows.delete(k);
    for (const [k, w] of this.windows) if (w.start + windowMs < now) this.windows.delete(k);
  }
}

export class RateLimiter {
  constructor(
    readonly rule: RateLimit,
    private readonly store: CounterStore = new MemoryCounterStore(),
    /** Distinguishes limiters sharing one store. */
    private readonly name = 'general',
  ) {}

  private window(now: number): { start: number; reset: number } {
    const start = Math.floor(now / this.rule.windowMs) * this.rule.windowMs;
    return { start, reset: Math.ceil((start + this.rule.windowMs) / 1000) };
  }

  private result(count: number, now: number): Hit {
    const { reset } = this.window(now);
    const allowed = count <= this.rule.limit;
    return {
      allowed,
      limit: this.rule.limit,
      remaining: Math.max(0, this.rule.limit - count),
      reset,
      retryAfter: Math.max(1, Math.ceil(reset - now / 1000)),
    };
  }

  /** Synchronous with the in-memory store: this runs on every request, so no promise when none is needed. */
  hit(bucket: string): Hit | Promise<Hit> {
    const now = Date.now();
    const count = this.store.incr(`${this.name}:${bucket}`, this.window(now).start, this.rule.windowMs);
    return typeof count === 'number' ? this.result(count, now) : count.then((c) => this.result(c, now));
  }

  /** Reads without counting (the failure limit is checked before it is known whether a request fails). */
  async check(bucket: string): Promise<Hit> {
    const now = Date.now();
    const count = await this.store.peek(`${this.name}:${bucket}`, this.window(now).start);
    const h = this.result(count, now);
    return { ...h, allowed: count < this.rule.limit };
  }
}

export function rateLimitHeaders(h: Hit): Record<string, string> {
  const out: Record<string, string> = {
    'x-ratelimit-limit': String(h.limit),
    'x-ratelimit-remaining': String(h.remaining),
    'x-ratelimit-reset': String(h.reset),
  };
  if (!h.allowed) out['retry-after'] = String(h.retryAfter);
  return out;
}

/** Open streams per identity (GAIA_MAX_CONCURRENT_STREAMS). */
export class StreamCounter {
  private readonly open = new Map<string, number>();
  constructor(readonly max: number) {}

  tryAcquire(bucket: string): boolean {
    const n = this.open.get(bucket) ?? 0;
    if (n >= this.max) return false;
    this.open.set(bucket, n + 1);
    return true;
  }

  release(bucket: string): void {
    const n = (this.open.get(bucket) ?? 1) - 1;
    if (n <= 0) this.open.delete(bucket);
    else this.open.set(bucket, n);
  }
}
