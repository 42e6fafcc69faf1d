/**
 * Web sessions (spec/web.md §2): opening the cookie, building a session from an auth answer, and
 * refreshing the access token. Refreshes of one session share one gateway call, and the answer is kept
 * briefly, so parallel requests that still carry the old cookie (whose refresh token was just rotated)
 * get the new tokens instead of a "reused token" failure.
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
