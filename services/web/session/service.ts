/**
 * Web sessions: opening the cookie, building a session from an auth answer, refreshing the access token,
 * and confirming that the auth session behind a cookie is still alive. Refreshes of one session share one
 * gateway call, and the answer is kept briefly, so parallel requests that still carry the old cookie
 * (whose refresh token was just rotated) get the new tokens instead of a "reused token" failure.
 *
 * Why liveness is asked of auth and not kept here: the cookie is sealed and stateless, so a copy taken
 * before logout opens forever (until WEB_SESSION_MAX_AGE). Logout revokes the auth session, and auth
 * records that in the database every gateway and auth instance shares. Asking auth (`validate`, which
 * checks the token against that record) makes a logout hold on every web instance and across restarts,
 * with no store of our own. The local `ended` set only makes this instance's own logouts final at once.
 */
import type { Config } from '../../../src/config.ts';
import type { Logger } from '../../../src/log.ts';
import { GATEWAY_ORIGIN, type GatewayLike, GatewayUnreachable } from '../gateway-client.ts';
import {
  COOKIE_NAME,
  type CookieOptions,
  CookieSealer,
  clearedCookie,
  readCookie,
  sessionCookie,
  type WebSession,
} from './cookie.ts';

/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_S = 60;
/** How long a refresh answer is reused for requests still carrying the pre-refresh cookie. */
const REFRESH_REUSE_MS = 30_000;
/** Bound on the set of sessions this instance logged out (older entries have expired anyway). */
const ENDED_MAX = 50_000;

export interface AuthUser {
  id: string;
  email?: string;
  email_confirmed_at?: string | null;
  user_metadata?: Record<string, unknown> | null;
  app_metadata?: Record<string, unknown> | null;
}

export interface AuthSession {
  access_token: string;
  refresh_token: string;
  expires_at?: number;
  expires_in?: number;
}

export interface AuthResponse {
  user: AuthUser;
  session: AuthSession | null;
}

export function displayName(user: AuthUser): string {
  const n = user.user_metadata?.name;
  if (typeof n === 'string' && n.trim() !== '') return n.trim();
  return (user.email ?? '').split('@')[0] ?? '';
}

/** The payload of a JWT, read without verification (only for the `session_id` claim). */
function jwtClaims(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1];
    if (!part) return {};
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const nowS = (): number => Math.floor(Date.now() / 1000);

export interface RequestMeta {
  ip: string;
  rid: string;
}

