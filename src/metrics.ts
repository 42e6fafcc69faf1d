/**
 * Prometheus metrics of one Gaia process. One registry per process: in all-in-one mode every service lives in
 * it (a `service` label tells them apart), in split mode each service process has its own. Nothing here is
 * public by default: `/metrics` answers only a bearer `GAIA_METRICS_TOKEN`, or on a separate port
 * (`GAIA_METRICS_PORT`, loopback unless `GAIA_METRICS_HOST` says otherwise) that is never exposed with the API.
 */
import { timingSafeEqual } from 'node:crypto';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type Config, Reader } from './config.ts';

export interface MetricsConfig {
  /** Bearer token that opens `/metrics` on the API ports; unset keeps it closed there. */
  token?: string;
  /** A separate listener for `/metrics` only (no token), for scrapers inside the network. */
  port?: number;
  host: string;
}

export function readMetricsConfig(config: Pick<Config, 'source'>): MetricsConfig {
  const r = new Reader(config.source);
  const port = r.int('GAIA_METRICS_PORT', 0, 0, 65_535);
  return {
    token: r.secret('GAIA_METRICS_TOKEN'),
    port: port === 0 ? undefined : port,
    host: r.strOr('GAIA_METRICS_HOST', '127.0.0.1'),
  };
}

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'gaia_' });

/** Seconds; chat turns and asset generations reach minutes, health checks are sub-millisecond. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * HTTP requests are counted on every request of every service (twice per request in all-in-one mode: the
 * gateway's record and the service's), so they skip prom-client's per-call label hashing: each series is
 * found by one string key and updated in place, and the exposition is built from those figures at scrape
 * time. The output is what a prom-client counter and histogram with the same names would print.
 */
interface HttpSeries {
  labels: { service: string; method: string; route: string; status: string };
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  buckets: Float64Array;
}

/** Series are few (route templates × methods × statuses); a hostile mix of statuses cannot grow them past this. */
const MAX_HTTP_SERIES = 10_000;

class HttpMetrics {
  private readonly series = new Map<string, HttpSeries>();

  constructor(private readonly bounds: readonly number[]) {}

