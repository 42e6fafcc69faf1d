/**
 * Auth endpoints through the gateway with the local provider (spec/auth.md §3–§5, §7, §9): exact bodies and
 * statuses per endpoint, the v0.3 aliases, the full session flow, the API-key lifecycle and the bus events.
 * Runs once per configured database backend.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { BusMessage } from '../../src/bus/types.ts';
import { hashApiKey } from '../../src/security/apikey.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { DEV_API_KEY, DEV_USER_ID, type StackHandle, startStack } from '../support/stack.ts';

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const INVALID_REFRESH = { detail: 'Token refresh failed: Invalid Refresh Token' };
const LOGIN_FAILED = { detail: 'Login failed: Invalid login credentials' };
const NOT_AUTH = { detail: 'Not authenticated. Provide a valid JWT or API Key.' };
const BAD_KEY = { detail: 'Could not validate credentials' };

function userShape(email: string, meta: Record<string, unknown>) {
  return {
    id: UUID,
    aud: 'authenticated',
    role: 'authenticated',
    email,
    email_confirmed_at: ISO,
    phone: '',
    confirmed_at: ISO,
    last_sign_in_at: ISO,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: meta,
    identities: [
      {
        identity_id: UUID,
        id: UUID,
        user_id: UUID,
        provider: 'email',
        identity_data: { sub: UUID, email, email_verified: true },
        created_at: ISO,
        updated_at: ISO,
        last_sign_in_at: ISO,
      },
    ],
    created_at: ISO,
    updated_at: ISO,
    is_anonymous: false,
  };
}

function authResponseShape(email: string, meta: Record<string, unknown>) {
  const user = userShape(email, meta);
  return {
    user,
    session: {
      access_token: expect.stringMatching(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/),
      token_type: 'bearer',
      expires_in: 3600,
      expires_at: expect.any(Number),
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      user,
      provider_token: null,
      provider_refresh_token: null,
    },
  };
}

afterAll(dropTestDatabases);

for (const backend of testBackends()) {
  describe(`auth endpoints, local provider [${backend.name}]`, () => {
    let h: StackHandle;
    const events: BusMessage[] = [];
    const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
      h.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const register = async (email: string, password = 'correct horse battery', data?: unknown) => {
      const res = await post('/api/v1/auth/register', { email, password, ...(data ? { data } : {}) });
      expect(res.status).toBe(200);
      return (await res.json()) as any;
    };
    const eventually = async (fn: () => Promise<boolean>, ms = 1000) => {
      const deadline = Date.now() + ms;
      while (!(await fn())) {
        if (Date.now() > deadline) return false;
        await Bun.sleep(20);
      }
      return true;
    };

    beforeAll(async () => {
      h = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: natsTestUrl(),
        env: { GAIA_AUTH_RATE_LIMIT: '1000/minute', GAIA_AUTH_FAILURE_LIMIT: '1000/minute' },
      });
      h.stack.bus.subscribe('gaia.auth.>', (m) => {
        events.push(m);
      });
    });
    afterAll(async () => {
      await h?.stop();
    });

    test('register: 200 AuthResponse with the §3 User, a session and §5.1 claims; emits gaia.auth.register', async () => {
      const before = Math.floor(Date.now() / 1000);
      const body = await register('Ada@Example.com', 'correct horse battery', { name: 'Ada' });
      expect(body).toEqual(authResponseShape('ada@example.com', { name: 'Ada' }));
      expect(Object.keys(body.session)).toEqual([
        'access_token',
        'token_type',
        'expires_in',
        'expires_at',
        'refresh_token',
        'user',
        'provider_token',
        'provider_refresh_token',
      ]);
      const { user, session } = body;
      expect(user.identities[0].id).toBe(user.id);
      expect(decodeProtectedHeader(session.access_token)).toEqual({ alg: 'HS256', typ: 'JWT' });
      const claims = decodeJwt(session.access_token);
      expect(claims).toEqual({
        iss: 'gaia',
        aud: 'authenticated',
        sub: user.id,
        iat: expect.any(Number),
        exp: session.expires_at,
        email: 'ada@example.com',
        phone: '',
        role: 'authenticated',
        aal: 'aal1',
        amr: [{ method: 'password', timestamp: expect.any(Number) }],
        session_id: UUID,
        is_anonymous: false,
        app_metadata: { provider: 'email', providers: ['email'] },
        user_metadata: { name: 'Ada' },
      });
      expect(claims.exp! - claims.iat!).toBe(3600);
      expect(claims.iat!).toBeGreaterThanOrEqual(before);
      // The new user holds the default global role `user`.
      const { t, orm } = h.stack.db;
      const roles = await orm
        .select({ name: t.roles.name })
        .from(t.userRoles)
        .innerJoin(t.roles, eq(t.roles.id, t.userRoles.roleId))
        .where(eq(t.userRoles.userId, user.id));
      expect(roles.map((r) => r.name)).toEqual(['user']);
      const [row] = await orm.select().from(t.users).where(eq(t.users.id, user.id));
      expect(row!.passwordHash).toStartWith('$argon2id$');
      expect(row!.name).toBe('Ada');
      expect(
        await eventually(async () =>
          events.some((e) => e.subject === 'gaia.auth.register' && e.data.user_id === user.id),
        ),
      ).toBe(true);
      const ev = events.find((e) => e.subject === 'gaia.auth.register' && e.data.user_id === user.id)!;
      expect(ev.data).toEqual({ event: 'register', user_id: user.id, provider: 'local', timestamp: ISO });
    });

    test('register failures: 400 with the spec messages, 422 for missing or mistyped fields', async () => {
      const cases: Array<[unknown, number, unknown]> = [
        [
          { email: 'not-an-email', password: 'secret123' },
          400,
          { detail: 'Please enter a valid email address' },
        ],
        [
          { email: `${'a'.repeat(250)}@b.co`, password: 'secret123' },
          400,
          { detail: 'Please enter a valid email address' },
        ],
        [
          { email: 'a\u0007b@b.co', password: 'secret123' },
          400,
          { detail: 'Please enter a valid email address' },
        ],
        [
          { email: 'short@example.com', password: '12345' },
          400,
          { detail: 'Password must be at least 6 characters long' },
        ],
        [
          { email: 'long@example.com', password: 'x'.repeat(1025) },
          400,
          { detail: 'Password must be at most 1024 characters long' },
        ],
        [
          { email: 'ADA@example.com', password: 'secret123' },
          400,
          { detail: 'This email is already registered' },
        ],
        [
          { email: ' ada@example.com ', password: 'secret123' },
          400,
          { detail: 'This email is already registered' },
        ],
        [
          { email: 'x@example.com' },
          422,
          { detail: 'Invalid request body', errors: [{ path: 'password', message: 'Required' }] },
        ],
        [
          { email: 'x@example.com', password: 12345678 },
          422,
          { detail: 'Invalid request body', errors: [{ path: 'password', message: 'Expected a string' }] },
        ],
        [
          { email: 'x@example.com', password: 'secret123', data: [1] },
          422,
          { detail: 'Invalid request body', errors: [{ path: 'data', message: 'Invalid value' }] },
        ],
        [
          { email: 'x@example.com', password: 'secret123', data: { blob: 'x'.repeat(5000) } },
          422,
          {
            detail: 'Invalid request body',
            errors: [{ path: 'data', message: 'Must be at most 4096 bytes' }],
          },
        ],
      ];
      for (const [body, status, expected] of cases) {
        const res = await post('/api/v1/auth/register', body);
        expect({ body, status: res.status }).toEqual({ body, status });
        expect(await res.json()).toEqual(expected);
      }
      const { t, orm } = h.stack.db;
      const rows = await orm.select({ email: t.users.email }).from(t.users);
      expect(rows.map((r) => r.email)).not.toContain('x@example.com');
    });

    test('login: 200 AuthResponse, last_sign_in_at set, a new session; emits gaia.auth.login', async () => {
      const reg = await register('grace@example.com', 'correct horse battery', { name: 'Grace' });
      const res = await post('/api/v1/auth/login', {
        email: 'Grace@Example.com ',
        password: 'correct horse battery',
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body).toEqual(authResponseShape('grace@example.com', { name: 'Grace' }));
      expect(body.user.id).toBe(reg.user.id);
      const sid = decodeJwt(body.session.access_token).session_id;
      expect(sid).not.toBe(decodeJwt(reg.session.access_token).session_id);
      expect(
        await eventually(async () =>
          events.some((e) => e.subject === 'gaia.auth.login' && e.data.session_id === sid),
        ),
      ).toBe(true);
      expect(events.find((e) => e.subject === 'gaia.auth.login' && e.data.session_id === sid)!.data).toEqual({
        event: 'login',
        user_id: reg.user.id,
        provider: 'local',
        method: 'password',
        session_id: sid,
        timestamp: ISO,
      });
    });

    test('login failures: unknown email, wrong password and a passwordless account answer the same 400', async () => {
      await register('linus@example.com');
      const { t, orm } = h.stack.db;
      await orm.insert(t.users).values({ id: crypto.randomUUID(), email: 'nopass@example.com' });
      for (const body of [
        { email: 'nobody@example.com', password: 'whatever1' },
        { email: 'linus@example.com', password: 'wrong password' },
        { email: 'nopass@example.com', password: 'whatever1' },
      ]) {
        const res = await post('/api/v1/auth/login', body);
        expect(res.status).toBe(400);
        expect(await res.text()).toBe(JSON.stringify(LOGIN_FAILED));
      }
      const audits = await orm.select().from(t.auditLog).where(eq(t.auditLog.eventType, 'auth.login_failed'));
      expect(audits.length).toBeGreaterThanOrEqual(3);
      const res = await post('/api/v1/auth/login', { email: 'linus@example.com' });
      expect(res.status).toBe(422);
      expect(await res.json()).toEqual({
        detail: 'Invalid request body',
        errors: [{ path: 'password', message: 'Required' }],
      });
    });

    test('refresh: rotates; a second presentation within 10 s gets the same pair; unknown tokens are 400', async () => {
      const reg = await register('tabs@example.com');
      const r1 = reg.session.refresh_token;
      const res = await post('/api/v1/auth/refresh', { refresh_token: r1 });
      expect(res.status).toBe(200);
      const b1 = (await res.json()) as any;
      expect(b1).toEqual(authResponseShape('tabs@example.com', {}));
      expect(b1.session.refresh_token).not.toBe(r1);
      expect(decodeJwt(b1.session.access_token).session_id).toBe(
        decodeJwt(reg.session.access_token).session_id,
      );
      // A second tab presenting R1 at the same moment gets the same successor, and the session survives.
      const again = (await (await post('/api/v1/auth/refresh', { refresh_token: r1 })).json()) as any;
      expect(again.session.refresh_token).toBe(b1.session.refresh_token);
      const next = await post('/api/v1/auth/refresh', { refresh_token: b1.session.refresh_token });
      expect(next.status).toBe(200);
      for (const token of ['', 'nope', "x'; DROP TABLE users; --", 'a'.repeat(300)]) {
        const bad = await post('/api/v1/auth/refresh', { refresh_token: token });
        expect(bad.status).toBe(400);
        expect(await bad.json()).toEqual(INVALID_REFRESH);
      }
      const missing = await post('/api/v1/auth/refresh', {});
      expect(missing.status).toBe(422);
      expect(await missing.json()).toEqual({
        detail: 'Invalid request body',
        errors: [{ path: 'refresh_token', message: 'Required' }],
      });
    });

    test('logout: always 200; with a valid token the session is revoked and published', async () => {
      for (const [body, headers] of [
        [undefined, {}],
        ['{}', {}],
        ['{"x":1}', bearer('not.a.jwt')],
        ['x'.repeat(1024), {}],
      ] as Array<[string | undefined, Record<string, string>]>) {
        const res = await post('/api/v1/auth/logout', body, headers);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('{"message":"Logged out successfully"}');
      }
      const reg = await register('bye@example.com');
      const sid = decodeJwt(reg.session.access_token).session_id as string;
      const res = await post('/api/v1/auth/logout', '{"x":1}', bearer(reg.session.access_token));
      expect(await res.json()).toEqual({ message: 'Logged out successfully' });
      const { t, orm } = h.stack.db;
      const [row] = await orm.select().from(t.authSessions).where(eq(t.authSessions.id, sid));
      expect(row!.revokedAt).toBeInstanceOf(Date);
      expect(row!.revokedReason).toBe('user');
      expect(
        await eventually(async () =>
          events.some((e) => e.subject === 'gaia.auth.logout' && e.data.session_id === sid),
        ),
      ).toBe(true);
      expect(events.find((e) => e.subject === 'gaia.auth.logout' && e.data.session_id === sid)!.data).toEqual(
        {
          event: 'logout',
          user_id: reg.user.id,
          session_id: sid,
          reason: 'user',
          timestamp: ISO,
        },
      );
      const refused = await post('/api/v1/auth/refresh', { refresh_token: reg.session.refresh_token });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual(INVALID_REFRESH);
    });

    test('validate: jwt, api_key, none; 422 for non-strings; revoked sessions are invalid', async () => {
      const reg = await register('val@example.com');
      const ok = (body: unknown) =>
        post('/api/v1/auth/validate', body).then(async (r) => [r.status, await r.json()]);
      expect(await ok({ token: reg.session.access_token })).toEqual([
        200,
        { valid: true, auth_type: 'jwt', user_id: reg.user.id, error: null },
      ]);
      expect(await ok({ api_key: DEV_API_KEY })).toEqual([
        200,
        { valid: true, auth_type: 'api_key', user_id: DEV_USER_ID, error: null },
      ]);
      expect(await ok({ token: 'garbage', api_key: DEV_API_KEY })).toEqual([
        200,
        { valid: true, auth_type: 'api_key', user_id: DEV_USER_ID, error: null },
      ]);
      const none = {
        valid: false,
        auth_type: 'none',
        user_id: null,
        error: 'No valid authentication credentials provided',
      };
      expect(await ok({})).toEqual([200, none]);
      expect(await ok({ token: 'garbage', api_key: 'garbage' })).toEqual([200, none]);
      expect(await ok({ token: await h.mintJwt({ role: 'service_role' }) })).toEqual([200, none]);
      expect(await ok({ token: 123 })).toEqual([
        422,
        { detail: 'Invalid request body', errors: [{ path: 'token', message: 'Expected a string' }] },
      ]);
      expect(await ok({ api_key: ['k'] })).toEqual([
        422,
        { detail: 'Invalid request body', errors: [{ path: 'api_key', message: 'Expected a string' }] },
      ]);
      await post('/api/v1/auth/logout', undefined, bearer(reg.session.access_token));
      expect(await ok({ token: reg.session.access_token })).toEqual([200, none]);
    });

    test('confirm and resend-verification: 422 first, then 400 (confirmation is off for local accounts)', async () => {
      const disabled = { detail: 'Email confirmation is not enabled on this server' };
      for (const v of ['v1', 'v0.3']) {
        let res = await post(`/api/${v}/auth/confirm`, { token: '123456', email: 'ada@example.com' });
        expect([res.status, await res.json()]).toEqual([400, disabled]);
        res = await post(`/api/${v}/auth/confirm`, { token_hash: 'abc' });
        expect([res.status, await res.json()]).toEqual([400, disabled]);
        res = await post(`/api/${v}/auth/confirm`, { token: '123456' });
        expect([res.status, await res.json()]).toEqual([
          422,
          { detail: 'Invalid request body', errors: [{ path: 'email', message: 'Required' }] },
        ]);
        res = await post(`/api/${v}/auth/resend-verification`, { email: 'ada@example.com' });
        expect([res.status, await res.json()]).toEqual([400, disabled]);
        res = await post(`/api/${v}/auth/resend-verification`, {});
        expect([res.status, await res.json()]).toEqual([
          422,
          { detail: 'Invalid request body', errors: [{ path: 'email', message: 'Required' }] },
        ]);
      }
    });

    test('the /api/v0.3/auth aliases behave identically', async () => {
      const res = await post('/api/v0.3/auth/register', { email: 'v03@example.com', password: 'secret123' });
      expect(res.status).toBe(200);
      const reg = (await res.json()) as any;
      expect(reg).toEqual(authResponseShape('v03@example.com', {}));
      const login = await post('/api/v0.3/auth/login', { email: 'v03@example.com', password: 'secret123' });
      expect(await login.json()).toEqual(authResponseShape('v03@example.com', {}));
      const refreshed = await post('/api/v0.3/auth/refresh', { refresh_token: reg.session.refresh_token });
      expect(refreshed.status).toBe(200);
      const v = await post('/api/v0.3/auth/validate', { token: reg.session.access_token });
      expect(((await v.json()) as any).valid).toBe(true);
      const out = await post('/api/v0.3/auth/logout', '{}', bearer(reg.session.access_token));
      expect(await out.json()).toEqual({ message: 'Logged out successfully' });
      const bad = await post('/api/v0.3/auth/login', { email: 'v03@example.com', password: 'nope nope' });
      expect([bad.status, await bad.json()]).toEqual([400, LOGIN_FAILED]);
    });

    test('full flow: register → login → authenticated call → refresh → reuse revokes → logout → refused', async () => {
      await register('flow@example.com', 'flow password 1');
      const login = (await (
        await post('/api/v1/auth/login', { email: 'flow@example.com', password: 'flow password 1' })
      ).json()) as any;
      const a1 = login.session.access_token;
      const me = await h.fetch('/api/v1/auth/user', { headers: bearer(a1) });
      expect(me.status).toBe(200);
      expect(((await me.json()) as any).email).toBe('flow@example.com');
      const keys = await h.fetch('/api/v1/auth/api-keys', { headers: bearer(a1) });
      expect([keys.status, await keys.json()]).toEqual([200, { api_keys: [] }]);

      // Refresh, then log in again to get a second session for the logout leg.
      const r = (await (
        await post('/api/v1/auth/refresh', { refresh_token: login.session.refresh_token })
      ).json()) as any;
      const a2 = r.session.access_token;
      expect((await h.fetch('/api/v1/auth/user', { headers: bearer(a2) })).status).toBe(200);

      // The old refresh token, presented after the grace window, is theft: the whole session is revoked.
      const { t, orm } = h.stack.db;
      await orm
        .update(t.refreshTokens)
        .set({ usedAt: new Date(Date.now() - 11_000) })
        .where(
          eq(
            t.refreshTokens.tokenHash,
            new Bun.CryptoHasher('sha256').update(login.session.refresh_token).digest('hex'),
          ),
        );
      const reuse = await post('/api/v1/auth/refresh', { refresh_token: login.session.refresh_token });
      expect([reuse.status, await reuse.json()]).toEqual([400, INVALID_REFRESH]);
      const sid = decodeJwt(a2).session_id;
      expect(
        await eventually(async () =>
          events.some(
            (e) =>
              e.subject === 'gaia.auth.logout' &&
              e.data.session_id === sid &&
              e.data.reason === 'refresh_token_reuse',
          ),
        ),
      ).toBe(true);
      const successor = await post('/api/v1/auth/refresh', { refresh_token: r.session.refresh_token });
      expect([successor.status, await successor.json()]).toEqual([400, INVALID_REFRESH]);
      expect(
        await eventually(
          async () => (await h.fetch('/api/v1/auth/user', { headers: bearer(a2) })).status === 401,
        ),
      ).toBe(true);

      // A fresh session: logout stops its access token at the gateway within 1 s.
      const l2 = (await (
        await post('/api/v1/auth/login', { email: 'flow@example.com', password: 'flow password 1' })
      ).json()) as any;
      const a3 = l2.session.access_token;
      expect((await h.fetch('/api/v1/auth/user', { headers: bearer(a3) })).status).toBe(200);
      await post('/api/v1/auth/logout', undefined, bearer(a3));
      const t0 = Date.now();
      expect(
        await eventually(
          async () => (await h.fetch('/api/v1/auth/user', { headers: bearer(a3) })).status === 401,
        ),
      ).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1000);
      const refused = await h.fetch('/api/v1/auth/user', { headers: bearer(a3) });
      expect(await refused.json()).toEqual(NOT_AUTH);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const rr = await post('/api/v1/auth/refresh', { refresh_token: l2.session.refresh_token });
      expect([rr.status, await rr.json()]).toEqual([400, INVALID_REFRESH]);
    });

    test('API keys: create → use → list (no key or hash) → revoke → refused; api-key-login token follows the key', async () => {
      const reg = await register('keys@example.com');
      const auth = bearer(reg.session.access_token);
      const res = await post(
        '/api/v1/auth/api-keys',
        { name: 'Unity build machine', expires_in_days: 90 },
        auth,
      );
      expect(res.status).toBe(201);
      const created = (await res.json()) as any;
      expect(created).toEqual({
        id: UUID,
        name: 'Unity build machine',
        key: expect.stringMatching(/^gaia_test_[A-Za-z0-9]{43}$/),
        prefix: created.key.slice(0, 14),
        created_at: ISO,
        expires_at: ISO,
        last_used_at: null,
        is_active: true,
      });
      expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(90 * 86_400_000);
      const { t, orm } = h.stack.db;
      const [row] = await orm.select().from(t.apiKeys).where(eq(t.apiKeys.id, created.id));
      expect(row!.keyHash).toBe(hashApiKey(created.key));
      expect(JSON.stringify(row)).not.toContain(created.key);

      // Use it, in every header form.
      for (const headers of [{ 'X-API-Key': created.key }, bearer(created.key)]) {
        const me = await h.fetch('/api/v1/auth/user', { headers });
        expect(me.status).toBe(200);
        expect(((await me.json()) as any).id).toBe(reg.user.id);
      }
      // Exchange it for a 15-minute JWT.
      const ex = await post('/api/v1/auth/api-key-login', 'ignored body', { 'X-API-Key': created.key });
      expect(ex.status).toBe(200);
      const exchanged = (await ex.json()) as any;
      expect(exchanged).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 900,
        expires_at: expect.any(Number),
        user: { id: reg.user.id, email: 'keys@example.com' },
      });
      expect(decodeJwt(exchanged.access_token)).toEqual({
        iss: 'gaia',
        aud: 'authenticated',
        sub: reg.user.id,
        user_id: reg.user.id,
        iat: expect.any(Number),
        exp: exchanged.expires_at,
        email: 'keys@example.com',
        phone: '',
        role: 'authenticated',
        aal: 'aal1',
        amr: [{ method: 'api_key', timestamp: expect.any(Number) }],
        is_anonymous: false,
        app_metadata: { provider: 'email', providers: ['email'] },
        user_metadata: { auth_source: 'api_key_exchange', original_auth_type: 'user_api_key' },
        gaia_key_id: created.id,
      });
      expect((await h.fetch('/api/v1/auth/user', { headers: bearer(exchanged.access_token) })).status).toBe(
        200,
      );
      expect(
        await eventually(async () =>
          events.some(
            (e) =>
              e.subject === 'gaia.auth.login' && e.data.method === 'api_key' && e.data.key_id === created.id,
          ),
        ),
      ).toBe(true);
      const loginEvent = events.find((e) => e.subject === 'gaia.auth.login' && e.data.key_id === created.id)!;
      expect(loginEvent.data).toEqual({
        event: 'login',
        user_id: reg.user.id,
        provider: 'local',
        method: 'api_key',
        session_id: null,
        key_id: created.id,
        timestamp: ISO,
      });

      // List: newest first, never the key or its hash.
      const second = (await (await post('/api/v1/auth/api-keys', { name: 'second' }, auth)).json()) as any;
      expect(second.expires_at).toBeNull();
      const list = await h.fetch('/api/v1/auth/api-keys', { headers: { 'X-API-Key': created.key } });
      const listed = (await list.json()) as any;
      expect(listed.api_keys.map((k: any) => k.id)).toEqual([second.id, created.id]);
      expect(listed.api_keys[1]).toEqual({
        id: created.id,
        name: 'Unity build machine',
        prefix: created.prefix,
        created_at: created.created_at,
        expires_at: created.expires_at,
        last_used_at: ISO,
        is_active: true,
        revoked_at: null,
      });
      const listText = JSON.stringify(listed);
      expect(listText).not.toContain(created.key);
      expect(listText).not.toContain(hashApiKey(created.key));

      // Revoke: 204, again 204; the key and its exchanged JWT stop working at once.
      const del = await h.fetch(`/api/v1/auth/api-keys/${created.id}`, { method: 'DELETE', headers: auth });
      expect([del.status, await del.text()]).toEqual([204, '']);
      const again = await h.fetch(`/api/v1/auth/api-keys/${created.id}`, { method: 'DELETE', headers: auth });
      expect(again.status).toBe(204);
      expect(
        await eventually(
          async () =>
            (await h.fetch('/api/v1/auth/user', { headers: { 'X-API-Key': created.key } })).status === 401,
        ),
      ).toBe(true);
      const refused = await h.fetch('/api/v1/auth/user', { headers: { 'X-API-Key': created.key } });
      expect(await refused.json()).toEqual(BAD_KEY);
      expect(
        await eventually(
          async () =>
            (await h.fetch('/api/v1/auth/user', { headers: bearer(exchanged.access_token) })).status === 401,
        ),
      ).toBe(true);
      const v = await post('/api/v1/auth/validate', { token: exchanged.access_token, api_key: created.key });
      expect(((await v.json()) as any).valid).toBe(false);
      const withRevoked = (await (
        await h.fetch('/api/v1/auth/api-keys?include_revoked=true', { headers: auth })
      ).json()) as any;
      expect(withRevoked.api_keys.find((k: any) => k.id === created.id)).toMatchObject({
        is_active: false,
        revoked_at: ISO,
      });
      const active = (await (await h.fetch('/api/v1/auth/api-keys', { headers: auth })).json()) as any;
      expect(active.api_keys.map((k: any) => k.id)).toEqual([second.id]);
      expect(
        await eventually(async () =>
          events.some((e) => e.subject === 'gaia.auth.api_key.revoked' && e.data.key_id === created.id),
        ),
      ).toBe(true);
      expect(
        events
          .filter((e) => e.subject === 'gaia.auth.api_key.revoked' && e.data.key_id === created.id)
          .map((e) => e.data),
      ).toEqual([{ event: 'api_key.revoked', key_id: created.id, user_id: reg.user.id, timestamp: ISO }]);
      expect(
        events.find((e) => e.subject === 'gaia.auth.api_key.created' && e.data.key_id === created.id)!.data,
      ).toEqual({
        event: 'api_key.created',
        key_id: created.id,
        user_id: reg.user.id,
        name: 'Unity build machine',
        prefix: created.prefix,
        expires_at: created.expires_at,
        timestamp: ISO,
      });
      const audit = await orm.select().from(t.auditLog).where(eq(t.auditLog.targetId, created.id));
      expect(audit.map((a) => a.eventType).sort()).toEqual(['auth.api_key.created', 'auth.api_key.revoked']);
    });

    test('API key create: 422 for bad bodies and scope fields, 403 for key callers, 409 at 50 active keys', async () => {
      const reg = await register('limits@example.com');
      const auth = bearer(reg.session.access_token);
      const cases: Array<[unknown, unknown]> = [
        [{}, { detail: 'Invalid request body', errors: [{ path: 'name', message: 'Required' }] }],
        [
          { name: '' },
          {
            detail: 'Invalid request body',
            errors: [{ path: 'name', message: 'Must be at least 1 characters' }],
          },
        ],
        [
          { name: '   ' },
          { detail: 'Invalid request body', errors: [{ path: 'name', message: 'Required' }] },
        ],
        [
          { name: 'x'.repeat(101) },
          {
            detail: 'Invalid request body',
            errors: [{ path: 'name', message: 'Must be at most 100 characters' }],
          },
        ],
        [
          { name: 'k', expires_in_days: 0 },
          { detail: 'Invalid request body', errors: [{ path: 'expires_in_days', message: 'Invalid value' }] },
        ],
        [
          { name: 'k', expires_in_days: 1.5 },
          { detail: 'Invalid request body', errors: [{ path: 'expires_in_days', message: 'Invalid value' }] },
        ],
        [
          { name: 'k', permissions: { admin: true } },
          {
            detail: 'Invalid request body',
            errors: [{ path: 'permissions', message: "Not allowed: a key acts with its owner's rights" }],
          },
        ],
        [
          { name: 'k', scopes: ['*'] },
          {
            detail: 'Invalid request body',
            errors: [{ path: 'scopes', message: "Not allowed: a key acts with its owner's rights" }],
          },
        ],
        [
          { name: 'k', admin: true, key_hash: 'x' },
          {
            detail: 'Invalid request body',
            errors: [
              { path: 'admin', message: "Not allowed: a key acts with its owner's rights" },
              { path: 'key_hash', message: "Not allowed: a key acts with its owner's rights" },
            ],
          },
        ],
      ];
      for (const [body, expected] of cases) {
        const res = await post('/api/v1/auth/api-keys', body, auth);
        expect({ body, status: res.status }).toEqual({ body, status: 422 });
        expect(await res.json()).toEqual(expected);
      }
      const forbidden = { detail: 'API keys cannot manage API keys; sign in with a password' };
      const byKey = await post('/api/v1/auth/api-keys', { name: 'k' }, { 'X-API-Key': DEV_API_KEY });
      expect([byKey.status, await byKey.json()]).toEqual([403, forbidden]);
      const ex = (await (
        await post('/api/v1/auth/api-key-login', undefined, { 'X-API-Key': DEV_API_KEY })
      ).json()) as any;
      const byExchanged = await post('/api/v1/auth/api-keys', { name: 'k' }, bearer(ex.access_token));
      expect([byExchanged.status, await byExchanged.json()]).toEqual([403, forbidden]);

      const { t, orm } = h.stack.db;
      const now = new Date();
      await orm.insert(t.apiKeys).values(
        Array.from({ length: 50 }, (_, i) => ({
          id: crypto.randomUUID(),
          userId: reg.user.id,
          name: `bulk ${i}`,
          keyHash: hashApiKey(`bulk-${reg.user.id}-${i}`),
          prefix: 'bulk',
          createdAt: now,
          updatedAt: now,
        })),
      );
      const full = await post('/api/v1/auth/api-keys', { name: 'one too many' }, auth);
      expect([full.status, await full.json()]).toEqual([
        409,
        { detail: 'API key limit reached (50 active keys)' },
      ]);
    });

    test('API key revoke: other users’ keys and malformed ids are 404; an admin may revoke any key', async () => {
      const owner = await register('owner@example.com');
      const other = await register('other@example.com');
      const key = (await (
        await post('/api/v1/auth/api-keys', { name: 'mine' }, bearer(owner.session.access_token))
      ).json()) as any;
      const notFound = { detail: 'API key not found' };
      for (const id of [key.id, 'not-a-uuid', crypto.randomUUID(), "1' OR '1'='1"]) {
        const res = await h.fetch(`/api/v1/auth/api-keys/${encodeURIComponent(id)}`, {
          method: 'DELETE',
          headers: bearer(other.session.access_token),
        });
        expect([res.status, await res.json()]).toEqual([404, notFound]);
      }
      expect((await h.fetch('/api/v1/auth/user', { headers: { 'X-API-Key': key.key } })).status).toBe(200);
      const list = (await (
        await h.fetch('/api/v1/auth/api-keys', { headers: bearer(other.session.access_token) })
      ).json()) as any;
      expect(list).toEqual({ api_keys: [] });
      // The dev user holds the admin role.
      const res = await h.dev(`/api/v1/auth/api-keys/${key.id}`, { method: 'DELETE' });
      expect(res.status).toBe(204);
      // A caller may revoke the very key it is using.
      const self = (await (
        await post('/api/v1/auth/api-keys', { name: 'self' }, bearer(owner.session.access_token))
      ).json()) as any;
      const selfDel = await h.fetch(`/api/v1/auth/api-keys/${self.id}`, {
        method: 'DELETE',
        headers: { 'X-API-Key': self.key },
      });
      expect(selfDel.status).toBe(204);
    });

    test('GET and PATCH /api/v1/auth/user', async () => {
      const reg = await register('profile@example.com', 'correct horse battery', { name: 'Pro' });
      const auth = bearer(reg.session.access_token);
      const me = await h.fetch('/api/v1/auth/user', { headers: auth });
      expect(await me.json()).toEqual(userShape('profile@example.com', { name: 'Pro' }));
      const patch = (body: unknown) =>
        h.fetch('/api/v1/auth/user', {
          method: 'PATCH',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const ok = await patch({ name: '  Ada Lovelace ' });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as any).user_metadata).toEqual({ name: 'Ada Lovelace' });
      for (const [body, errors] of [
        [{ email: 'x@y.co', name: 'A' }, [{ path: 'email', message: 'Not allowed' }]],
        [{ app_metadata: { admin: true } }, [{ path: 'app_metadata', message: 'Not allowed' }]],
        [{ name: '   ' }, [{ path: 'name', message: 'Must be 1 to 100 characters' }]],
        [{}, [{ path: 'name', message: 'Required' }]],
      ] as Array<[unknown, unknown]>) {
        const res = await patch(body);
        expect([res.status, await res.json()]).toEqual([422, { detail: 'Invalid request body', errors }]);
      }
      // The next access token carries the new name.
      const login = (await (
        await post('/api/v1/auth/login', { email: 'profile@example.com', password: 'correct horse battery' })
      ).json()) as any;
      expect(decodeJwt(login.session.access_token).user_metadata).toEqual({ name: 'Ada Lovelace' });
      const anon = await h.fetch('/api/v1/auth/user');
      expect([anon.status, await anon.json()]).toEqual([401, NOT_AUTH]);
    });

    test('no response body or log line carries a password, token, refresh token, raw key or key hash', async () => {
      const text = h.logs.join('\n');
      expect(text).not.toContain('correct horse battery');
      expect(text).not.toContain(DEV_API_KEY);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./);
      expect(text).not.toMatch(/gaia_test_[A-Za-z0-9]{43}/);
      for (const e of events) {
        const s = JSON.stringify(e.data);
        expect(s).not.toMatch(/eyJ|gaia_test_[A-Za-z0-9]{43}|correct horse|"refresh_token"|key_hash|"ip"/);
      }
    });
  });
}
