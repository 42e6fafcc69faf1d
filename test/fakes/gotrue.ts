/**
 * A wire-true fake of Supabase Auth (GoTrue) on a loopback port, speaking the endpoints
 * @supabase/supabase-js calls: `POST /auth/v1/signup`, `POST /auth/v1/token?grant_type=password|refresh_token`,
 * `POST /auth/v1/logout`, `POST /auth/v1/verify`, `POST /auth/v1/resend`, `GET|PUT /auth/v1/user`,
 * `GET|PUT /auth/v1/admin/users/{id}` and `GET /auth/v1/.well-known/jwks.json`. Errors use GoTrue's
 * 2024-01-01 shape (`{"code":"invalid_credentials","message":"…"}` with `X-Supabase-Api-Version`), which is
 * how the SDK derives `error.code`.
 *
 * Access tokens are ES256 (JWKS) by default, or HS256 with the project's JWT secret. Tests read the
 * confirmation mail it "sent" (`emails`), inspect `requests`, and switch on outages (`delayMs`, `stop()`),
 * rate limits and email confirmation.
 */
import { exportJWK, generateKeyPair, type CryptoKey as JoseKey, jwtVerify, SignJWT } from 'jose';

export interface FakeUser {
  id: string;
  email: string;
  password: string;
  confirmedAt: string | null;
  confirmationSentAt: string | null;
  lastSignInAt: string | null;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface SentEmail {
  type: 'signup';
  email: string;
  token: string;
  tokenHash: string;
  redirectTo: string | null;
}

export interface RecordedGoTrueRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: any;
}

export interface GoTrueFakeOptions {
  /** Confirm sign-ups at once and return a session (Supabase's "Confirm email" off). Default false. */
  autoconfirm?: boolean;
  /** `es256` (JWKS, the default) or `hs256` with `jwtSecret`. */
  signing?: 'es256' | 'hs256';
  jwtSecret?: string;
}

export interface GoTrueFake {
  /** The project URL (`SUPABASE_URL`); the SDK appends `/auth/v1`. */
  readonly url: string;
  readonly anonKey: string;
  readonly serviceKey: string;
  readonly jwtSecret: string;
  readonly jwksUrl: string;
  users: Map<string, FakeUser>;
  emails: SentEmail[];
  requests: RecordedGoTrueRequest[];
  autoconfirm: boolean;
  /** Delay before every answer (simulates a slow provider). */
  delayMs: number;
  signupRateLimited: boolean;
  resendRateLimited: boolean;
  /** Answer every request with this 5xx status. */
  failStatus: number | null;
  /** Session ids ended through `/logout`. */
  loggedOut: string[];
  /** Mints an access token for a user, as GoTrue would. */
  accessTokenFor(userId: string, sessionId?: string): Promise<string>;
  stop(): Promise<void>;
}

interface FakeSession {
  id: string;
  userId: string;
  revoked: boolean;
}

interface FakeRefresh {
  sessionId: string;
  used: boolean;
}

const API_VERSION = '2024-01-01';
const TTL = 3600;

