/**
 * When a request's session is checked against auth. A logged-out cookie must get nothing anywhere, but
 * asking auth on every request would double the gateway traffic of the pages that already call it. So:
 *
 * - A gateway call the handler makes with the session's token, answered 2xx on a route that requires
 *   an identity, already proves the session alive (the gateway refuses revoked sessions), and so does a
 *   refresh or a fresh login.
 * - Public routes decide what to show from the session itself (`/api/session`, `/login`'s redirect),
 *   so there the session is confirmed before the handler runs.
 * - Any other route whose handler made no such call (`/api/user`, a fragment answered from the form
 *   alone) is confirmed after the handler, and its answer replaced by "not signed in" when the session
 *   is dead. The web service keeps no data of its own, so a handler that made no gateway call changed
 *   nothing anywhere.
 */
import type { WebContext } from '../context.ts';

/**
 * Gateway routes that answer without an identity (or with a signed link instead): a 2xx there says
 * nothing about the token sent along.
 */
const PUBLIC_GATEWAY_PATH =
  /^\/api\/(v1|v0\.3)\/auth\/(login|register|refresh|logout|validate|confirm|resend-verification)\/?$|^\/api\/v1\/assets\/(test|[^/]+\/(file|preview))\/?$|^\/health|^\/api\/v0\.2\/?$|^\/api\/v0\.2\/health/;

/** Whether a 2xx answer to a token-carrying call on `path` proves the session is alive. */
export function provesSession(path: string, status: number): boolean {
  if (status < 200 || status >= 300) return false;
  const bare = path.split('?')[0] ?? path;
  return !PUBLIC_GATEWAY_PATH.test(bare);
}

/**
 * Confirms the request's session with auth. True when it is alive (the cookie is re-issued when the
 * tokens were refreshed); false when it is dead, and then the session is ended and the cookie cleared.
 * Throws GatewayUnreachable when auth cannot answer.
 */
export async function confirmSession(ctx: WebContext): Promise<boolean> {
  const s = ctx.session;
  if (!s) return false;
  if (ctx.sessionConfirmed) return true;
  const live = await ctx.app.sessions.confirm(s, { ip: ctx.ip, rid: ctx.rid });
  if (!live) {
    ctx.app.log.info('session no longer valid', { rid: ctx.rid });
    ctx.endSession();
    return false;
  }
  if (live !== s) await ctx.setSession(live);
  ctx.sessionConfirmed = true;
  return true;
}
