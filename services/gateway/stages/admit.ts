/**
 * Stages that decide whether a proxied request may go on: media type, the per-address auth limit, who the
 * caller is, the general rate limit, the body within its limit, the validate endpoint's failure budget, and a
 * stream slot. Each refuses with the answer clients know (401/403/413/415/429) before the service is called.
 */
import { type Config, describeRateLimit, type RateLimit } from '../../../src/config.ts';
import { isMultipart, parseJsonBytes, unsupportedMedia } from '../../../src/http/body.ts';
import { HttpError } from '../../../src/http/errors.ts';
import { rateLimitRejections } from '../../../src/metrics.ts';
import { type GatewayAuth, readCredentials } from '../auth/service.ts';
import { type RateLimiter, rateLimitHeaders, type StreamCounter } from '../limits/rate-limit.ts';
import type { Ctx, Stage } from '../pipeline.ts';
import { readLimitedBody } from '../proxy/forward.ts';
import type { ProxyRoute } from '../routes.ts';

const NOT_AUTH = 'Not authenticated. Provide a valid JWT or API Key.';
const BAD_KEY = 'Could not validate credentials';

type LimitName = 'general' | 'auth' | 'auth_failures';

/** A 429 that says which limit was hit, counted in the metrics. */
export function rateLimited(limit: LimitName, rule: RateLimit, headers: Record<string, string>): HttpError {
  rateLimitRejections.inc({ limit });
  return new HttpError(429, `Rate limit exceeded: ${describeRateLimit(rule)}`, { headers });
}

const hasBody = (c: Ctx) => c.request.method !== 'GET' && c.request.method !== 'HEAD';

/** JSON routes refuse multipart before reading a byte of it. */
export const refuseMultipart: Stage = (c, next) => {
  if (hasBody(c) && isMultipart(c.request.headers.get('content-type'))) throw unsupportedMedia();
  return next(c);
};

/** Login, registration and friends spend a per-address budget, whoever the caller claims to be. */
export const limitAuthAttempts =
  (limiter: RateLimiter): Stage =>
  async (c, next) => {
    const hit = await limiter.hit(`ip:${c.ip}`);
    if (!hit.allowed) throw rateLimited('auth', limiter.rule, rateLimitHeaders(hit));
    return next(c);
  };

/**
 * Finds out who is calling (API key or JWT) and whether the route lets them in. Failed credentials spend the
 * address's failure budget; once it is spent, unknown credentials are refused without a lookup.
 */
export const authenticate = (route: ProxyRoute, auth: GatewayAuth, failures: RateLimiter): Stage => {
  const publicRoute = route.auth === '-' || route.auth === 'S';
  return async (c, next) => {
    const t0 = performance.now();
    try {
      const creds = readCredentials(c.request.headers);
      const hasCred = !!(creds.jwt || creds.apiKey || creds.invalidKey);
      if (route.auth === 'K') {
        // These routes consult only the API-key candidate.
        if (!creds.apiKey && !creds.invalidKey) throw new HttpError(401, 'API key required');
        creds.jwt = undefined;
      }
      if (hasCred && !publicRoute && !auth.isCachedKey(creds)) {
        const f = await failures.check(`ip:${c.ip}`);
        if (!f.allowed)
          throw rateLimited('auth_failures', failures.rule, rateLimitHeaders({ ...f, allowed: false }));
      }
      const outcome = hasCred ? await auth.authenticate(creds) : ({ kind: 'none' } as const);
      if (outcome.kind === 'ok') {
        c.principal = outcome.principal;
        if (route.auth === 'P' && outcome.principal.fromApiKey)
          throw new HttpError(403, 'API keys cannot manage API keys; sign in with a password');
        if (route.auth === 'A' && !outcome.principal.admin)
          throw new HttpError(403, 'Admin privileges required');
      } else if (!publicRoute && route.auth !== 'SU') {
        if (outcome.kind === 'bad_key' || outcome.kind === 'bad_jwt') await failures.hit(`ip:${c.ip}`);
        if (outcome.kind === 'bad_key')
          throw new HttpError(401, BAD_KEY, { headers: { 'www-authenticate': 'Bearer' } });
        throw new HttpError(401, NOT_AUTH, {
          headers: {
            'www-authenticate': outcome.kind === 'bad_jwt' ? 'Bearer error="invalid_token"' : 'Bearer',
          },
        });
      }
    } finally {
      c.authMs = performance.now() - t0;
    }
    return next(c);
  };
};

