/**
 * The gateway: one door for every client. It authenticates once, applies CORS, body and rate limits,
 * forwards to the owning service with the caller's identity, relays the answer (streams chunk by chunk)
 * and aggregates health. Each of those is a small stage (./stages); `createGateway` composes them in one
 * visible order per route.
 */

import { Elysia } from 'elysia';
import type { Db } from '../../db/index.ts';
import type { Bus } from '../../src/bus/types.ts';
import type { Config, ServiceName } from '../../src/config.ts';
import { isMultipart, parseJsonBytes, unsupportedMedia } from '../../src/http/body.ts';
import type { ServiceClients } from '../../src/http/client.ts';
import { HttpError, isOpenAiPath, jsonResponse } from '../../src/http/errors.ts';
import { SHORT_HOSTS } from '../../src/http/service.ts';
import { traceOf } from '../../src/http/trace.ts';
import { validate } from '../../src/http/validate.ts';
import type { Logger } from '../../src/log.ts';
import { metricsOnApiPort, readMetricsConfig } from '../../src/metrics.ts';
import { GatewayAuth } from './auth/service.ts';
import { docsRoutes } from './docs/index.ts';
import { HealthService } from './health/service.ts';
import { RateLimiter, StreamCounter } from './limits/rate-limit.ts';
import { createSharedStore } from './limits/stores.ts';
import { CalculatorBody } from './model.ts';
import { type Ctx, compose, type Handler, type Stage } from './pipeline.ts';
import { readLimitedBody, requestIdFrom } from './proxy/forward.ts';
import { GATEWAY_ROUTES, PROXY_ROUTES, type ProxyRoute, pathMatcher } from './routes.ts';
import {
  authenticate,
  bodyLimit,
  guardValidate,
  holdStreamSlot,
  limitAuthAttempts,
  rateLimit,
  readBody,
  refuseMultipart,
} from './stages/admit.ts';
import { forward } from './stages/forward.ts';
import {
  answerErrors,
  badPath,
  compress,
  cors,
  corsPolicy,
  guardPath,
  headWithoutBody,
  observe,
} from './stages/respond.ts';

export interface GatewayDeps {
  config: Config;
  db: Db;
  bus: Bus;
  log: Logger;
  clients: ServiceClients;
  /** False until migrations, seeds and the bus attempt are done (`/health/ready` answers 503). */
  isReady: () => boolean;
  /** Silence between bytes of a chat stream before the gateway cuts it (60 s by default). */
  streamSilenceMs?: number;
}

const ALLOW_METHODS = 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT';

export const BANNER = {
  message: 'LLM Platform API is running',
  versions: {
    v1: '/api/v1 (main API)',
    'v0.3': '/api/v0.3 (clean API for game clients)',
    'v0.2': '/api/v0.2 (multi-provider API)',
    openai: '/v1 (OpenAI-compatible)',
  },
  note: 'Use /api/v1/chat or /api/v0.3/chat for conversations; /v1 for OpenAI SDKs.',
};

export const V02_INFO = {
  version: '0.2',
  status: 'stable',
  description: 'Unified LLM API with streaming support',
  features: [
    'OpenAI/Anthropic compatible streaming',
    'Multi-provider support',
    'Intelligent model selection',
    'Unified chat endpoint',
  ],
  endpoints: {
    chat: '/api/v0.2/chat',
    chat_stream: '/api/v0.2/chat/stream',
    providers: '/api/v0.2/providers',
    models: '/api/v0.2/models',
    asset_pricing: '/api/v0.2/assets/pricing',
    personas: '/api/v0.2/personas',
  },
};