export class Sessions {
  private readonly sealer: CookieSealer;
  readonly cookieOptions: CookieOptions;
  private readonly inflight = new Map<string, { at: number; result: Promise<WebSession | null> }>();
  /** Auth session ids logged out through this instance, with when their cookies would have died (ms). */
  private readonly ended = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly gateway: GatewayLike,
    private readonly log: Logger,
  ) {
    this.sealer = new CookieSealer(config.web.sessionSecret);
    this.cookieOptions = { maxAge: config.web.sessionMaxAge, secure: config.web.cookieSecure };
  }

  /** The session in the request's cookie: `cookie` is the raw value, `session` null when it does not open. */
  async read(request: Request): Promise<{ cookie: string | undefined; session: WebSession | null }> {
    const cookie = readCookie(request.headers.get('cookie'), COOKIE_NAME);
    if (!cookie) return { cookie, session: null };
    const session = await this.sealer.open(cookie);
    if (!session) return { cookie, session: null };
    if (session.iat + this.config.web.sessionMaxAge <= nowS()) return { cookie, session: null };
    return { cookie, session };
  }

  /** A new session from a login answer; `iat` is kept from `previous` on refresh. */
  fromAuth(auth: AuthResponse, previous?: WebSession): WebSession | null {
    const s = auth.session;
    if (!s?.access_token || !auth.user?.id) return null;
    const claims = jwtClaims(s.access_token);
    const exp =
      typeof s.expires_at === 'number'
        ? s.expires_at
        : typeof claims.exp === 'number'
          ? claims.exp
          : nowS() + (s.expires_in ?? 3600);
    return {
      uid: auth.user.id,
      email: auth.user.email ?? previous?.email ?? '',
      name: displayName(auth.user) || previous?.name || '',
      at: s.access_token,
      at_exp: exp,
      rt: s.refresh_token,
      sid: typeof claims.session_id === 'string' ? claims.session_id : (previous?.sid ?? ''),
      iat: previous?.iat ?? nowS(),
      adm: auth.user.app_metadata?.admin === true || previous?.adm === true,
    };
  }

  async cookieFor(session: WebSession): Promise<string> {
    // The cookie dies when the web session does, whatever the refreshes did in between.
    const left = Math.max(0, session.iat + this.config.web.sessionMaxAge - nowS());
    return sessionCookie(await this.sealer.seal(session), { ...this.cookieOptions, maxAge: left });
  }

  clearCookie(): string {
    return clearedCookie(this.cookieOptions);
  }

  /** Records a logout so this instance refuses the session at once, before even asking auth. */
  markEnded(session: WebSession): void {
    if (!session.sid) return;
    const now = Date.now();
    if (this.ended.size >= ENDED_MAX) {
      for (const [k, until] of this.ended) if (until <= now) this.ended.delete(k);
      // Still full: drop the oldest entries; auth still refuses them, this is only a shortcut.
      for (const k of this.ended.keys()) {
        if (this.ended.size < ENDED_MAX) break;
        this.ended.delete(k);
      }
    }
    this.ended.set(session.sid, (session.iat + this.config.web.sessionMaxAge) * 1000);
  }

  private isEnded(session: WebSession): boolean {
    if (!session.sid) return false;
    const until = this.ended.get(session.sid);
    if (until === undefined) return false;
    if (until <= Date.now()) {
      this.ended.delete(session.sid);
      return false;
    }
    return true;
  }

  /**
   * Whether the auth session behind `session` is still alive: the session itself (or refreshed tokens
   * when the access token was about to expire or no longer passes), or null when it was logged out or
   * revoked. Throws GatewayUnreachable when auth cannot say.
   */
  async confirm(session: WebSession, meta: RequestMeta): Promise<WebSession | null> {
    if (this.isEnded(session)) return null;
    if (!this.needsRefresh(session) && (await this.validate(session, meta))) return session;
    // Expiring, or no longer valid (revoked, or signed under a rotated secret): only the refresh token
    // can tell which. A refresh answer reused from another request may predate a logout, so it is
    // checked once more.
    const reused = this.inflight.has(session.rt);
    const next = await this.refresh(session, meta);
    if (!next) return null;
    if (reused && !(await this.validate(next, meta))) return null;
    return next;
  }

  /** Auth's word on the access token, revocation included; throws GatewayUnreachable when it has none. */
  private async validate(session: WebSession, meta: RequestMeta): Promise<boolean> {
    let res: Response;
    try {
      res = await this.gateway.fetch(
        new Request(`${GATEWAY_ORIGIN}/api/v1/auth/validate`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-forwarded-for': meta.ip,
            'x-request-id': meta.rid,
          },
          body: JSON.stringify({ token: session.at }),
        }),
      );
    } catch (err) {
      throw new GatewayUnreachable(err);
    }
    if (!res.ok) {
      // A 429 or 5xx says nothing about the session: undecided is not "alive".
      await res.body?.cancel();
      throw new GatewayUnreachable(new Error(`validate answered ${res.status}`));
    }
    let body: { valid?: unknown; user_id?: unknown } | null;
    try {
      body = (await res.json()) as { valid?: unknown; user_id?: unknown } | null;
    } catch {
      throw new GatewayUnreachable(new Error('validate answered something other than JSON'));
    }
    return body?.valid === true && body.user_id === session.uid;
  }

  needsRefresh(session: WebSession): boolean {
    return session.at_exp - nowS() < REFRESH_MARGIN_S;
  }

  /** New tokens for `session`, or null when the refresh token no longer works. */
  refresh(session: WebSession, meta: RequestMeta): Promise<WebSession | null> {
    const now = Date.now();
    for (const [k, v] of this.inflight) if (now - v.at > REFRESH_REUSE_MS) this.inflight.delete(k);
    const hit = this.inflight.get(session.rt);
    if (hit) return hit.result;
    const result = this.doRefresh(session, meta);
    this.inflight.set(session.rt, { at: now, result });
    // A failure is not worth remembering: a transient outage should not log the user out for 30 s.
    result.then(
      (r) => {
        if (!r) this.inflight.delete(session.rt);
      },
      () => this.inflight.delete(session.rt),
    );
    return result;
  }

  private async doRefresh(session: WebSession, meta: RequestMeta): Promise<WebSession | null> {
    let res: Response;
    try {
      res = await this.gateway.fetch(
        new Request(`${GATEWAY_ORIGIN}/api/v1/auth/refresh`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-forwarded-for': meta.ip,
            'x-request-id': meta.rid,
          },
          body: JSON.stringify({ refresh_token: session.rt }),
        }),
      );
    } catch (err) {
      throw new GatewayUnreachable(err);
    }
    if (res.status >= 500) {
      await res.body?.cancel();
      throw new GatewayUnreachable(new Error(`refresh answered ${res.status}`));
    }
    if (!res.ok) {
      await res.body?.cancel();
      this.log.info('session refresh refused', { status: res.status, rid: meta.rid });
      return null;
    }
    const body = (await res.json()) as AuthResponse;
    return this.fromAuth(body, session);
  }
}