export async function startGoTrueFake(opts: GoTrueFakeOptions = {}): Promise<GoTrueFake> {
  const signing = opts.signing ?? 'es256';
  const jwtSecret = opts.jwtSecret ?? 'gotrue-fake-jwt-secret-0123456789abcdef';
  const hsKey = new TextEncoder().encode(jwtSecret);
  const kid = crypto.randomUUID();
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const anonKey = `anon-${crypto.randomUUID()}`;
  const serviceKey = `service-${crypto.randomUUID()}`;
  const sessions = new Map<string, FakeSession>();
  const refreshTokens = new Map<string, FakeRefresh>();
  let baseUrl = '';

  const now = () => new Date().toISOString();
  const json = (status: number, body: unknown) =>
    new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', 'x-supabase-api-version': API_VERSION },
    });
  const err = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) =>
    json(status, { code, message, ...extra });

  const userJson = (u: FakeUser) => ({
    id: u.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: u.email,
    ...(u.confirmedAt ? { email_confirmed_at: u.confirmedAt } : {}),
    phone: '',
    ...(u.confirmationSentAt ? { confirmation_sent_at: u.confirmationSentAt } : {}),
    ...(u.confirmedAt ? { confirmed_at: u.confirmedAt } : {}),
    ...(u.lastSignInAt ? { last_sign_in_at: u.lastSignInAt } : {}),
    app_metadata: u.appMetadata,
    user_metadata: {
      ...u.userMetadata,
      email: u.email,
      email_verified: !!u.confirmedAt,
      phone_verified: false,
      sub: u.id,
    },
    identities: [
      {
        identity_id: `${u.id.slice(0, 24)}${'a'.repeat(12)}`,
        id: u.id,
        user_id: u.id,
        identity_data: { email: u.email, email_verified: !!u.confirmedAt, phone_verified: false, sub: u.id },
        provider: 'email',
        last_sign_in_at: u.lastSignInAt ?? u.createdAt,
        created_at: u.createdAt,
        updated_at: u.updatedAt,
        email: u.email,
      },
    ],
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    is_anonymous: false,
  });

  const accessTokenFor = async (userId: string, sessionId: string = crypto.randomUUID()) => {
    const u = fake.users.get(userId)!;
    const iat = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({
      iss: `${baseUrl}/auth/v1`,
      aud: 'authenticated',
      sub: u.id,
      email: u.email,
      phone: '',
      app_metadata: u.appMetadata,
      user_metadata: { ...u.userMetadata, email: u.email, email_verified: !!u.confirmedAt, sub: u.id },
      role: 'authenticated',
      aal: 'aal1',
      amr: [{ method: 'password', timestamp: iat }],
      session_id: sessionId,
      is_anonymous: false,
    })
      .setIssuedAt(iat)
      .setExpirationTime(iat + TTL);
    return signing === 'es256'
      ? jwt.setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(privateKey as JoseKey)
      : jwt.setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(hsKey);
  };

  const newSession = async (u: FakeUser, sessionId: string = crypto.randomUUID()) => {
    sessions.set(sessionId, { id: sessionId, userId: u.id, revoked: false });
    const refresh = Buffer.from(crypto.getRandomValues(new Uint8Array(9))).toString('base64url');
    refreshTokens.set(refresh, { sessionId, used: false });
    const access = await accessTokenFor(u.id, sessionId);
    return {
      access_token: access,
      token_type: 'bearer',
      expires_in: TTL,
      expires_at: Math.floor(Date.now() / 1000) + TTL,
      refresh_token: refresh,
      user: userJson(u),
    };
  };

  /** The user and session behind a bearer access token, or null. */
  const bearerUser = async (req: Request): Promise<{ user: FakeUser; sessionId: string } | null> => {
    const m = /^Bearer (.+)$/.exec(req.headers.get('authorization') ?? '');
    if (!m) return null;
    try {
      const { payload } =
        signing === 'es256'
          ? await jwtVerify(m[1]!, publicKey, { audience: 'authenticated' })
          : await jwtVerify(m[1]!, hsKey, { audience: 'authenticated' });
      const user = fake.users.get(String(payload.sub));
      const sid = String(payload.session_id);
      if (!user || sessions.get(sid)?.revoked) return null;
      return { user, sessionId: sid };
    } catch {
      return null;
    }
  };

  const findByEmail = (email: string) =>
    [...fake.users.values()].find((u) => u.email === email.toLowerCase());
  const mail = (u: FakeUser, redirectTo: string | null) => {
    const token = String(Math.floor(Math.random() * 1_000_000)).padStart(6, '0');
    const tokenHash = new Bun.CryptoHasher('sha224').update(`${u.email}${token}`).digest('hex');
    u.confirmationSentAt = now();
    fake.emails.push({ type: 'signup', email: u.email, token, tokenHash, redirectTo });
  };

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, '');
    const query = Object.fromEntries(url.searchParams);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const text = req.method === 'GET' ? '' : await req.text();
    let body: any = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return err(400, 'bad_json', 'Could not parse request body as JSON');
    }
    fake.requests.push({ method: req.method, path, query, headers, body });
    if (fake.delayMs > 0) await Bun.sleep(fake.delayMs);
    if (fake.failStatus) return json(fake.failStatus, { message: 'upstream failure' });
    if (path === '/auth/v1/.well-known/jwks.json')
      return json(200, { keys: signing === 'es256' ? [publicJwk] : [] });
    const apikey = req.headers.get('apikey');
    if (apikey !== anonKey && apikey !== serviceKey) return json(401, { message: 'Invalid API key' });

    if (req.method === 'POST' && path === '/auth/v1/signup') {
      if (fake.signupRateLimited) return err(429, 'over_request_rate_limit', 'Request rate limit reached');
      const email = String(body.email ?? '').toLowerCase();
      const password = String(body.password ?? '');
      if (!email.includes('@'))
        return err(400, 'validation_failed', 'Unable to validate email address: invalid format');
      if (password.length < 6)
        return err(422, 'weak_password', 'Password should be at least 6 characters.', {
          weak_password: { reasons: ['length'] },
        });
      if (findByEmail(email)) return err(422, 'user_already_exists', 'User already registered');
      const t = now();
      const u: FakeUser = {
        id: crypto.randomUUID(),
        email,
        password,
        confirmedAt: fake.autoconfirm ? t : null,
        confirmationSentAt: null,
        lastSignInAt: fake.autoconfirm ? t : null,
        appMetadata: { provider: 'email', providers: ['email'] },
        userMetadata: body.data && typeof body.data === 'object' ? body.data : {},
        createdAt: t,
        updatedAt: t,
      };
      fake.users.set(u.id, u);
      if (fake.autoconfirm) return json(200, await newSession(u));
      mail(u, url.searchParams.get('redirect_to'));
      return json(200, userJson(u));
    }

    if (req.method === 'POST' && path === '/auth/v1/token') {
      const grant = url.searchParams.get('grant_type');
      if (grant === 'password') {
        const u = findByEmail(String(body.email ?? ''));
        if (!u || u.password !== body.password)
          return err(400, 'invalid_credentials', 'Invalid login credentials');
        if (!u.confirmedAt) return err(400, 'email_not_confirmed', 'Email not confirmed');
        u.lastSignInAt = now();
        return json(200, await newSession(u));
      }
      if (grant === 'refresh_token') {
        const rt = refreshTokens.get(String(body.refresh_token ?? ''));
        if (!rt) return err(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
        const s = sessions.get(rt.sessionId);
        if (!s || s.revoked)
          return err(400, 'session_not_found', 'Session from session_id claim in JWT does not exist');
        if (rt.used) {
          s.revoked = true;
          return err(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used');
        }
        rt.used = true;
        return json(200, await newSession(fake.users.get(s.userId)!, s.id));
      }
      return err(400, 'validation_failed', 'unsupported_grant_type');
    }

    if (req.method === 'POST' && path === '/auth/v1/logout') {
      const who = await bearerUser(req);
      if (!who) return err(403, 'session_not_found', 'Session from session_id claim in JWT does not exist');
      const scope = url.searchParams.get('scope') ?? 'global';
      for (const s of sessions.values()) {
        const mine = s.userId === who.user.id;
        if (
          (scope === 'local' && s.id === who.sessionId) ||
          (scope === 'global' && mine) ||
          (scope === 'others' && mine && s.id !== who.sessionId)
        ) {
          s.revoked = true;
          fake.loggedOut.push(s.id);
        }
      }
      return json(204, null);
    }

    if (req.method === 'POST' && path === '/auth/v1/verify') {
      const idx = fake.emails.findIndex((m) =>
        body.token_hash
          ? m.tokenHash === body.token_hash
          : m.email === String(body.email ?? '').toLowerCase() && m.token === body.token,
      );
      if (idx < 0) return err(403, 'otp_expired', 'Token has expired or is invalid');
      const m = fake.emails[idx]!;
      fake.emails.splice(idx, 1);
      const u = findByEmail(m.email)!;
      u.confirmedAt = now();
      u.lastSignInAt = now();
      u.updatedAt = now();
      return json(200, await newSession(u));
    }

    if (req.method === 'POST' && path === '/auth/v1/resend') {
      if (fake.resendRateLimited)
        return err(
          429,
          'over_email_send_rate_limit',
          'For security purposes, you can only request this after 60 seconds.',
        );
      const u = findByEmail(String(body.email ?? ''));
      // GoTrue answers the same for unknown addresses, so the endpoint reveals nothing.
      if (u && !u.confirmedAt) mail(u, url.searchParams.get('redirect_to'));
      return json(200, {});
    }

    if (path === '/auth/v1/user') {
      const who = await bearerUser(req);
      if (!who) return err(401, 'bad_jwt', 'invalid JWT: unable to parse or verify signature');
      if (req.method === 'PUT' && body.data && typeof body.data === 'object') {
        who.user.userMetadata = { ...who.user.userMetadata, ...body.data };
        who.user.updatedAt = now();
      }
      return json(200, userJson(who.user));
    }

    const admin = /^\/auth\/v1\/admin\/users\/([0-9a-f-]{36})$/.exec(path);
    if (admin) {
      if (req.headers.get('authorization') !== `Bearer ${serviceKey}`)
        return err(403, 'not_admin', 'User not allowed');
      const u = fake.users.get(admin[1]!);
      if (!u) return err(404, 'user_not_found', 'User not found');
      if (req.method === 'PUT' && body.user_metadata && typeof body.user_metadata === 'object') {
        u.userMetadata = { ...u.userMetadata, ...body.user_metadata };
        u.updatedAt = now();
      }
      return json(200, userJson(u));
    }
    return err(404, 'not_found', 'Not found');
  }

  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handle });
  baseUrl = `http://127.0.0.1:${server.port}`;
  const fake: GoTrueFake = {
    url: baseUrl,
    anonKey,
    serviceKey,
    jwtSecret,
    jwksUrl: `${baseUrl}/auth/v1/.well-known/jwks.json`,
    users: new Map(),
    emails: [],
    requests: [],
    autoconfirm: opts.autoconfirm ?? false,
    delayMs: 0,
    signupRateLimited: false,
    resendRateLimited: false,
    failStatus: null,
    loggedOut: [],
    accessTokenFor,
    async stop() {
      server.stop(true);
    },
  };
  return fake;
}
