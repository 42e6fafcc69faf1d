/**
 * Gateway authentication (spec/gateway.md §4–§6, auth.md §5.2, §6.3): what a client sees for every kind of
 * credential, and exactly which identity reaches the service. Runs on every configured backend.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { SignJWT, UnsecuredJWT } from 'jose';
import { hashApiKey } from '../../src/security/apikey.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type GatewayHarness, startGatewayHarness } from '../support/gateway-harness.ts';
import { DEV_API_KEY, DEV_USER_ID, TEST_SUPABASE_JWT_SECRET } from '../support/stack.ts';

const NOT_AUTH = { detail: 'Not authenticated. Provide a valid JWT or API Key.' };
const BAD_KEY = { detail: 'Could not validate credentials' };
const DEV_KEY_ID = '00000000-0000-4000-8000-000000000002';

async function jwt(
  claims: Record<string, unknown>,
  secret = TEST_SUPABASE_JWT_SECRET,
  exp: number | null = 3600,
) {
  const now = Math.floor(Date.now() / 1000);
  const j = new SignJWT({ aud: 'authenticated', role: 'authenticated', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now);
  if (exp !== null) j.setExpirationTime(now + exp);
  return j.sign(new TextEncoder().encode(secret));
}

afterAll(dropTestDatabases);

for (const backend of testBackends()) {
  describe(`gateway authentication [${backend.name}]`, () => {
    let h: GatewayHarness;
    const get = (path: string, headers: Record<string, string> = {}) => fetch(h.url + path, { headers });
    const identityOf = async (res: Response) =>
      ((await res.json()) as { identity: Record<string, unknown> }).identity;

    beforeAll(async () => {
      h = await startGatewayHarness({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: natsTestUrl(),
        env: { GAIA_AUTH_FAILURE_LIMIT: '1000/minute', GAIA_RATE_LIMIT: '10000/minute' },
      });
    });
    afterAll(async () => {
      await h?.stop();
    });

    test('the dev API key passes in X-API-Key, any header casing, and as a Bearer value, with one identity', async () => {
      const variants: Array<Record<string, string>> = [
        { 'X-API-Key': DEV_API_KEY },
        { 'x-api-key': DEV_API_KEY },
        { 'X-Api-Key': DEV_API_KEY },
        { Authorization: `Bearer ${DEV_API_KEY}` },
        { authorization: `bearer ${DEV_API_KEY}` },
      ];
      for (const headers of variants) {
        const res = await get('/api/v1/conversations', headers);
        expect(res.status).toBe(200);
        const id = await identityOf(res);
        expect(id).toMatchObject({
          auth_type: 'api_key',
          sub: DEV_USER_ID,
          email: 'dev@gaia.local',
          admin: true,
          key_id: DEV_KEY_ID,
          session_id: null,
        });
        expect(res.headers.get('x-ratelimit-limit')).toBe('10000');
      }
    });

    test('a wrong key is 401 Could not validate credentials with WWW-Authenticate: Bearer', async () => {
      const res = await get('/api/v1/conversations', { 'X-API-Key': 'definitely-not-a-key' });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(BAD_KEY);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(h.echo.seen.some((s) => s.headers['x-api-key'])).toBe(false);
    });

    test('an expired key and a revoked key are refused', async () => {
      const { t, orm } = h.db;
      const now = new Date();
      const expiredKey = `expired-${crypto.randomUUID()}`;
      const revokedKey = `revoked-${crypto.randomUUID()}`;
      const liveKey = `live-${crypto.randomUUID()}`;
      const rows = [
        { key: expiredKey, expiresAt: new Date(Date.now() - 1000), isActive: true, revokedAt: null },
        { key: revokedKey, expiresAt: null, isActive: false, revokedAt: now },
        { key: liveKey, expiresAt: null, isActive: true, revokedAt: null },
      ];
      const ids: string[] = [];
      for (const r of rows) {
        const id = crypto.randomUUID();
        ids.push(id);
        await orm.insert(t.apiKeys).values({
          id,
          userId: DEV_USER_ID,
          name: r.key.split('-')[0]!,
          keyHash: hashApiKey(r.key),
          prefix: r.key.slice(0, 4),
          permissions: {},
          isActive: r.isActive,
          expiresAt: r.expiresAt,
          revokedAt: r.revokedAt,
          createdAt: now,
          updatedAt: now,
        });
      }
      expect((await get('/api/v1/conversations', { 'X-API-Key': expiredKey })).status).toBe(401);
      expect(await (await get('/api/v1/conversations', { 'X-API-Key': revokedKey })).json()).toEqual(BAD_KEY);
      const live = await get('/api/v1/conversations', { 'X-API-Key': liveKey });
      expect(live.status).toBe(200);
      expect((await identityOf(live)).admin).toBe(true); // dev user holds the global admin role

      // Revocation through the bus evicts the cached key at once.
      await orm
        .update(t.apiKeys)
        .set({ isActive: false, revokedAt: new Date() })
        .where(eq(t.apiKeys.id, ids[2]!));
      await h.bus.publish('gaia.auth.api_key.revoked', {
        event: 'api_key.revoked',
        key_id: ids[2]!,
        user_id: DEV_USER_ID,
        timestamp: new Date().toISOString(),
      });
      const deadline = Date.now() + 1000;
      let status = 200;
      while (Date.now() < deadline && status !== 401) {
        status = (await get('/api/v1/conversations', { 'X-API-Key': liveKey })).status;
        if (status !== 401) await Bun.sleep(20);
      }
      expect(status).toBe(401);
    });

    test('no credential is 401 Not authenticated; query keys, cookies and Basic never count', async () => {
      for (const [path, headers] of [
        ['/api/v1/conversations', {}],
        [`/api/v1/conversations?api_key=${DEV_API_KEY}`, {}],
        ['/api/v1/conversations', { Cookie: `api_key=${DEV_API_KEY}` }],
        ['/api/v1/conversations', { Authorization: `Basic ${btoa(`dev:${DEV_API_KEY}`)}` }],
        ['/api/v1/conversations', { Authorization: 'Bearer ' }],
      ] as Array<[string, Record<string, string>]>) {
        const res = await get(path, headers);
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual(NOT_AUTH);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    test('a key sent twice or joined with a comma is invalid', async () => {
      const twice = new Headers();
      twice.append('X-API-Key', DEV_API_KEY);
      twice.append('X-API-Key', DEV_API_KEY);
      let res = await fetch(`${h.url}/api/v1/conversations`, { headers: twice });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(BAD_KEY);
      res = await get('/api/v1/conversations', { 'X-API-Key': `${DEV_API_KEY}, other` });
      expect(await res.json()).toEqual(BAD_KEY);
      res = await get('/api/v1/conversations', { 'X-API-Key': 'k'.repeat(257) });
      expect(await res.json()).toEqual(BAD_KEY);
    });

    test('a JWT signed with SUPABASE_JWT_SECRET and aud authenticated passes, and its user row is created', async () => {
      const sub = crypto.randomUUID();
      const token = await jwt({
        sub,
        email: 'Ada@Example.com',
        user_metadata: { name: 'Ada' },
        session_id: crypto.randomUUID(),
      });
      const res = await get('/api/v1/conversations', { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      const id = await identityOf(res);
      expect(id).toMatchObject({
        auth_type: 'jwt',
        sub,
        email: 'ada@example.com',
        name: 'Ada',
        admin: false,
        key_id: null,
      });
      const rows = await h.db.orm.select().from(h.db.t.users).where(eq(h.db.t.users.id, sub));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.email).toBe('ada@example.com');
    });

    test('a JWT whose email belongs to another user gets a row without an email', async () => {
      const sub = crypto.randomUUID();
      const res = await get('/api/v1/conversations', {
        Authorization: `Bearer ${await jwt({ sub, email: 'dev@gaia.local' })}`,
      });
      expect(res.status).toBe(200);
      const rows = await h.db.orm.select().from(h.db.t.users).where(eq(h.db.t.users.id, sub));
      expect(rows[0]!.email).toBeNull();
    });

    test('forged and foreign tokens fail with error="invalid_token"', async () => {
      const sub = crypto.randomUUID();
      const now = Math.floor(Date.now() / 1000);
      const tokens = {
        wrongAudience: await jwt({ sub, aud: 'anon' }),
        noAudience: await new SignJWT({ sub, exp: now + 60 })
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(TEST_SUPABASE_JWT_SECRET)),
        expired: await jwt({ sub }, TEST_SUPABASE_JWT_SECRET, -1),
        noExp: await jwt({ sub }, TEST_SUPABASE_JWT_SECRET, null),
        wrongSecret: await jwt({ sub }, 'another-secret-another-secret-another'),
        algNone: new UnsecuredJWT({ sub, aud: 'authenticated', exp: now + 60 }).encode(),
        serviceRole: await jwt({ sub, role: 'service_role' }),
        noSub: await jwt({}),
        futureIat: await new SignJWT({ sub, aud: 'authenticated' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt(now + 3600)
          .setExpirationTime(now + 7200)
          .sign(new TextEncoder().encode(TEST_SUPABASE_JWT_SECRET)),
        jku: await new SignJWT({ sub, aud: 'authenticated' })
          .setProtectedHeader({ alg: 'HS256', jku: 'http://127.0.0.1:1/jwks.json' } as never)
          .setExpirationTime(now + 60)
          .sign(new TextEncoder().encode(TEST_SUPABASE_JWT_SECRET)),
      };
      for (const [name, token] of Object.entries(tokens)) {
        const res = await get('/api/v1/conversations', { Authorization: `Bearer ${token}` });
        expect({ name, status: res.status }).toEqual({ name, status: 401 });
        expect(await res.json()).toEqual(NOT_AUTH);
        expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      }
    });

    test('JWT and key together: a valid JWT wins, an invalid JWT falls back to the key', async () => {
      const sub = crypto.randomUUID();
      const good = await jwt({ sub });
      let res = await get('/api/v1/conversations', {
        Authorization: `Bearer ${good}`,
        'X-API-Key': 'garbage',
      });
      expect(res.status).toBe(200);
      expect((await identityOf(res)).sub).toBe(sub);
      const bad = await jwt({ sub }, 'wrong-secret-wrong-secret-wrong-secret');
      res = await get('/api/v1/conversations', { Authorization: `Bearer ${bad}`, 'X-API-Key': DEV_API_KEY });
      expect(res.status).toBe(200);
      expect((await identityOf(res)).sub).toBe(DEV_USER_ID);
      res = await get('/api/v1/conversations', { Authorization: `Bearer ${bad}`, 'X-API-Key': 'garbage' });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(BAD_KEY);
    });

    test('a revoked session stops its access tokens (gaia.auth.logout)', async () => {
      const sessionId = crypto.randomUUID();
      const token = await jwt({ sub: crypto.randomUUID(), session_id: sessionId });
      expect((await get('/api/v1/conversations', { Authorization: `Bearer ${token}` })).status).toBe(200);
      await h.bus.publish('gaia.auth.logout', {
        event: 'logout',
        session_id: sessionId,
        reason: 'user',
        timestamp: new Date().toISOString(),
      });
      await Bun.sleep(50);
      expect((await get('/api/v1/conversations', { Authorization: `Bearer ${token}` })).status).toBe(401);
    });

    test('route rules: K needs a key, P refuses keys, A needs admin', async () => {
      const userJwt = await jwt({ sub: crypto.randomUUID() });
      let res = await fetch(`${h.url}/api/v1/auth/api-key-login`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${userJwt}` },
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: 'API key required' });

      res = await fetch(`${h.url}/api/v1/auth/api-key-login`, {
        method: 'POST',
        headers: { 'X-API-Key': DEV_API_KEY },
      });
      expect(res.status).toBe(200);

      res = await fetch(`${h.url}/api/v1/auth/api-keys`, {
        method: 'POST',
        headers: { 'X-API-Key': DEV_API_KEY },
        body: '{"name":"x"}',
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({
        detail: 'API keys cannot manage API keys; sign in with a password',
      });

      const exchanged = await jwt({ sub: DEV_USER_ID, gaia_key_id: DEV_KEY_ID });
      res = await fetch(`${h.url}/api/v1/auth/api-keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${exchanged}` },
        body: '{"name":"x"}',
      });
      expect(res.status).toBe(403);

      res = await fetch(`${h.url}/api/v0.2/assets/pricing/update`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${userJwt}` },
        body: '{}',
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ detail: 'Admin privileges required' });
      res = await fetch(`${h.url}/api/v0.2/assets/pricing/update`, {
        method: 'POST',
        headers: { 'X-API-Key': DEV_API_KEY },
        body: '{}',
      });
      expect(res.status).toBe(200);
      const adminJwt = await jwt({ sub: crypto.randomUUID(), app_metadata: { admin: true } });
      res = await fetch(`${h.url}/api/v0.2/assets/pricing/update`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminJwt}` },
        body: '{}',
      });
      expect(res.status).toBe(200);
    });

    test('public routes ignore an invalid credential and forward an anonymous identity', async () => {
      const res = await fetch(`${h.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'X-API-Key': 'wrong' },
        body: '{"email":"a@b.co","password":"x"}',
      });
      expect(res.status).toBe(200);
      const id = await identityOf(res);
      expect(id.auth_type).toBe('anonymous');
      expect(id.sub).toBeUndefined();
    });

    test('services get the identity, never credentials, cookies or client X-Gaia-* headers', async () => {
      const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
      const res = await fetch(`${h.url}/api/v1/conversations`, {
        headers: {
          'X-API-Key': DEV_API_KEY,
          Cookie: 'session=abc',
          'X-Gaia-Identity': forged,
          'X-Gaia-Admin': 'true',
          Host: 'evil.example',
          'X-Forwarded-For': '10.0.0.1',
          'Metadata-Flavor': 'Google',
          'X-Response-Format': 'v0.3',
          'User-Agent': 'UnityPlayer/2022.3',
        },
      });
      const report = (await res.json()) as {
        headers: Record<string, string>;
        identity: Record<string, unknown>;
      };
      expect(report.identity.sub).toBe(DEV_USER_ID);
      expect(report.headers['x-gaia-identity']).not.toBe(forged);
      for (const h of ['x-api-key', 'cookie', 'x-gaia-admin', 'metadata-flavor', 'authorization'])
        expect(report.headers[h]).toBeUndefined();
      expect(report.headers['x-response-format']).toBe('v0.3');
      expect(report.headers['user-agent']).toBe('UnityPlayer/2022.3');
      expect(report.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(report.headers['x-request-id']).toBe(res.headers.get('x-request-id')!);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('x-gaia-internal')).toBeNull();
      expect(res.headers.get('server')).not.toBe('echo');
    });

    test('Authorization is forwarded only to logout and PATCH user', async () => {
      const token = await jwt({ sub: crypto.randomUUID(), session_id: crypto.randomUUID() });
      let res = await fetch(`${h.url}/api/v1/auth/logout`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: '{}',
      });
      expect(((await res.json()) as { headers: Record<string, string> }).headers.authorization).toBe(
        `Bearer ${token}`,
      );
      res = await fetch(`${h.url}/api/v1/auth/user`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${token}` },
        body: '{"name":"A"}',
      });
      expect(((await res.json()) as { headers: Record<string, string> }).headers.authorization).toBe(
        `Bearer ${token}`,
      );
      res = await fetch(`${h.url}/api/v1/auth/user`, { headers: { Authorization: `Bearer ${token}` } });
      expect(
        ((await res.json()) as { headers: Record<string, string> }).headers.authorization,
      ).toBeUndefined();
    });

    test('a cached key costs no database query', async () => {
      await get('/api/v1/conversations', { 'X-API-Key': DEV_API_KEY });
      const before = h.gateway.auth.dbLookups;
      for (let i = 0; i < 20; i++) await get('/api/v1/conversations', { 'X-API-Key': DEV_API_KEY });
      expect(h.gateway.auth.dbLookups).toBe(before);
    });

    test('no credential appears in any log line', async () => {
      const all = h.logs.join('\n');
      expect(all).not.toContain(DEV_API_KEY);
      expect(all).not.toContain(hashApiKey(DEV_API_KEY));
      expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
    });
  });
}
