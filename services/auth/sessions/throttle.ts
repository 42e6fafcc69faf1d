/**
 * Login failures per (client address, email): 5 failures within
 * 15 minutes lock that pair until the window ends, while the same address can still sign in to other
 * accounts and other addresses to this one. Counters are per instance, like the gateway's default store.
 */
import { LRUCache } from 'lru-cache';
import { describeRateLimit, type RateLimit } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';

export const LOGIN_FAILURE_LIMIT: RateLimit = { limit: 5, period: 'minute', windowMs: 15 * 60_000 };

interface Window {
  count: number;
  resetAt: number;
}

export class LoginThrottle {
  private readonly windows = new LRUCache<string, Window>({ max: 100_000 });

  constructor(private readonly rule: RateLimit = LOGIN_FAILURE_LIMIT) {}

  private key(ip: string, email: string): string {
    return `${ip}\n${email}`;
  }

  /** Throws 429 while the pair is locked. */
  check(ip: string, email: string, now = Date.now()): void {
    const w = this.windows.get(this.key(ip, email));
    if (!w || w.resetAt <= now || w.count < this.rule.limit) return;
    const resetS = Math.ceil(w.resetAt / 1000);
    throw new HttpError(429, `Rate limit exceeded: ${describeRateLimit(this.rule)}`, {
      headers: {
        'retry-after': String(Math.max(1, Math.ceil((w.resetAt - now) / 1000))),
        'x-ratelimit-limit': String(this.rule.limit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(resetS),
      },
    });
  }

  fail(ip: string, email: string, now = Date.now()): void {
    const k = this.key(ip, email);
    const w = this.windows.get(k);
    if (!w || w.resetAt <= now) this.windows.set(k, { count: 1, resetAt: now + this.rule.windowMs });
    else w.count++;
  }

  succeed(ip: string, email: string): void {
    this.windows.delete(this.key(ip, email));
  }
}