/** The general limit counts per API key, per signed-in user, or per address for anonymous callers. */
export const rateLimit =
  (limiter: RateLimiter): Stage =>
  async (c, next) => {
    const p = c.principal;
    c.bucket = p ? (p.authType === 'api_key' ? `key:${p.keyId}` : `user:${p.userId}`) : `ip:${c.ip}`;
    const hit = await limiter.hit(c.bucket);
    c.rateHeaders = rateLimitHeaders(hit);
    if (!hit.allowed) throw rateLimited('general', limiter.rule, c.rateHeaders);
    return next(c);
  };

/** The route's body limit class in bytes. */
export function bodyLimit(route: ProxyRoute, g: Config['gateway']): number {
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
}

/** Reads the body once, refusing it with 413 as soon as it passes the limit (a DELETE's body is ignored). */
export const readBody = (route: ProxyRoute, limit: number): Stage => {
  // The one DELETE that carries its arguments in a body.
  const deleteWithBody = route.path === '/api/v0.2/kb/delete';
  return async (c, next) => {
    const method = c.request.method;
    c.body =
      hasBody(c) && (method !== 'DELETE' || deleteWithBody) ? await readLimitedBody(c.request, limit) : null;
    return next(c);
  };
};

/**
 * A spent credential-failure budget closes validate as it closes direct key use, so it cannot serve as an
 * unthrottled key checker; only a key this gateway has already verified still gets an answer. Failed
 * validations then spend the budget like rejected credentials.
 */
export const guardValidate =
  (auth: GatewayAuth, failures: RateLimiter): Stage =>
  async (c, next) => {
    let candidate: unknown;
    try {
      candidate = c.body ? (parseJsonBytes(c.body) as { api_key?: unknown } | undefined)?.api_key : undefined;
    } catch {
      // The auth service answers malformed JSON with the envelope.
    }
    if (typeof candidate !== 'string' || !auth.isCachedKey({ apiKey: candidate })) {
      const f = await failures.check(`ip:${c.ip}`);
      if (!f.allowed)
        throw rateLimited('auth_failures', failures.rule, rateLimitHeaders({ ...f, allowed: false }));
    }
    const res = await next(c);
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return res;
    const text = await res.text();
    try {
      if (JSON.parse(text)?.valid === false) await failures.hit(`ip:${c.ip}`);
    } catch {
      // not JSON: passed through as is
    }
    return new Response(text, { status: res.status, headers: res.headers });
  };

/**
 * Streams are counted per identity; the body says whether this chat request will stream. The slot is held
 * until the stream ends (the forwarding stage hands it to the relay) or released here if none started.
 */
export const holdStreamSlot = (route: ProxyRoute, streams: StreamCounter): Stage => {
  const alwaysStreams = route.path.endsWith('/stream');
  return async (c, next) => {
    if (!c.body) return next(c);
    let wantsStream = alwaysStreams;
    if (!wantsStream) {
      try {
        wantsStream = (parseJsonBytes(c.body) as { stream?: unknown } | undefined)?.stream === true;
      } catch {
        // The chat service answers malformed JSON with the envelope.
      }
    }
    if (!wantsStream) return next(c);
    const bucket = c.bucket!;
    if (!streams.tryAcquire(bucket)) {
      rateLimitRejections.inc({ limit: 'streams' });
      throw new HttpError(429, `Too many concurrent streams (limit ${streams.max})`, {
        headers: { ...c.rateHeaders, 'retry-after': '1' },
      });
    }
    c.streamSlot = bucket;
    try {
      return await next(c);
    } finally {
      if (c.streamSlot) streams.release(c.streamSlot);
      c.streamSlot = null;
    }
  };
};
