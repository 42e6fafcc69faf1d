/**
 * Stages every request goes through, whatever answers it: the headers and the log line on the way out, CORS,
 * error envelopes, compression, HEAD, and the path check that must run before anything trusts the URL.
 */
import { HttpError, withOpenAiEnvelope } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { observeHttp } from '../../../src/metrics.ts';
import { hadDotSegments } from '../../../src/platform.ts';
import type { Ctx, Stage } from '../pipeline.ts';
import { isBadPath } from '../proxy/forward.ts';

const EXPOSE =
  'X-Request-Id, X-Response-Time, Server-Timing, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Mcp-Session-Id, X-Total-Count';

/** What the log line and metrics record for a request its client abandoned before the answer. */
export const CLIENT_CLOSED = 499;

/** Milliseconds to a tenth, for Server-Timing: rounding is cheaper than `toFixed` on every request. */
const tenths = (ms: number): number => Math.round(ms * 10) / 10;

/** The error as the client's API family spells it. */
export const errorResponse = (c: Ctx, err: HttpError): Response =>
  (c.openAiErrors ? withOpenAiEnvelope(err) : err).toResponse();

/**
 * The request id, timings and rate-limit headers on every answer, the request's metrics, and its one log
 * line (route template, status, duration, identity, trace; never the query string or a credential).
 */
export const observe =
  (log: Logger): Stage =>
  async (c, next) => {
    const res = await next(c);
    const total = performance.now() - c.start;
    const request = c.request;
    const h = res.headers;
    h.set('x-request-id', c.rid);
    h.set('x-response-time', `${total.toFixed(3)}ms`);
    let timing = `auth;dur=${tenths(c.authMs)}`;
    if (c.upstreamName) timing += `, upstream;desc="${c.upstreamName}";dur=${tenths(c.upstreamMs)}`;
    h.set('server-timing', `${timing}, total;dur=${tenths(total)}`);
    if (c.rateHeaders) for (const k in c.rateHeaders) h.set(k, c.rateHeaders[k]!);
    const route = c.route ?? 'unmatched';
    observeHttp('gateway', request.method, route, res.status, total / 1000);
    log.info('request', {
      rid: c.rid,
      method: request.method,
      path: c.url.pathname,
      route,
      status: res.status,
      duration_ms: Math.round(total * 1000) / 1000,
      identity: c.principal?.userId ?? null,
      trace_id: c.trace.traceId,
    });
    return res;
  };

/** The CORS response headers for an origin: `*`, the allowed origin itself, or none. */
export function corsPolicy(allowedOrigins: readonly string[]) {
  const allowAll = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins);
  return {
    allows: (origin: string) => allowAll || allowed.has(origin),
    headers(origin: string | null): Record<string, string> | undefined {
      if (!origin) return undefined;
      if (allowAll) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSE };
      if (!allowed.has(origin)) return undefined;
      return {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': EXPOSE,
        vary: 'Origin',
      };
    },
  };
}

/** Browsers from allowed origins may read every answer, errors included. */
export const cors =
  (policy: ReturnType<typeof corsPolicy>): Stage =>
  async (c, next) => {
    const res = await next(c);
    const headers = policy.headers(c.origin);
    if (headers) for (const k in headers) res.headers.set(k, headers[k]!);
    return res;
  };

/** A HEAD answer has the headers of the GET and no body. */
export const headWithoutBody: Stage = async (c, next) => {
  const res = await next(c);
  return c.request.method === 'HEAD' && res.body
    ? new Response(null, { status: res.status, headers: res.headers })
    : res;
};

/** Anything thrown below becomes the error envelope; what is not an HttpError is logged and hidden as a 500. */
export const answerErrors =
  (log: Logger): Stage =>
  async (c, next) => {
    try {
      return await next(c);
    } catch (err) {
      if (err instanceof HttpError) return errorResponse(c, err);
      // The client went away and its request was abandoned with it: not a fault of Gaia's, and nobody
      // reads the answer. 499 (as nginx logs it) keeps these apart from real errors in logs and metrics.
      if (c.request.signal.aborted) return new Response(null, { status: CLIENT_CLOSED });
      log.error('gateway error', { rid: c.rid, error: err instanceof Error ? err.message : String(err) });
      return errorResponse(c, new HttpError(500, 'Internal server error'));
    }
  };

/** JSON of 1 KiB or more is gzip-compressed when the client accepts it. */
export const compress: Stage = async (c, next) => {
  const res = await next(c);
  // Most clients (Unity, load tools, SDK streams) send no Accept-Encoding: nothing to decide then.
  const accept = c.request.headers.get('accept-encoding');
  if (!accept || !/\bgzip\b/i.test(accept)) return res;
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('application/json') || res.headers.has('content-encoding') || !res.body) return res;
  const buf = new Uint8Array(await res.arrayBuffer());
  if (buf.byteLength < 1024) return new Response(buf, { status: res.status, headers: res.headers });
  const headers = new Headers(res.headers);
  headers.set('content-encoding', 'gzip');
  headers.append('vary', 'Accept-Encoding');
  return new Response(Bun.gzipSync(buf), { status: res.status, headers });
};

/** `..`, NUL or an encoded slash in the path is refused before any route or service sees it. */
export const guardPath: Stage = (c, next) => {
  if (badPath(c.request)) throw new HttpError(400, 'Invalid path');
  return next(c);
};

/** `..`, NUL or an encoded slash in the path, including dot segments Bun resolved before we saw the URL. */
export function badPath(request: Request): boolean {
  return hadDotSegments(request) || isBadPath(rawPath(request.url));
}

/** The path as the client sent it, before URL normalisation could hide `..` or encoded slashes. */
function rawPath(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const q = url.indexOf('?', start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}
