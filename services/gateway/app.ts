/**
 * The gateway: one door for every client. It authenticates once, applies CORS, body
 * and rate limits, forwards to the owning service with a signed identity, relays the answer (streams
 * chunk by chunk) and aggregates health.
 */

import { Elysia } from 'elysia';
import type { Db } from '../../db/index.ts';
import type { Bus } from '../../src/bus/types.ts';
import { type Config, describeRateLimit, type ServiceName } from '../../src/config.ts';
import { isMultipart, parseJsonBytes, unsupportedMedia } from '../../src/http/body.ts';
import { type ServiceClients, unavailable } from '../../src/http/client.ts';
import { HttpError, isOpenAiPath, jsonResponse, withOpenAiEnvelope } from '../../src/http/errors.ts';
import { handIdentity, IDENTITY_HEADER, type Identity, signIdentitySync } from '../../src/http/identity.ts';
import { SHORT_HOSTS } from '../../src/http/service.ts';
import { childTraceparent, type TraceContext, traceOf } from '../../src/http/trace.ts';
import { validate } from '../../src/http/validate.ts';
import type { Logger } from '../../src/log.ts';
import {
  metricsOnApiPort,
  observeHttp,
  openStreams,
  rateLimitRejections,
  readMetricsConfig,
} from '../../src/metrics.ts';
import { hadDotSegments } from '../../src/platform.ts';
import { GatewayAuth, type Principal, readCredentials } from './auth/service.ts';
import { docsRoutes } from './docs/index.ts';
import { HealthService } from './health/service.ts';
import { RateLimiter, rateLimitHeaders, StreamCounter } from './limits/rate-limit.ts';
import { createSharedStore } from './limits/stores.ts';
import { CalculatorBody } from './model.ts';
import {
  filterResponseHeaders,
  forwardRequestHeaders,
  isBadPath,
  readLimitedBody,
  requestIdFrom,
} from './proxy/forward.ts';
import { relayStream, streamFamily } from './proxy/stream.ts';
import { GATEWAY_ROUTES, PROXY_ROUTES, type ProxyRoute, pathMatcher } from './routes.ts';

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

/** Per-request state threaded through the wrapper. */
interface Ctx {
  url: URL;
  rid: string;
  start: number;
  ip: string;
  origin: string | null;
  principal?: Principal;
  rateHeaders?: Record<string, string>;
  authMs: number;
  upstreamMs: number;
  upstreamName?: string;
  openAiErrors: boolean;
  /** The route template answered, for metrics labels (never the raw path of an unknown URL). */
  route?: string;
  /** The W3C trace this request belongs to (the client's, or a new one). */
  trace: TraceContext;
}

