/**
 * The wrapper every web route runs in: CSRF check, session, the "no session" answer per kind of route, the
 * error pages, and the headers every answer carries (CSP and friends, the cookie).
 */

import { type AppServices, htmlAnswer, json, redirect, Unauthenticated, WebContext } from './context.ts';
import { GatewayUnreachable } from './gateway-client.ts';
import { box, documentPage, notFoundCard, pageLayout, serverErrorCard } from './layout.ts';
import { isCrossSite } from './session/csrf.ts';
import { confirmSession } from './session/liveness.ts';

/**
 * public: no session needed. page: full pages (a fragment when htmx asks). fragment: htmx-only HTML.
 * stream: text/event-stream. json: JSON helpers.
 */
export type Access = 'public' | 'page' | 'fragment' | 'stream' | 'json';

export type WebHandler = (ctx: WebContext, params: Record<string, string>) => Response | Promise<Response>;

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export function clientIp(request: Request, server: unknown): string {
  const s = server as { requestIP?(r: Request): { address: string } | null } | null | undefined;
  const addr = s?.requestIP?.(request)?.address;
  if (!addr) return '127.0.0.1';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

export class Kit {
  private readonly baseOrigin: string;

  constructor(readonly s: AppServices) {
    this.baseOrigin = new URL(s.config.auth.webBaseUrl).origin;
  }

  /** A cross-site POST, PUT, PATCH or DELETE (see session/csrf.ts). */
  isCrossSite(request: Request): boolean {
    return isCrossSite(request, this.baseOrigin);
  }

  handler(access: Access, fn: WebHandler) {
    return ({ request, params, server }: { request: Request; params?: unknown; server?: unknown }) =>
      this.run(request, server, access, fn, (params ?? {}) as Record<string, string>);
  }

  async run(
    request: Request,
    server: unknown,
    access: Access,
    fn: WebHandler,
    params: Record<string, string> = {},
  ): Promise<Response> {
    const rid = validRid(request.headers.get('x-request-id')) ?? crypto.randomUUID();
    if (this.isCrossSite(request)) return this.finish(json({ detail: 'Forbidden' }, 403), null, rid);
    const { cookie, session } = await this.s.sessions.read(request);
    const ctx = new WebContext(
      this.s,
      request,
      clientIp(request, server),
      rid,
      session,
      !!cookie && !session,
    );
    let res: Response;
    try {
      // Public routes choose what to show from the session, so it must be known alive first.
      if (access === 'public' && ctx.session) await this.confirmLeniently(ctx);
      if (access !== 'public' && !ctx.session) throw new Unauthenticated();
      res = await fn(ctx, params);
      // Nothing in the handler proved the session alive: ask before letting the answer out.
      if (access !== 'public' && ctx.session && !ctx.sessionConfirmed) {
        const alive = await confirmSession(ctx).catch(async (err) => {
          await res.body?.cancel();
          throw err;
        });
        if (!alive) {
          await res.body?.cancel();
          throw new Unauthenticated();
        }
      }
    } catch (err) {
      res = this.failure(err, ctx, access);
    }
    return this.finish(res, ctx, rid);
  }

  /**
   * On a public route an unreachable auth leaves the session as it is: what those routes show from it is
   * the user's own name and a redirect, and every page behind them asks the gateway anyway.
   */
  private async confirmLeniently(ctx: WebContext): Promise<void> {
    try {
      await confirmSession(ctx);
    } catch (err) {
      if (!(err instanceof GatewayUnreachable)) throw err;
      this.s.log.warn('session check failed', { rid: ctx.rid, error: err });
    }
  }

  /** The answer when there is no valid session, per kind of route. */
  unauthenticated(ctx: WebContext, access: Access): Response {
    if (access === 'stream' || access === 'json') return json({ detail: 'Not authenticated' }, 401);
    if (access === 'page' && !ctx.isHtmx) {
      const next = ctx.url.pathname + ctx.url.search;
      return redirect(`/login?next=${encodeURIComponent(next)}`);
    }
    return htmlAnswer(box('error', 'Please log in to continue.'), {
      status: 401,
      headers: { 'hx-redirect': '/login' },
    });
  }

  private failure(err: unknown, ctx: WebContext, access: Access): Response {
    if (err instanceof Unauthenticated) return this.unauthenticated(ctx, access);
    const unreachable = err instanceof GatewayUnreachable;
    if (!unreachable)
      this.s.log.error('web request failed', { rid: ctx.rid, path: ctx.url.pathname, error: err });
    else this.s.log.warn('gateway unreachable', { rid: ctx.rid, path: ctx.url.pathname, error: err });
    const message = unreachable
      ? 'Connection error. Please try again.'
      : 'An unexpected error occurred. Please try again later.';
    const status = unreachable ? 503 : 500;
    if (access === 'json' || access === 'stream') return json({ detail: message }, status);
    if (access === 'page' && !ctx.isHtmx) return this.errorPage(status, message, !!ctx.session);
    return htmlAnswer(box('error', message), { status });
  }

  errorPage(status: number, message: string, signedIn: boolean): Response {
    return htmlAnswer(
      documentPage(pageLayout(null, serverErrorCard(message), signedIn), { debug: this.s.config.debug }),
      { status },
    );
  }

  notFoundPage(signedIn: boolean): Response {
    return htmlAnswer(
      documentPage(pageLayout(null, notFoundCard(), signedIn), { debug: this.s.config.debug }),
      {
        status: 404,
      },
    );
  }

  /** Adds the headers every answer carries. */
  finish(res: Response, ctx: WebContext | null, rid: string): Response {
    const h = res.headers;
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!h.has(k)) h.set(k, v);
    h.set('x-request-id', rid);
    if (ctx?.setCookie) h.append('set-cookie', ctx.setCookie);
    // Pages show a user's data: never cache them (static files set their own policy).
    if (!h.has('cache-control')) h.set('cache-control', 'no-store');
    if (ctx?.isHtmx || ctx?.request.headers.has('hx-request')) h.append('vary', 'HX-Request');
    return res;
  }

  /** For the static handler and the 404 fallback, which have no route. */
  async notFound(request: Request): Promise<Response> {
    if (request.headers.get('hx-request') === 'true')
      return this.finish(htmlAnswer(box('error', 'Not found.'), { status: 404 }), null, crypto.randomUUID());
    const accept = request.headers.get('accept') ?? '';
    if (new URL(request.url).pathname.startsWith('/api/') && !accept.includes('text/html'))
      return this.finish(json({ detail: 'Not Found' }, 404), null, crypto.randomUUID());
    const rid = crypto.randomUUID();
    const { cookie, session } = await this.s.sessions.read(request);
    // The signed-in chrome of the 404 page is for live sessions only, like every other page.
    const ctx = new WebContext(this.s, request, clientIp(request, null), rid, session, !!cookie && !session);
    if (session) await this.confirmLeniently(ctx);
    return this.finish(this.notFoundPage(!!ctx.session), ctx, rid);
  }
}

function validRid(v: string | null): string | null {
  return v && /^[A-Za-z0-9._:-]{1,128}$/.test(v) ? v : null;
}
