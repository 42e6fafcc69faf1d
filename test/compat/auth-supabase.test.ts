/**
 * The Supabase provider (spec/auth.md §2, §4): every flow runs through the real @supabase/supabase-js
 * against the GoTrue fake, with ES256 access tokens verified by the gateway through JWKS.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';
import { createAuthApp } from '../../services/auth/app.ts';
import type { BusMessage } from '../../src/bus/types.ts';
import { signIdentity } from '../../src/http/identity.ts';
import { type GoTrueFake, startGoTrueFake } from '../fakes/gotrue.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { DEV_API_KEY, type StackHandle, startStack, TEST_SUPABASE_JWT_SECRET } from '../support/stack.ts';

const WEB = 'http://web.example.test:8080';
const LOGIN_FAILED = { detail: 'Login failed: Invalid login credentials' };
const INVALID_REFRESH = { detail: 'Token refresh failed: Invalid Refresh Token' };
const UNAVAILABLE = { detail: 'Auth provider unavailable' };

afterAll(dropTestDatabases);

for (const backend of testBackends()) {
  describe(`auth with the Supabase provider [${backend.name}]`, () => {
    let fake: GoTrueFake;
    let h: StackHandle;
    const events: BusMessage[] = [];
    const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
      h.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const eventually = async (fn: () => Promise<boolean> | boolean, ms = 1000) => {
      const deadline = Date.now() + ms;
      while (!(await fn())) {
        if (Date.now() > deadline) return false;
        await Bun.sleep(20);
      }
      return true;
    };

    beforeAll(async () => {
      fake = await startGoTrueFake();
      h = await startStack({
        databaseUrl: await backend.databaseUrl(),
        env: {
          SUPABASE_URL: fake.url,
          SUPABASE_ANON_KEY: fake.anonKey,
          WEB_SERVICE_BASE_URL: WEB,
          GAIA_AUTH_RATE_LIMIT: '1000/minute',
          GAIA_AUTH_FAILURE_LIMIT: '1000/minute',
        },
      });
      h.stack.bus.subscribe('gaia.auth.>', (m) => {
        events.push(m);
      });
    });
    afterAll(async () => {
      await h?.stop();
      await fake?.stop();
    });

    test('register with confirmation on: user, no session; link goes to WEB_SERVICE_BASE_URL whatever the body says', async () => {
      const res = await post('/api/v1/auth/register', {
        email: 'Sam@Example.com',
        password: 'supabase pass 1',
        data: { name: 'Sam' },
        redirect_to: 'https://evil.example/steal',
        emailRedirectTo: 'https://evil.example/steal',
        api_base: 'https://evil.example',
        base_url: 'https://evil.example',
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.session).toBeNull();
      const fakeUser = [...fake.users.values()].find((u) => u.email === 'sam@example.com')!;
      expect(body.user).toMatchObject({
        id: fakeUser.id,
        aud: 'authenticated',
        role: 'authenticated',
        email: 'sam@example.com',
        phone: '',
        confirmation_sent_at: expect.any(String),
        app_metadata: { provider: 'email', providers: ['email'] },
        user_metadata: { name: 'Sam' },
        is_anonymous: false,
      });
      const signup = fake.requests.find((r) => r.path === '/auth/v1/signup')!;
      expect(signup.query.redirect_to).toBe(`${WEB}/auth/confirm`);
      expect(signup.body).toMatchObject({
        email: 'sam@example.com',
        password: 'supabase pass 1',
        data: { name: 'Sam' },
      });
      expect(JSON.stringify(fake.requests)).not.toContain('evil.example');
      expect(fake.emails.at(-1)!.redirectTo).toBe(`${WEB}/auth/confirm`);
      const { t, orm } = h.stack.db;
      const [row] = await orm.select().from(t.users).where(eq(t.users.id, fakeUser.id));
      expect(row).toMatchObject({
        email: 'sam@example.com',
        name: 'Sam',
        passwordHash: null,
        emailConfirmedAt: null,
      });
      expect(
        await eventually(() =>
          events.some((e) => e.subject === 'gaia.auth.register' && e.data.user_id === fakeUser.id),
        ),
      ).toBe(true);
      expect(events.find((e) => e.data.user_id === fakeUser.id)!.data).toEqual({
        event: 'register',
        user_id: fakeUser.id,
        provider: 'supabase',
        timestamp: expect.any(String),
      });
    });

    test('login before confirmation is refused; confirm by code; confirming twice is refused', async () => {
      const early = await post('/api/v1/auth/login', {
        email: 'sam@example.com',
        password: 'supabase pass 1',
      });
      expect([early.status, await early.json()]).toEqual([
        400,
        { detail: 'Login failed: Email not confirmed' },
      ]);
      const mail = fake.emails.find((m) => m.email === 'sam@example.com')!;
      const res = await post('/api/v1/auth/confirm', { token: mail.token, email: 'sam@example.com' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body).toEqual({
        message: 'Email confirmed successfully',
        user: expect.objectContaining({ email: 'sam@example.com' }),
      });
      expect(body.user.email_confirmed_at).toEqual(expect.any(String));
      const again = await post('/api/v0.3/auth/confirm', { token: mail.token, email: 'sam@example.com' });
      expect([again.status, await again.json()]).toEqual([
        400,
        { detail: 'Confirmation link is expired or invalid' },
      ]);
      const { t, orm } = h.stack.db;
      const [row] = await orm.select().from(t.users).where(eq(t.users.email, 'sam@example.com'));
      expect(row!.emailConfirmedAt).toBeInstanceOf(Date);
    });

    test('confirm by token_hash, resend-verification, and their failures', async () => {
      await post('/api/v1/auth/register', { email: 'kim@example.com', password: 'supabase pass 2' });
      const resend = await post('/api/v1/auth/resend-verification', {
        email: 'Kim@example.com',
        redirect_to: 'https://evil.example',
      });
      expect([resend.status, await resend.json()]).toEqual([
        200,
        {
          message: 'Verification email sent to kim@example.com',
          result: { user: null, session: null, message_id: null },
        },
      ]);
      const resendReq = fake.requests.filter((r) => r.path === '/auth/v1/resend').at(-1)!;
      expect(resendReq.body).toMatchObject({ email: 'kim@example.com', type: 'signup' });
      expect(resendReq.query.redirect_to).toBe(`${WEB}/auth/confirm`);
      fake.resendRateLimited = true;
      const limited = await post('/api/v1/auth/resend-verification', { email: 'kim@example.com' });
      expect([limited.status, await limited.json()]).toEqual([
        429,
        { detail: 'Too many requests. Please wait before requesting another email' },
      ]);
      fake.resendRateLimited = false;
      const mail = fake.emails.filter((m) => m.email === 'kim@example.com').at(-1)!;
      const ok = await post('/api/v1/auth/confirm', { token_hash: mail.tokenHash });
      expect(((await ok.json()) as any).message).toBe('Email confirmed successfully');
      const bad = await post('/api/v1/auth/confirm', { token_hash: 'deadbeef' });
      expect([bad.status, await bad.json()]).toEqual([
        400,
        { detail: 'Confirmation link is expired or invalid' },
      ]);
    });

    test('login → gateway call with the ES256 token → refresh → old refresh refused → logout → refused', async () => {
      const res = await post('/api/v1/auth/login', { email: 'sam@example.com', password: 'supabase pass 1' });
      expect(res.status).toBe(200);
      const login = (await res.json()) as any;
      expect(login).toEqual({
        user: expect.objectContaining({ email: 'sam@example.com', aud: 'authenticated' }),
        session: expect.objectContaining({
          access_token: expect.any(String),
          token_type: 'bearer',
          expires_in: 3600,
          expires_at: expect.any(Number),
          refresh_token: expect.any(String),
          user: expect.objectContaining({ email: 'sam@example.com' }),
          provider_token: null,
          provider_refresh_token: null,
        }),
      });
      const token = login.session.access_token;
      expect(JSON.parse(atob(token.split('.')[0]))).toMatchObject({ alg: 'ES256' });
      const sid = decodeJwt(token).session_id as string;
      const me = await h.fetch('/api/v1/auth/user', { headers: bearer(token) });
      expect([me.status, ((await me.json()) as any).email]).toEqual([200, 'sam@example.com']);
      const v = await post('/api/v1/auth/validate', { token });
      expect(await v.json()).toEqual({ valid: true, auth_type: 'jwt', user_id: login.user.id, error: null });
      expect(
        await eventually(() =>
          events.some((e) => e.subject === 'gaia.auth.login' && e.data.session_id === sid),
        ),
      ).toBe(true);
      expect(
        events.find((e) => e.subject === 'gaia.auth.login' && e.data.session_id === sid)!.data,
      ).toMatchObject({
        provider: 'supabase',
        method: 'password',
      });
      const { t, orm } = h.stack.db;
      const [row] = await orm.select().from(t.users).where(eq(t.users.id, login.user.id));
      expect(row!.lastSignInAt).toBeInstanceOf(Date);

      const r = await post('/api/v1/auth/refresh', { refresh_token: login.session.refresh_token });
      expect(r.status).toBe(200);
      const refreshed = (await r.json()) as any;
      expect(refreshed.session.refresh_token).not.toBe(login.session.refresh_token);
      const old = await post('/api/v1/auth/refresh', { refresh_token: login.session.refresh_token });
      expect([old.status, await old.json()]).toEqual([400, INVALID_REFRESH]);

      const l2 = (await (
        await post('/api/v1/auth/login', { email: 'sam@example.com', password: 'supabase pass 1' })
      ).json()) as any;
      const a2 = l2.session.access_token;
      const sid2 = decodeJwt(a2).session_id as string;
      const out = await post('/api/v1/auth/logout', {}, bearer(a2));
      expect(await out.json()).toEqual({ message: 'Logged out successfully' });
      expect(fake.loggedOut).toContain(sid2);
      const logoutReq = fake.requests.filter((q) => q.path === '/auth/v1/logout').at(-1)!;
      expect(logoutReq.query.scope).toBe('local');
      expect(
        await eventually(
          async () => (await h.fetch('/api/v1/auth/user', { headers: bearer(a2) })).status === 401,
        ),
      ).toBe(true);
      const [revoked] = await orm.select().from(t.authSessions).where(eq(t.authSessions.id, sid2));
      expect(revoked!.revokedAt).toBeInstanceOf(Date);
      const stale = await post('/api/v1/auth/refresh', { refresh_token: l2.session.refresh_token });
      expect([stale.status, await stale.json()]).toEqual([400, INVALID_REFRESH]);
    });

    test('Supabase refusals map to the spec answers', async () => {
      const wrong = await post('/api/v1/auth/login', { email: 'sam@example.com', password: 'nope nope' });
      expect([wrong.status, await wrong.json()]).toEqual([400, LOGIN_FAILED]);
      const unknown = await post('/api/v1/auth/login', { email: 'ghost@example.com', password: 'nope nope' });
      expect([unknown.status, await unknown.json()]).toEqual([400, LOGIN_FAILED]);
      const taken = await post('/api/v1/auth/register', { email: 'SAM@example.com', password: 'whatever1' });
      expect([taken.status, await taken.json()]).toEqual([
        400,
        { detail: 'This email is already registered' },
      ]);
      const weak = await post('/api/v1/auth/register', { email: 'weak@example.com', password: '123' });
      expect([weak.status, await weak.json()]).toEqual([
        400,
        { detail: 'Registration failed: Password should be at least 6 characters.' },
      ]);
      fake.signupRateLimited = true;
      const limited = await post('/api/v1/auth/register', { email: 'rl@example.com', password: 'whatever1' });
      expect([limited.status, await limited.json()]).toEqual([
        429,
        { detail: 'Too many registration attempts. Please try again later' },
      ]);
      fake.signupRateLimited = false;
      const badRefresh = await post('/api/v1/auth/refresh', { refresh_token: 'unknown-token' });
      expect([badRefresh.status, await badRefresh.json()]).toEqual([400, INVALID_REFRESH]);
      const badEmail = await post('/api/v1/auth/register', { email: 'nope', password: 'whatever1' });
      expect([badEmail.status, await badEmail.json()]).toEqual([
        400,
        { detail: 'Please enter a valid email address' },
      ]);
    });

    test('autoconfirmed sign-up returns a session; PATCH /user updates the name at Supabase with the bearer', async () => {
      fake.autoconfirm = true;
      try {
        const res = await post('/api/v1/auth/register', {
          email: 'auto@example.com',
          password: 'auto pass 1',
          data: { name: 'Auto' },
        });
        const body = (await res.json()) as any;
        expect(body.session).toMatchObject({ token_type: 'bearer', expires_in: 3600, provider_token: null });
        const patch = await h.fetch('/api/v1/auth/user', {
          method: 'PATCH',
          headers: { ...bearer(body.session.access_token), 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Renamed' }),
        });
        expect(patch.status).toBe(200);
        expect(((await patch.json()) as any).user_metadata).toMatchObject({ name: 'Renamed' });
        expect(fake.users.get(body.user.id)!.userMetadata).toMatchObject({ name: 'Renamed' });
        const { t, orm } = h.stack.db;
        const [row] = await orm.select().from(t.users).where(eq(t.users.id, body.user.id));
        expect(row!.name).toBe('Renamed');
        const byKey = await h.dev('/api/v1/auth/user', {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'X' }),
        });
        expect([byKey.status, await byKey.json()]).toEqual([
          403,
          { detail: 'Sign in with a password to update the profile' },
        ]);
      } finally {
        fake.autoconfirm = false;
      }
    });

    test('api-key-login tokens are signed with SUPABASE_JWT_SECRET; HS256 forged with the JWKS key is refused', async () => {
      const res = await post('/api/v1/auth/api-key-login', undefined, { 'X-API-Key': DEV_API_KEY });
      const body = (await res.json()) as any;
      const { payload } = await jwtVerify(
        body.access_token,
        new TextEncoder().encode(TEST_SUPABASE_JWT_SECRET),
      );
      expect(payload.gaia_key_id).toBe('00000000-0000-4000-8000-000000000002');
      const jwks = (await (await fetch(fake.jwksUrl)).json()) as { keys: unknown[] };
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({
        aud: 'authenticated',
        role: 'authenticated',
        sub: crypto.randomUUID(),
        exp: now + 600,
      })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
      const r = await h.fetch('/api/v1/auth/user', { headers: bearer(forged) });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    });

    test('25. provider outage: 503 on register/login/refresh; existing JWTs and keys keep working', async () => {
      const l = (await (
        await post('/api/v1/auth/login', { email: 'sam@example.com', password: 'supabase pass 1' })
      ).json()) as any;
      fake.failStatus = 503;
      try {
        for (const [path, body] of [
          ['/api/v1/auth/register', { email: 'down@example.com', password: 'whatever1' }],
          ['/api/v1/auth/login', { email: 'sam@example.com', password: 'supabase pass 1' }],
          ['/api/v1/auth/refresh', { refresh_token: l.session.refresh_token }],
        ] as Array<[string, unknown]>) {
          const t0 = Date.now();
          const res = await post(path, body);
          expect([path, res.status, await res.json()]).toEqual([path, 503, UNAVAILABLE]);
          expect(Date.now() - t0).toBeLessThan(2000);
        }
        expect((await h.fetch('/api/v1/auth/user', { headers: bearer(l.session.access_token) })).status).toBe(
          200,
        );
        expect((await h.dev('/api/v1/auth/user')).status).toBe(200);
        // Logout still revokes locally when Supabase cannot be told.
        const out = await post('/api/v1/auth/logout', undefined, bearer(l.session.access_token));
        expect(await out.json()).toEqual({ message: 'Logged out successfully' });
        expect(
          await eventually(
            async () =>
              (await h.fetch('/api/v1/auth/user', { headers: bearer(l.session.access_token) })).status ===
              401,
          ),
        ).toBe(true);
      } finally {
        fake.failStatus = null;
      }
    });

    test('25. provider outage: unreachable or slower than the budget is 503', async () => {
      const slow = createAuthApp(
        { config: h.config, db: h.stack.db, bus: h.stack.bus, log: h.stack.log, clients: {} },
        { supabaseTimeoutMs: 300 },
      );
      const identity = await signIdentity(h.config.internalSecret, {
        auth_type: 'anonymous',
        admin: false,
        rid: 'r',
        ip: '127.0.0.1',
      });
      const call = (body: unknown) =>
        slow.handle(
          new Request('http://auth.internal/api/v1/auth/login', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-gaia-identity': identity },
            body: JSON.stringify(body),
          }),
        );
      fake.delayMs = 2000;
      try {
        const t0 = Date.now();
        const res = await call({ email: 'sam@example.com', password: 'supabase pass 1' });
        expect([res.status, await res.json()]).toEqual([503, UNAVAILABLE]);
        expect(Date.now() - t0).toBeLessThan(1500);
      } finally {
        fake.delayMs = 0;
      }
      const gone = await startStack({
        env: { SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_ANON_KEY: 'anon-key-for-a-dead-port' },
      });
      try {
        const res = await gone.fetch('/api/v1/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'a@example.com', password: 'whatever1' }),
        });
        expect([res.status, await res.json()]).toEqual([503, UNAVAILABLE]);
      } finally {
        await gone.stop();
      }
    });

    test('no log line carries a password, token or refresh token', () => {
      const text = h.logs.join('\n');
      expect(text).not.toContain('supabase pass 1');
      expect(text).not.toContain(fake.anonKey);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./);
    });
  });
}