export interface Gateway {
  app: Elysia<any, any, any, any, any, any, any>;
  auth: GatewayAuth;
  health: HealthService;
  /** The server's request handler (use this, not `app.fetch`: it keeps the length a HEAD announces). */
  fetch(request: Request): Promise<Response>;
  /** For callers inside this process (the web UI in all-in-one mode): counts as one trusted proxy. */
  handleInternal(request: Request): Promise<Response>;
  /** Streams in flight, so shutdown can wait for them. */
  openStreams(): number;
  close(): Promise<void>;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, log, clients } = deps;
  const g = config.gateway;
  const auth = new GatewayAuth({ config, db: deps.db, bus: deps.bus, log });
  const store = createSharedStore(config, log);
  const health = new HealthService({
    config,
    db: deps.db,
    bus: deps.bus,
    clients,
    isReady: deps.isReady,
    storeHealth: () => store?.health(),
  });
  const general = new RateLimiter(g.rateLimit, store, 'general');
  const authLimit = new RateLimiter(g.authRateLimit, store, 'auth');
  const failures = new RateLimiter(g.authFailureLimit, store, 'fail');
  const streams = new StreamCounter(g.maxConcurrentStreams);
  const policy = corsPolicy(g.allowedOrigins);
  const internalRequests = new WeakSet<Request>();
  const metricsConfig = readMetricsConfig(config);
  /**
   * Lengths announced by upstream HEAD answers. Elysia answers a HEAD by overwriting Content-Length with the
   * length of the (empty) body the handler returned, so the real one is put back after Elysia is done.
   */
  const headLengths = new WeakMap<Request, string>();
  const withHeadLength = (request: Request, res: Response): Response => {
    const n = request.method === 'HEAD' ? headLengths.get(request) : undefined;
    if (n !== undefined) res.headers.set('content-length', n);
    return res;
  };
  const streaming = { open: 0 };
  const forwardDeps = {
    config,
    clients,
    streams,
    streamSilenceMs: deps.streamSilenceMs ?? 60_000,
    streaming,
    headLengths,
  };

  // ── The order every request goes through ───────────────────────────────────────────────────────────────
  // Outermost first. `observe` sees the final answer (errors included) for its headers, metrics and log line;
  // `answerErrors` turns whatever a later stage throws into the envelope; the path is checked before any
  // stage trusts the URL.
  const common: Stage[] = [
    observe(log),
    cors(policy),
    headWithoutBody,
    answerErrors(log),
    compress,
    guardPath,
  ];

  /** A proxied route: who may call it, within which limits, then the owning service answers. */
  const proxied = (route: ProxyRoute): Handler =>
    compose(
      [
        ...common,
        ...(route.json ? [refuseMultipart] : []),
        ...(route.authLimited ? [limitAuthAttempts(authLimit)] : []),
        authenticate(route, auth, failures),
        rateLimit(general),
        readBody(route, bodyLimit(route, g)),
        ...(route.path.endsWith('/auth/validate') ? [guardValidate(auth, failures)] : []),
        ...(route.chat ? [holdStreamSlot(route, streams)] : []),
      ],
      forward(route, forwardDeps),
    );

  /** A route the gateway answers itself, counted against the per-address general limit. */
  const own = (answer: (c: Ctx) => Response | Promise<Response>): Handler =>
    compose([...common, rateLimit(general)], async (c) => answer(c));

  /** Health and metrics: never rate limited, so probes and scrapers are not refused under load. */
  const probe = (answer: (c: Ctx) => Response | Promise<Response>): Handler =>
    compose(common, async (c) => answer(c));

  /** Preflights skip authentication and limits; unknown paths still get the id, CORS and log line. */
  const preflight = compose([observe(log), cors(policy)], async (c) => {
    const origin = c.origin!;
    if (!policy.allows(origin))
      return new Response('Disallowed CORS origin', {
        status: 400,
        headers: { 'content-type': 'text/plain' },
      });
    const headers: Record<string, string> = {
      'content-type': 'text/plain',
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-max-age': '600',
    };
    const reqHeaders = c.request.headers.get('access-control-request-headers');
    if (reqHeaders) headers['access-control-allow-headers'] = reqHeaders;
    return new Response('OK', { status: 200, headers });
  });

  const routeMatchers = [
    ...PROXY_ROUTES.map((r) => ({ method: r.method, re: pathMatcher(r.path) })),
    ...GATEWAY_ROUTES.map((r) => ({ method: r.method as ProxyRoute['method'], re: pathMatcher(r.path) })),
  ];
  /** No route: 400 for a bad path, 405 for a path that exists with other methods, else 404. */
  const unrouted = compose([observe(log), cors(policy), answerErrors(log)], async (c) => {
    if (badPath(c.request)) throw new HttpError(400, 'Invalid path');
    const path = c.url.pathname;
    const methods = new Set<string>();
    for (const m of routeMatchers) {
      if (!m.re.test(path)) continue;
      if (m.method === 'ALL') throw new HttpError(404, 'Not Found');
      methods.add(m.method);
      if (m.method === 'GET') methods.add('HEAD');
    }
    // Only a method the path does not have is a 405; anything else is simply not found.
    if (methods.size > 0 && !methods.has(c.request.method))
      throw new HttpError(405, 'Method Not Allowed', { headers: { allow: [...methods].join(', ') } });
    throw new HttpError(404, 'Not Found');
  });

  /** The socket peer, unless trusted proxies say which X-Forwarded-For entry is the client. */
  const clientIp = (request: Request, server: any) => {
    const peer = server?.requestIP(request)?.address ?? '127.0.0.1';
    const hops = g.trustedProxies + (internalRequests.has(request) ? 1 : 0);
    if (hops === 0) return peer;
    const xff = (request.headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return xff[xff.length - hops] ?? xff[0] ?? peer;
  };

  /** The state one request's stages share: its id, address, start time and trace. */
  const contextOf = (request: Request, server: any, route?: string): Ctx => {
    const url = new URL(request.url);
    return {
      request,
      url,
      rid: requestIdFrom(request.headers),
      start: performance.now(),
      ip: clientIp(request, server),
      origin: request.headers.get('origin'),
      openAiErrors: isOpenAiPath(url.pathname),
      trace: traceOf(request.headers),
      route,
      authMs: 0,
      upstreamMs: 0,
    };
  };

  type Args = { request: Request; server: any };
  /** An Elysia handler running `handler` for a route template. */
  const at =
    (route: string, handler: Handler) =>
    ({ request, server }: Args) =>
      handler(contextOf(request, server, route));

  const calculate = async (c: Ctx) => {
    if (isMultipart(c.request.headers.get('content-type'))) throw unsupportedMedia();
    const bytes = await readLimitedBody(c.request, g.maxBodyBytes);
    const body = validate(CalculatorBody, bytes ? parseJsonBytes(bytes) : undefined);
    const result = (body.a ?? 0) + (body.b ?? 0);
    // JSON has no Infinity or NaN (JSON.stringify writes null): a sum that overflows is refused.
    if (!Number.isFinite(result))
      throw new HttpError(422, 'Invalid request body', {
        errors: [{ path: '', message: 'The sum is not a finite number' }],
      });
    return jsonResponse({ result });
  };

  const app = new Elysia({ name: 'gaia-gateway', handler: SHORT_HOSTS })
    .onRequest(({ request, server }) => {
      if (request.method !== 'OPTIONS') return;
      if (!request.headers.get('origin') || !request.headers.get('access-control-request-method')) return;
      return preflight(contextOf(request, server));
    })
    .onError(({ code, request, server }) => {
      if (code === 'NOT_FOUND') return unrouted(contextOf(request, server));
    })
    .get(
      '/',
      at(
        '/',
        own(() => jsonResponse(BANNER)),
      ),
    )
    .get(
      '/health',
      at(
        '/health',
        probe(async () => jsonResponse((await health.check()).body)),
      ),
    )
    .get(
      '/health/live',
      at(
        '/health/live',
        probe(() => jsonResponse({ status: 'alive', timestamp: new Date().toISOString() })),
      ),
    )
    .get(
      '/health/ready',
      at(
        '/health/ready',
        probe(async () => {
          const h = await health.check();
          return jsonResponse(h.body, deps.isReady() && h.body.status !== 'unhealthy' ? 200 : 503);
        }),
      ),
    )
    .get(
      '/api/v0.2',
      at(
        '/api/v0.2',
        own(() => jsonResponse(V02_INFO)),
      ),
    )
    .get(
      '/api/v0.2/health',
      at(
        '/api/v0.2/health',
        own(() => jsonResponse({ status: 'healthy', version: '0.2' })),
      ),
    )
    .post('/calculator/add', at('/calculator/add', own(calculate)), { parse: 'none' })
    .use(docsRoutes((path, answer) => at(path, own(answer))))
    // Closed unless GAIA_METRICS_TOKEN is set (then bearer only); no rate limit, so a scraper never gets 429.
    .get(
      '/metrics',
      at(
        '/metrics',
        probe((c) => metricsOnApiPort(c.request, metricsConfig)),
      ),
    );

  for (const route of PROXY_ROUTES) {
    const handler = at(route.path, proxied(route));
    const hook = { parse: 'none' as const, detail: { summary: route.summary, tags: [route.owner] } };
    if (route.method === 'ALL') app.all(route.path, handler, hook);
    else {
      app.route(route.method, route.path, handler, hook);
      if (route.method === 'GET') app.route('HEAD', route.path, handler, hook);
    }
  }

  return {
    app,
    auth,
    health,
    openStreams: () => streaming.open,
    async close() {
      await store?.close();
    },
    fetch: async (request) => withHeadLength(request, await app.fetch(request)),
    async handleInternal(request) {
      internalRequests.add(request);
      return withHeadLength(request, await app.handle(request));
    },
  };
}

export type { ServiceName };
