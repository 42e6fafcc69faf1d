/**
 * Shared rate-limit counters: `GAIA_RATE_LIMIT_STORE=nats` keeps them in a JetStream
 * KV bucket, `redis` in Redis, so several gateway instances enforce one limit. When the store cannot be
 * reached the gateway falls back to local counters, logs once, and `/health` reports `degraded`.
 */

import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { RedisClient } from 'bun';
import type { Config } from '../../../src/config.ts';
import type { Logger } from '../../../src/log.ts';
import { type CounterStore, MemoryCounterStore } from './rate-limit.ts';

export interface SharedStore extends CounterStore {
  readonly kind: 'nats' | 'redis';
  health(): { status: 'healthy' | 'unhealthy'; kind: 'nats' | 'redis' };
  close(): Promise<void>;
}

/** KV keys allow `[-/_=.a-zA-Z0-9]`; bucket names like `ip:::1` are encoded. */
function kvKey(bucket: string, windowStart: number): string {
  return `${Buffer.from(bucket).toString('base64url')}.${windowStart}`;
}

/**
 * Wraps a remote store: any failure marks it down, logs once and counts locally until it answers again.
 */
class FallbackStore implements SharedStore {
  private readonly local = new MemoryCounterStore();
  private down = false;
  private retryAt = 0;

  constructor(
    readonly kind: 'nats' | 'redis',
    private readonly remote: {
      incr(key: string, windowMs: number): Promise<number>;
      peek(key: string): Promise<number>;
      close(): Promise<void>;
    },
    private readonly log: Logger,
  ) {}

  private fail(err: unknown): void {
    if (!this.down)
      this.log.warn('rate-limit store unreachable; counting locally', {
        store: this.kind,
        error: err instanceof Error ? err.message : String(err),
      });
    this.down = true;
    this.retryAt = Date.now() + 5000;
  }

  private usable(): boolean {
    return !this.down || Date.now() >= this.retryAt;
  }

  async incr(bucket: string, windowStart: number, windowMs: number): Promise<number> {
    if (this.usable()) {
      try {
        const n = await this.remote.incr(kvKey(bucket, windowStart), windowMs);
        if (this.down) this.log.info('rate-limit store reachable again', { store: this.kind });
        this.down = false;
        return n;
      } catch (err) {
        this.fail(err);
      }
    }
    return this.local.incr(bucket, windowStart, windowMs);
  }

  async peek(bucket: string, windowStart: number): Promise<number> {
    if (this.usable()) {
      try {
        return await this.remote.peek(kvKey(bucket, windowStart));
      } catch (err) {
        this.fail(err);
      }
    }
    return this.local.peek(bucket, windowStart);
  }

  health() {
    return { status: this.down ? ('unhealthy' as const) : ('healthy' as const), kind: this.kind };
  }

  close(): Promise<void> {
    return this.remote.close();
  }
}

const TIMEOUT_MS = 500;
function withTimeout<T>(p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('store timeout')), TIMEOUT_MS)),
  ]);
}

function natsRemote(config: Config, maxWindowMs: number) {
  let nc: NatsConnection | undefined;
  let kv: KV | undefined;
  let opening: Promise<KV> | undefined;
  const open = async (): Promise<KV> => {
    if (kv) return kv;
    opening ??= (async () => {
      // Loaded here, on the first use of a shared limit: a process without NATS never needs the client.
      const [{ connect }, { Kvm }] = await Promise.all([
        import('@nats-io/transport-node'),
        import('@nats-io/kv'),
      ]);
      nc = await connect({
        servers: config.nats.servers,
        name: 'gaia-gateway-ratelimit',
        user: config.nats.user,
        pass: config.nats.password,
        token: config.nats.token,
        maxReconnectAttempts: -1,
        timeout: 2000,
      });
      // Entries outlive their window only briefly; the bucket's max age cleans them up.
      const created = await new Kvm(nc).create('gaia_rate_limits', {
        ttl: Math.max(maxWindowMs * 2, 60_000),
      });
      kv = created;
      return created;
    })().catch((err) => {
      opening = undefined;
      throw err;
    });
    return opening;
  };
  return {
    async incr(key: string): Promise<number> {
      const store = await withTimeout(open());
      // Optimistic concurrency: create, or update at the revision read; retry when another gateway won.
      for (let attempt = 0; attempt < 20; attempt++) {
        const entry = await withTimeout(store.get(key));
        if (entry?.operation !== 'PUT') {
          try {
            await withTimeout(store.create(key, '1'));
            return 1;
          } catch {
            continue;
          }
        }
        const next = Number(entry.string()) + 1;
        try {
          await withTimeout(store.update(key, String(next), entry.revision));
          return next;
        } catch {
          // lost the race; read again
        }
      }
      throw new Error('rate-limit counter contention');
    },
    async peek(key: string): Promise<number> {
      const store = await withTimeout(open());
      const entry = await withTimeout(store.get(key));
      return entry && entry.operation === 'PUT' ? Number(entry.string()) : 0;
    },
    async close() {
      await nc?.drain().catch(() => {});
    },
  };
}

function redisRemote(url: string) {
  const client = new RedisClient(url, { autoReconnect: true, connectionTimeout: 2000 });
  return {
    async incr(key: string, windowMs: number): Promise<number> {
      const k = `gaia:rl:${key}`;
      const n = await withTimeout(client.incr(k));
      if (n === 1) await withTimeout(client.send('PEXPIRE', [k, String(windowMs * 2)]));
      return n;
    },
    async peek(key: string): Promise<number> {
      const v = await withTimeout(client.get(`gaia:rl:${key}`));
      return v ? Number(v) : 0;
    },
    async close() {
      client.close();
    },
  };
}

export function createSharedStore(config: Config, log: Logger): SharedStore | undefined {
  const g = config.gateway;
  const maxWindowMs = Math.max(g.rateLimit.windowMs, g.authRateLimit.windowMs, g.authFailureLimit.windowMs);
  if (g.rateLimitStore === 'nats') return new FallbackStore('nats', natsRemote(config, maxWindowMs), log);
  if (g.rateLimitStore === 'redis' && config.redisUrl)
    return new FallbackStore('redis', redisRemote(config.redisUrl), log);
  return undefined;
}
