/**
 * Aggregated health: every service's `/health` concurrently with a per-check
 * timeout, the database with `SELECT 1`, and the bus. Always answers; never reveals URLs or secrets.
 */
import type { Db } from '../../../db/index.ts';
import type { Bus } from '../../../src/bus/types.ts';
import type { Config, ServiceName } from '../../../src/config.ts';
import { type ServiceClients, unavailableReason } from '../../../src/http/client.ts';

type ServiceHealth =
  | { status: 'healthy' | 'unhealthy'; response_time: number }
  | { status: 'unhealthy'; error: string };

export interface HealthBody {
  status: 'healthy' | 'degraded' | 'unhealthy';
  timestamp: string;
  version: string;
  services: Record<ServiceName, ServiceHealth>;
  database: {
    status: 'healthy' | 'unhealthy';
    database: 'sqlite' | 'postgresql';
    responsive: boolean;
    error?: string;
  };
  nats: { status: 'healthy' | 'unhealthy'; connected: boolean; mode: 'memory' | 'nats' };
  rate_limit_store?: { status: 'healthy' | 'unhealthy'; kind: 'nats' | 'redis' };
}

const SERVICES: ServiceName[] = ['auth', 'asset', 'chat', 'kb'];

/** A short, URL-free reason: connection errors often quote the address they tried. */
function reason(err: unknown, timeoutMs: number): string {
  const why = unavailableReason(err);
  if (why === 'timeout') return `timeout after ${timeoutMs} ms`;
  return why ?? 'unreachable';
}

export interface HealthDeps {
  config: Config;
  db: Db;
  bus: Bus;
  clients: ServiceClients;
  isReady: () => boolean;
  storeHealth?: () => { status: 'healthy' | 'unhealthy'; kind: 'nats' | 'redis' } | undefined;
}

export class HealthService {
  constructor(private readonly deps: HealthDeps) {}

  private async service(name: ServiceName): Promise<ServiceHealth> {
    const client = this.deps.clients[name];
    const timeoutMs = this.deps.config.gateway.healthTimeoutMs;
    if (!client) return { status: 'unhealthy', error: 'service not deployed' };
    const t0 = performance.now();
    try {
      const res = await client.fetch('/health', { timeoutMs });
      const secs = Number(((performance.now() - t0) / 1000).toFixed(4));
      let healthy = false;
      if (res.status === 200) {
        const body = (await res.json().catch(() => null)) as { status?: unknown } | null;
        healthy = body?.status === 'healthy';
      } else await res.body?.cancel();
      return { status: healthy ? 'healthy' : 'unhealthy', response_time: secs };
    } catch (err) {
      return { status: 'unhealthy', error: reason(err, timeoutMs) };
    }
  }

  private async database(): Promise<HealthBody['database']> {
    const kind = this.deps.db.kind;
    const timeoutMs = this.deps.config.gateway.healthTimeoutMs;
    try {
      await Promise.race([
        this.deps.db.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs)),
      ]);
      return { status: 'healthy', database: kind, responsive: true };
    } catch (err) {
      const msg = err instanceof Error ? err.message : '';
      const why = /timeout/i.test(msg)
        ? `timeout after ${timeoutMs} ms`
        : /refused|ECONNREFUSED|connect/i.test(msg)
          ? 'connection refused'
          : 'query failed';
      return { status: 'unhealthy', database: kind, responsive: false, error: why };
    }
  }

  async check(): Promise<{ body: HealthBody }> {
    const [services, database] = await Promise.all([
      Promise.all(SERVICES.map(async (s) => [s, await this.service(s)] as const)),
      this.database(),
    ]);
    const bus = this.deps.bus.health();
    const store = this.deps.storeHealth?.();
    const svc = Object.fromEntries(services) as Record<ServiceName, ServiceHealth>;
    let status: HealthBody['status'] = 'healthy';
    if (database.status !== 'healthy') status = 'unhealthy';
    else if (
      Object.values(svc).some((s) => s.status !== 'healthy') ||
      bus.status !== 'healthy' ||
      (store && store.status !== 'healthy')
    )
      status = 'degraded';
    const body: HealthBody = {
      status,
      timestamp: new Date().toISOString(),
      version: this.deps.config.version,
      services: svc,
      database,
      nats: { status: bus.status, connected: bus.connected, mode: bus.mode },
    };
    if (store) body.rate_limit_store = store;
    return { body };
  }
}