  observe(service: string, method: string, route: string, status: number, seconds: number): void {
    const key = `${service} ${method} ${route} ${status}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= MAX_HTTP_SERIES) return;
      s = {
        labels: { service, method, route, status: String(status) },
        count: 0,
        sum: 0,
        buckets: new Float64Array(this.bounds.length + 1),
      };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    s.buckets[i]!++;
  }

  reset(): void {
    this.series.clear();
  }

  /** The counter, as prom-client's registry reads a metric. */
  readonly requests = {
    name: 'gaia_http_requests_total',
    help: 'HTTP requests answered, by service, method, route template and status',
    type: 'counter',
    aggregator: 'sum',
    get: () => ({
      name: this.requests.name,
      help: this.requests.help,
      type: this.requests.type,
      aggregator: 'sum',
      values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.count })),
    }),
  };

  /** The histogram: cumulative `_bucket` lines up to `+Inf`, then `_sum` and `_count`, per series. */
  readonly duration = {
    name: 'gaia_http_request_duration_seconds',
    help: 'Time to the response headers (streams: to their start), by service, method, route template and status',
    type: 'histogram',
    aggregator: 'sum',
    get: () => {
      const name = this.duration.name;
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> =
        [];
      for (const s of this.series.values()) {
        let acc = 0;
        for (let i = 0; i <= this.bounds.length; i++) {
          acc += s.buckets[i]!;
          const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
          values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: acc });
        }
        values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
        values.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
      }
      return { name, help: this.duration.help, type: this.duration.type, aggregator: 'sum', values };
    },
  };
}

export const httpMetrics = new HttpMetrics(LATENCY_BUCKETS);
// prom-client's registry prints any object with a name, help, type and get(); these two are ours.
registry.registerMetric(httpMetrics.requests as unknown as Parameters<Registry['registerMetric']>[0]);
registry.registerMetric(httpMetrics.duration as unknown as Parameters<Registry['registerMetric']>[0]);

export const openStreams = new Gauge({
  name: 'gaia_open_streams',
  help: 'Server-sent event streams relayed by the gateway right now',
  registers: [registry],
});

export const rateLimitRejections = new Counter({
  name: 'gaia_rate_limit_rejections_total',
  help: 'Requests refused with 429, by limit',
  labelNames: ['limit'] as const,
  registers: [registry],
});

export const llmTimeToFirstToken = new Histogram({
  name: 'gaia_llm_time_to_first_token_seconds',
  help: 'From the provider call to its first streamed token, by provider and model',
  labelNames: ['provider', 'model'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
  registers: [registry],
});

export const llmTokensPerSecond = new Histogram({
  name: 'gaia_llm_tokens_per_second',
  help: 'Output tokens per second after the first token, by provider and model',
  labelNames: ['provider', 'model'] as const,
  buckets: [1, 5, 10, 20, 40, 80, 160, 320, 640],
  registers: [registry],
});

export const llmTokens = new Counter({
  name: 'gaia_llm_tokens_total',
  help: 'Tokens sent to and received from language models, by provider, model and direction',
  labelNames: ['provider', 'model', 'direction'] as const,
  registers: [registry],
});

export const llmCost = new Counter({
  name: 'gaia_llm_cost_usd_total',
  help: 'What language model calls cost, in US dollars, by provider and model',
  labelNames: ['provider', 'model'] as const,
  registers: [registry],
});

export const busConnected = new Gauge({
  name: 'gaia_bus_connected',
  help: '1 while the message bus is connected (always 1 for the in-process bus)',
  labelNames: ['mode'] as const,
  registers: [registry],
});

export const busBufferedBytes = new Gauge({
  name: 'gaia_bus_publish_buffer_bytes',
  help: 'Bytes of publishes held while NATS is unreachable, to be sent on reconnect',
  registers: [registry],
});

export const dbUnavailable = new Counter({
  name: 'gaia_db_unavailable_total',
  help: 'Requests answered 503 because the database was out of reach (refused, timed out, connection lost), by service',
  labelNames: ['service'] as const,
  registers: [registry],
});

export const dbPoolSize = new Gauge({
  name: 'gaia_db_pool_size',
  help: 'Connections the database pool may open (DATABASE_POOL_MAX on PostgreSQL; 1 for SQLite)',
  registers: [registry],
});

export const dbInFlight = new Gauge({
  name: 'gaia_db_queries_in_flight',
  help: 'Statements and transactions started and not yet answered, the wait for a connection included; above the pool size, requests are queueing for connections',
  registers: [registry],
});

export const dbQueryErrors = new Counter({
  name: 'gaia_db_query_errors_total',
  help: 'Statements that failed, by kind: unavailable (refused, timed out, connection lost) or other (constraint violations and the like)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const assetGenerations = new Counter({
  name: 'gaia_asset_generations_total',
  help: 'Asset generations finished, by provider, category and outcome',
  labelNames: ['provider', 'category', 'outcome'] as const,
  registers: [registry],
});

export const assetCost = new Counter({
  name: 'gaia_asset_cost_usd_total',
  help: 'What asset generations cost, in US dollars, by provider',
  labelNames: ['provider'] as const,
  registers: [registry],
});

export const kbDocuments = new Gauge({
  name: 'gaia_kb_documents',
  help: 'Markdown documents in the knowledge base search index',
  registers: [registry],
});

export const kbSyncs = new Counter({
  name: 'gaia_kb_syncs_total',
  help: 'Knowledge base Git syncs, by kind (pull, push) and outcome',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

/**
 * Reads gauges whose truth lives elsewhere (the bus, the KB index) at scrape time. Keyed, so the newest
 * bus or index of the process is the one reported (tests start many stacks in one process).
 */
const probes = new Map<string, () => void>();
export function onScrape(key: string, probe: () => void): void {
  probes.set(key, probe);
}

/** Reports the bus's connection and reconnect buffer on every scrape. */
export function trackBus(bus: {
  health(): { mode: string; connected: boolean; bufferedBytes?: number };
}): void {
  onScrape('bus', () => {
    const h = bus.health();
    busConnected.reset();
    busConnected.set({ mode: h.mode }, h.connected ? 1 : 0);
    busBufferedBytes.set(h.bufferedBytes ?? 0);
  });
}

/** Reports the database pool on every scrape: its size, what is in flight, and failed statements. */
export function trackDb(db: {
  stats(): { poolSize: number; inFlight: number; errors: { unavailable: number; other: number } };
}): void {
  // The pool counts errors since it opened; the counter moves by what is new since the last scrape.
  const seen = { unavailable: 0, other: 0 };
  onScrape('db', () => {
    const s = db.stats();
    dbPoolSize.set(s.poolSize);
    dbInFlight.set(s.inFlight);
    for (const kind of ['unavailable', 'other'] as const) {
      const delta = s.errors[kind] - seen[kind];
      if (delta > 0) dbQueryErrors.inc({ kind }, delta);
      seen[kind] = s.errors[kind];
    }
  });
}

export async function exposition(): Promise<string> {
  for (const probe of probes.values()) {
    try {
      probe();
    } catch {
      // A probe of something already closed reports nothing rather than failing the scrape.
    }
  }
  return registry.metrics();
}

/**
 * Maps request paths to the route templates they matched, so labels stay few (`/api/v1/conversations/:id`,
 * not one series per conversation). Exact paths are a map lookup; the rest are tried in registration order.
 */
export class RouteTemplates {
  private readonly exact = new Map<string, string>();
  private readonly patterns: Array<{ method: string; re: RegExp; path: string }> = [];

  constructor(routes: Array<{ method: string; path: string }>) {
    for (const r of routes) {
      const method = r.method.toUpperCase();
      if (!r.path.includes(':') && !r.path.includes('*')) {
        this.exact.set(`${method} ${r.path}`, r.path);
        continue;
      }
      const re = new RegExp(
        `^${r.path
          .split('/')
          .map((seg) =>
            seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('/')}$`,
      );
      this.patterns.push({ method, re, path: r.path });
    }
  }

  match(method: string, path: string): string {
    const m = method === 'HEAD' ? 'GET' : method;
    const hit = this.exact.get(`${m} ${path}`) ?? this.exact.get(`ALL ${path}`);
    if (hit) return hit;
    for (const p of this.patterns)
      if ((p.method === m || p.method === 'ALL') && p.re.test(path)) return p.path;
    // Unknown paths share one label, so probing random URLs cannot grow the series without bound.
    return 'unmatched';
  }
}

/** An Elysia app's routes as plain method/path pairs. */
export function routesOf(app: { routes: ReadonlyArray<{ method: string; path: string }> }) {
  return app.routes.map((r) => ({ method: r.method, path: r.path }));
}

export function observeHttp(
  service: string,
  method: string,
  route: string,
  status: number,
  seconds: number,
): void {
  httpMetrics.observe(service, method, route, status, seconds);
}

/** Wraps a service's request handler so every answer is counted and timed under its route template. */
export function instrumentHandler(
  service: string,
  routes: Array<{ method: string; path: string }>,
  handle: (request: Request) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  const templates = new RouteTemplates(routes);
  return async (request) => {
    const started = performance.now();
    let status = 500;
    try {
      const res = await handle(request);
      status = res.status;
      return res;
    } finally {
      const url = request.url;
      const start = url.indexOf('/', url.indexOf('//') + 2);
      const q = url.indexOf('?', start);
      const path = start < 0 ? '/' : q < 0 ? url.slice(start) : url.slice(start, q);
      observeHttp(
        service,
        request.method,
        templates.match(request.method, path),
        status,
        (performance.now() - started) / 1000,
      );
    }
  };
}

const tokenMatches = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * `/metrics` on an API port: 404 (as if absent) without a configured token, 401 with a wrong one, the
 * exposition with the right one. The token is compared in constant time and never logged.
 */
export async function metricsOnApiPort(request: Request, cfg: MetricsConfig): Promise<Response> {
  if (!cfg.token)
    return new Response(JSON.stringify({ detail: 'Not Found' }), {
      status: 404,
      headers: { 'content-type': 'application/json' },
    });
  const m = /^bearer[ \t]+(.+)$/i.exec(request.headers.get('authorization') ?? '');
  if (!m || !tokenMatches(m[1]!.trim(), cfg.token))
    return new Response(JSON.stringify({ detail: 'Not authenticated' }), {
      status: 401,
      headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
    });
  return new Response(await exposition(), { headers: { 'content-type': registry.contentType } });
}

/** The separate metrics listener, when GAIA_METRICS_PORT is set. */
export function listenMetrics(cfg: MetricsConfig): { stop(): void; port: number } | null {
  if (cfg.port === undefined) return null;
  const server = Bun.serve({
    port: cfg.port,
    hostname: cfg.host,
    async fetch(request) {
      if (new URL(request.url).pathname !== '/metrics') return new Response('Not Found', { status: 404 });
      return new Response(await exposition(), { headers: { 'content-type': registry.contentType } });
    },
  });
  return { stop: () => server.stop(true), port: server.port ?? cfg.port };
}