const NOT_AUTH = 'Not authenticated. Provide a valid JWT or API Key.';
const BAD_KEY = 'Could not validate credentials';
const EXPOSE =
  'X-Request-Id, X-Response-Time, Server-Timing, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Mcp-Session-Id, X-Total-Count';
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
  const allowAll = g.allowedOrigins.includes('*');
  const allowed = new Set(g.allowedOrigins);
  const internalRequests = new WeakSet<Request>();
  const metricsConfig = readMetricsConfig(config);
  const gatewayPaths = new Set([...GATEWAY_ROUTES.map((r) => r.path), '/metrics']);
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
  let streaming = 0;

  const routeMatchers = [
    ...PROXY_ROUTES.map((r) => ({ method: r.method, re: pathMatcher(r.path) })),
    ...GATEWAY_ROUTES.map((r) => ({ method: r.method as ProxyRoute['method'], re: pathMatcher(r.path) })),
  ];

  /** The socket peer, unless trusted proxies say which X-Forwarded-For entry is the client. */
  const clientIp = (
    request: Request,
    server: { requestIP(r: Request): { address: string } | null } | null,
  ) => {
    const peer = server?.requestIP(request)?.address ?? '127.0.0.1';
    const hops = g.trustedProxies + (internalRequests.has(request) ? 1 : 0);
    if (hops === 0) return peer;
    const xff = (request.headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return xff[xff.length - hops] ?? xff[0] ?? peer;
  };

  const newCtx = (request: Request, server: any): Ctx => {
    const url = new URL(request.url);
    const path = url.pathname;
    return {
      url,
      rid: requestIdFrom(request.headers),
      start: performance.now(),
      ip: clientIp(request, server),
      origin: request.headers.get('origin'),
      authMs: 0,
      upstreamMs: 0,
      openAiErrors: isOpenAiPath(path),
      trace: traceOf(request.headers),
    };
  };

  const corsHeaders = (origin: string | null): Record<string, string> => {
    if (!origin) return {};
    if (allowAll) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSE };
    if (!allowed.has(origin)) return {};
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': EXPOSE,
      vary: 'Origin',
    };
  };

  /** Adds the headers every response carries and writes the one log line per request. */
  const finish = (request: Request, ctx: Ctx, res: Response): Response => {
    const total = performance.now() - ctx.start;
    const h = res.headers;
    h.set('x-request-id', ctx.rid);
    h.set('x-response-time', `${total.toFixed(3)}ms`);
    const timing = [`auth;dur=${ctx.authMs.toFixed(1)}`];
    if (ctx.upstreamName) timing.push(`upstream;desc="${ctx.upstreamName}";dur=${ctx.upstreamMs.toFixed(1)}`);
    timing.push(`total;dur=${total.toFixed(1)}`);
    observeHttp('gateway', request.method, ctx.route ?? 'unmatched', res.status, total / 1000);
    h.set('server-timing', timing.join(', '));
    for (const [k, v] of Object.entries(corsHeaders(ctx.origin))) h.set(k, v);
    if (ctx.rateHeaders) for (const k in ctx.rateHeaders) h.set(k, ctx.rateHeaders[k]!);
    log.info('request', {
      rid: ctx.rid,
      method: request.method,
      path: ctx.url.pathname,
      route: ctx.route ?? 'unmatched',
      status: res.status,
      duration_ms: Number(total.toFixed(3)),
      identity: ctx.principal?.userId ?? null,
      trace_id: ctx.trace.traceId,
    });
    return res;
  };

  const errorOut = (ctx: Ctx, err: HttpError): Response =>
    (ctx.openAiErrors ? withOpenAiEnvelope(err) : err).toResponse();

  const rateLimited = (
    limit: 'general' | 'auth' | 'auth_failures',
    describe: string,
    headers: Record<string, string>,
  ) => {
    rateLimitRejections.inc({ limit });
    return new HttpError(429, `Rate limit exceeded: ${describe}`, { headers });
  };

  /** Authenticates per the route's rule; throws the spec's 401/403/429 answers. */
  const authenticate = async (route: ProxyRoute, request: Request, ctx: Ctx): Promise<void> => {
    const t0 = performance.now();
    try {
      const creds = readCredentials(request.headers);
      const hasCred = !!(creds.jwt || creds.apiKey || creds.invalidKey);
      if (route.auth === 'K') {
        // K routes consult only the API-key candidate.
        if (!creds.apiKey && !creds.invalidKey) throw new HttpError(401, 'API key required');
        creds.jwt = undefined;
      }
      const publicRoute = route.auth === '-' || route.auth === 'S';
      // Once an address has spent its failure budget, unknown credentials are refused without a lookup.
      if (hasCred && !publicRoute && !auth.isCachedKey(creds)) {
        const f = await failures.check(`ip:${ctx.ip}`);
        if (!f.allowed)
          throw rateLimited(
            'auth_failures',
            describeRateLimit(g.authFailureLimit),
            rateLimitHeaders({ ...f, allowed: false }),
          );
      }
      const outcome = hasCred ? await auth.authenticate(creds) : ({ kind: 'none' } as const);
      if (outcome.kind === 'ok') {
        ctx.principal = outcome.principal;
        if (route.auth === 'P' && outcome.principal.fromApiKey)
          throw new HttpError(403, 'API keys cannot manage API keys; sign in with a password');
        if (route.auth === 'A' && !outcome.principal.admin)
          throw new HttpError(403, 'Admin privileges required');
        return;
      }
      if (publicRoute || route.auth === 'SU') return;
      if (outcome.kind === 'bad_key' || outcome.kind === 'bad_jwt') await failures.hit(`ip:${ctx.ip}`);
      if (outcome.kind === 'bad_key')
        throw new HttpError(401, BAD_KEY, { headers: { 'www-authenticate': 'Bearer' } });
      if (outcome.kind === 'bad_jwt')
        throw new HttpError(401, NOT_AUTH, {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      throw new HttpError(401, NOT_AUTH, { headers: { 'www-authenticate': 'Bearer' } });
    } finally {
      ctx.authMs = performance.now() - t0;
    }
  };

  const identityFor = (ctx: Ctx): Identity => {
    const p = ctx.principal;
    if (!p) return { auth_type: 'anonymous', admin: false, rid: ctx.rid, ip: ctx.ip };
    return {
      auth_type: p.authType,
      sub: p.userId,
      email: p.email ?? undefined,
      name: p.name ?? undefined,
      admin: p.admin,
      session_id: p.sessionId,
      key_id: p.keyId,
      rid: ctx.rid,
      ip: ctx.ip,
    };
  };

  const bodyLimit = (route: ProxyRoute): number => {
    switch (route.limit) {
      case 'auth':
        return 16_384;
      case 'chat':
        return 8 * 1_048_576;
      case 'kb':
        return g.kbMaxBodyBytes;
      case 'asset-generate':
        return 65_536;
      default:
        return g.maxBodyBytes;
    }
  };

  const timeoutFor = (route: ProxyRoute): number =>
    route.chat ? g.chatTimeoutMs : route.limit === 'asset-generate' ? 130_000 : g.requestTimeoutMs;

  const proxy = async (route: ProxyRoute, request: Request, ctx: Ctx): Promise<Response> => {
    const client = clients[route.owner];
    // Method and limits first: an oversized body is refused before anything else reads it.
    const limit = bodyLimit(route);
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    if (hasBody && route.json && isMultipart(request.headers.get('content-type'))) throw unsupportedMedia();

    if (route.authLimited) {
      const hit = await authLimit.hit(`ip:${ctx.ip}`);
      if (!hit.allowed) throw rateLimited('auth', describeRateLimit(g.authRateLimit), rateLimitHeaders(hit));
    }
    await authenticate(route, request, ctx);
    const bucket = ctx.principal
      ? ctx.principal.authType === 'api_key'
        ? `key:${ctx.principal.keyId}`
        : `user:${ctx.principal.userId}`
      : `ip:${ctx.ip}`;
    const hit = await general.hit(bucket);
    ctx.rateHeaders = rateLimitHeaders(hit);
    if (!hit.allowed) throw rateLimited('general', describeRateLimit(g.rateLimit), ctx.rateHeaders);

    const body =
      hasBody && !(request.method === 'DELETE' && route.path !== '/api/v0.2/kb/delete')
        ? await readLimitedBody(request, limit)
        : null;

    // A spent credential-failure budget closes validate as it closes direct key use, so it cannot serve as
    // an unthrottled key checker; only a key this gateway has already verified still gets an answer.
    if (route.path.endsWith('/auth/validate')) {
      let candidate: unknown;
      try {
        candidate = body ? (parseJsonBytes(body) as { api_key?: unknown } | undefined)?.api_key : undefined;
      } catch {
        // The auth service answers malformed JSON with the envelope.
      }
      if (typeof candidate !== 'string' || !auth.isCachedKey({ apiKey: candidate })) {
        const f = await failures.check(`ip:${ctx.ip}`);
        if (!f.allowed)
          throw rateLimited(
            'auth_failures',
            describeRateLimit(g.authFailureLimit),
            rateLimitHeaders({ ...f, allowed: false }),
          );
      }
    }

    // Streams are counted per identity; the body says whether this chat request will stream.
    let streamSlot: string | null = null;
    if (route.chat && body) {
      let wantsStream = route.path.endsWith('/stream');
      if (!wantsStream) {
        try {
          const parsed = parseJsonBytes(body) as { stream?: unknown } | undefined;
          wantsStream = parsed?.stream === true;
        } catch {
          // The chat service answers malformed JSON with the envelope.
        }
      }
      if (wantsStream) {
        if (!streams.tryAcquire(bucket)) {
          rateLimitRejections.inc({ limit: 'streams' });
          throw new HttpError(429, `Too many concurrent streams (limit ${g.maxConcurrentStreams})`, {
            headers: rateLimitHeaders({ ...hit, allowed: false, retryAfter: 1 }),
          });
        }
        streamSlot = bucket;
      }
    }
    const releaseSlot = () => {
      if (streamSlot) streams.release(streamSlot);
      streamSlot = null;
    };

    try {
      if (!client) throw unavailable(route.owner);
      const url = ctx.url;
      const target = (route.target ?? url.pathname) + url.search;
      const headers = forwardRequestHeaders(request.headers, {
        webhook: route.webhook,
        forwardAuthorization: route.forwardAuthorization,
        json: route.json && hasBody,
      });
      // A service in this process gets the verified identity handed over with the request; one across the
      // network gets it signed, so nothing between the two can forge it.
      const identity = identityFor(ctx);
      const inProcess = client.mode === 'in-process';
      if (!inProcess) headers.set(IDENTITY_HEADER, signIdentitySync(config.internalSecret, identity));
      headers.set('x-request-id', ctx.rid);
      // The service joins the client's trace as a child of this hop.
      headers.set('traceparent', childTraceparent(ctx.trace));
      headers.set('x-forwarded-for', ctx.ip);
      headers.set('x-forwarded-proto', url.protocol.replace(':', ''));
      headers.set('x-forwarded-host', url.host);
      if (body) headers.set('content-length', String(body.byteLength));
      const upstreamReq = new Request(`http://${route.owner}.internal${target}`, {
        method: request.method,
        headers,
        body: body && request.method !== 'HEAD' ? (body as Uint8Array<ArrayBuffer>) : undefined,
        // Long-running routes need the client's disconnect to reach the service (to stop the provider);
        // streams also get it through the relay's cancel. Elsewhere the signal costs more than it saves.
        signal: route.chat || route.limit === 'asset-generate' ? request.signal : undefined,
      });
      if (inProcess) handIdentity(upstreamReq, identity);
      const t0 = performance.now();
      ctx.upstreamName = route.owner;
      let upstream: Response;
      try {
        upstream = await client.send(upstreamReq, timeoutFor(route));
      } finally {
        ctx.upstreamMs = performance.now() - t0;
      }
      const outHeaders = filterResponseHeaders(upstream.headers);
      const type = upstream.headers.get('content-type') ?? '';
      if (type.startsWith('text/event-stream') && upstream.body) {
        streaming++;
        openStreams.inc();
        const slot = streamSlot;
        streamSlot = null;
        const stream = relayStream(upstream.body, {
          done: () => {
            streaming--;
            openStreams.dec();
            if (slot) streams.release(slot);
          },
          family: route.chat ? streamFamily(route.path) : undefined,
          silenceMs: deps.streamSilenceMs ?? 60_000,
        });
        return new Response(stream, { status: upstream.status, headers: outHeaders });
      }
      // Only JSON error bodies are inspected: a 5xx that is not the envelope must not leak internals.
      if (upstream.status >= 500) {
        const text = await upstream.text();
        let ok = false;
        try {
          const parsed = JSON.parse(text);
          ok = typeof parsed?.detail === 'string';
        } catch {
          ok = false;
        }
        if (!ok) {
          if (upstream.status === 502 || upstream.status === 503)
            throw new HttpError(502, `Invalid response from ${route.owner} service`);
          throw new HttpError(500, 'Internal server error');
        }
        return new Response(text, { status: upstream.status, headers: outHeaders });
      }
      if (route.path.endsWith('/auth/validate') && upstream.ok && type.includes('json')) {
        // Failed validations spend the address's credential-failure budget, like rejected credentials.
        const text = await upstream.text();
        try {
          if (JSON.parse(text)?.valid === false) await failures.hit(`ip:${ctx.ip}`);
        } catch {
          // not JSON: passed through as is
        }
        return new Response(text, { status: upstream.status, headers: outHeaders });
      }
      // In-process answers are already in memory: relaying them as bytes (not a stream) keeps
      // Content-Length and costs far less. Large or unknown-length bodies (files) stay streamed.
      const length = Number(upstream.headers.get('content-length') ?? Number.NaN);
      const small = client.mode === 'in-process' && (type.includes('json') || length <= 1_048_576);
      // The relayed body is re-framed, so the upstream length is dropped with the hop headers; a HEAD has no body
      // to frame and its announced length is the answer (clients size downloads by it).
      const announced = upstream.headers.get('content-length');
      if (request.method === 'HEAD' && announced !== null) headLengths.set(request, announced);
      const payload = request.method === 'HEAD' ? null : small ? await upstream.arrayBuffer() : upstream.body;
      return new Response(payload, { status: upstream.status, headers: outHeaders });
    } finally {
      releaseSlot();
    }
  };

  /** JSON of 1 KiB or more is gzip-compressed when the client accepts it. */
  const maybeGzip = async (request: Request, res: Response): Promise<Response> => {
    if (!/\bgzip\b/i.test(request.headers.get('accept-encoding') ?? '')) return res;
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('application/json') || res.headers.has('content-encoding') || !res.body) return res;
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.byteLength < 1024) return new Response(buf, { status: res.status, headers: res.headers });
    const headers = new Headers(res.headers);
    headers.set('content-encoding', 'gzip');
    headers.append('vary', 'Accept-Encoding');
    return new Response(Bun.gzipSync(buf), { status: res.status, headers });
  };

  const handleError = (ctx: Ctx, err: unknown): Response => {
    if (err instanceof HttpError) return errorOut(ctx, err);
    log.error('gateway error', { rid: ctx.rid, error: err instanceof Error ? err.message : String(err) });
    return errorOut(ctx, new HttpError(500, 'Internal server error'));
  };

  const run = async (
    request: Request,
    server: any,
    fn: (ctx: Ctx) => Promise<Response>,
  ): Promise<Response> => {
    const ctx = newCtx(request, server);
    // Gateway-owned routes have fixed paths; proxied routes set their template before this runs.
    if (gatewayPaths.has(ctx.url.pathname)) ctx.route = ctx.url.pathname;
    let res: Response;
    try {
      if (badPath(request)) throw new HttpError(400, 'Invalid path');
      res = await fn(ctx);
      // Most clients (Unity, wrk, SDK streams) send no gzip Accept-Encoding: skip the async hop then.
      if (request.headers.has('accept-encoding')) res = await maybeGzip(request, res);
    } catch (err) {
      res = handleError(ctx, err);
    }
    if (request.method === 'HEAD' && res.body)
      res = new Response(null, { status: res.status, headers: res.headers });
    return finish(request, ctx, res);
  };

  const gatewayLimited = async (ctx: Ctx): Promise<void> => {
    const hit = await general.hit(`ip:${ctx.ip}`);
    ctx.rateHeaders = rateLimitHeaders(hit);
    if (!hit.allowed) throw rateLimited('general', describeRateLimit(g.rateLimit), ctx.rateHeaders);
  };

  /** Gateway-owned routes count against the per-address general limit. */
  const limited = (request: Request, server: any, make: () => Response | Promise<Response>) =>
    run(request, server, async (ctx) => {
      await gatewayLimited(ctx);
      return make();
    });

  const app = new Elysia({ name: 'gaia-gateway', handler: SHORT_HOSTS })
    .onRequest(({ request, server }) => {
      // CORS preflights skip authentication and limits.
      if (request.method !== 'OPTIONS') return;
      const origin = request.headers.get('origin');
      const reqMethod = request.headers.get('access-control-request-method');
      if (!origin || !reqMethod) return;
      const ctx = newCtx(request, server);
      if (!allowAll && !allowed.has(origin))
        return finish(
          request,
          ctx,
          new Response('Disallowed CORS origin', { status: 400, headers: { 'content-type': 'text/plain' } }),
        );
      const headers: Record<string, string> = {
        'content-type': 'text/plain',
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-max-age': '600',
      };
      const reqHeaders = request.headers.get('access-control-request-headers');
      if (reqHeaders) headers['access-control-allow-headers'] = reqHeaders;
      return finish(request, ctx, new Response('OK', { status: 200, headers }));
    })
    .onError(({ code, request, server }) => {
      if (code !== 'NOT_FOUND') return;
      const ctx = newCtx(request, server);
      const path = new URL(request.url).pathname;
      if (badPath(request)) return finish(request, ctx, errorOut(ctx, new HttpError(400, 'Invalid path')));
      const methods = new Set<string>();
      for (const m of routeMatchers) {
        if (!m.re.test(path)) continue;
        if (m.method === 'ALL') return finish(request, ctx, errorOut(ctx, new HttpError(404, 'Not Found')));
        methods.add(m.method);
        if (m.method === 'GET') methods.add('HEAD');
      }
      // Only a method the path does not have is a 405; anything else is simply not found.
      if (methods.size > 0 && !methods.has(request.method))
        return finish(
          request,
          ctx,
          errorOut(
            ctx,
            new HttpError(405, 'Method Not Allowed', { headers: { allow: [...methods].join(', ') } }),
          ),
        );
      return finish(request, ctx, errorOut(ctx, new HttpError(404, 'Not Found')));
    })
    .get('/', ({ request, server }) => limited(request, server, () => jsonResponse(BANNER)))
    .get('/health', ({ request, server }) =>
      run(request, server, async () => jsonResponse((await health.check()).body)),
    )
    .get('/health/live', ({ request, server }) =>
      run(request, server, async () =>
        jsonResponse({ status: 'alive', timestamp: new Date().toISOString() }),
      ),
    )
    .get('/health/ready', ({ request, server }) =>
      run(request, server, async () => {
        const h = await health.check();
        const ready = deps.isReady() && h.body.status !== 'unhealthy';
        return jsonResponse(h.body, ready ? 200 : 503);
      }),
    )
    .get('/api/v0.2', ({ request, server }) => limited(request, server, () => jsonResponse(V02_INFO)))
    .get('/api/v0.2/health', ({ request, server }) =>
      limited(request, server, () => jsonResponse({ status: 'healthy', version: '0.2' })),
    )
    .post(
      '/calculator/add',
      ({ request, server }) =>
        run(request, server, async (ctx) => {
          await gatewayLimited(ctx);
          if (isMultipart(request.headers.get('content-type'))) throw unsupportedMedia();
          const bytes = await readLimitedBody(request, g.maxBodyBytes);
          const body = validate(CalculatorBody, bytes ? parseJsonBytes(bytes) : undefined);
          const result = (body.a ?? 0) + (body.b ?? 0);
          // JSON has no Infinity or NaN (JSON.stringify writes null): a sum that overflows is refused.
          if (!Number.isFinite(result))
            throw new HttpError(422, 'Invalid request body', {
              errors: [{ path: '', message: 'The sum is not a finite number' }],
            });
          return jsonResponse({ result });
        }),
      { parse: 'none' },
    )
    .use(docsRoutes(limited))
    // Closed unless GAIA_METRICS_TOKEN is set (then bearer only); no rate limit, so a scraper never gets 429.
    .get('/metrics', ({ request, server }) =>
      run(request, server, () => metricsOnApiPort(request, metricsConfig)),
    );

  for (const route of PROXY_ROUTES) {
    const handler = ({ request, server }: { request: Request; server: any }) =>
      run(request, server, (ctx) => {
        ctx.route = route.path;
        return proxy(route, request, ctx);
      });
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
    openStreams: () => streaming,
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

/** `..`, NUL or an encoded slash in the path, including dot segments Bun resolved before we saw the URL. */
function badPath(request: Request): boolean {
  return hadDotSegments(request) || isBadPath(rawPath(request.url));
}

/** The path as the client sent it, before URL normalisation could hide `..` or encoded slashes. */
function rawPath(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const q = url.indexOf('?', start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

export type { ServiceName };
