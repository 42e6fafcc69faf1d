/**
 * Logout through the web UI against the real gateway and auth: the pre-logout cookie is no session on
 * any route of this web instance, of a second web instance on the same gateway (split mode), or of the
 * stack after a restart, while another signed-in session of the same user keeps working.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createWebApp } from '../../services/web/app.ts';
import { gatewayOverHttp } from '../../services/web/gateway-client.ts';
import { createLogger } from '../../src/log.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const EMAIL = 'logout-user@example.com';
const PASSWORD = 'logout-secret-pw';

for (const backend of testBackends()) {
  describe(`web logout is final (${backend.name})`, () => {
    let s: StackHandle;

    beforeAll(async () => {
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
        env: { GAIA_AUTH_RATE_LIMIT: '1000/minute', GAIA_AUTH_FAILURE_LIMIT: '1000/minute' },
      });
      const res = await s.fetch('/api/v1/auth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
      });
      expect(res.status).toBe(200);
    });
    afterAll(async () => {
      await s?.stop();
    });

    const web = (path: string, cookie?: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      if (cookie) headers.set('cookie', `session=${cookie}`);
      return fetch(s.webUrl + path, { ...init, headers, redirect: 'manual' });
    };

    /** Another web instance (split mode) in front of the same gateway. */
    const secondWeb = () => {
      const app = createWebApp({
        config: s.config,
        log: createLogger({ service: 'web', level: 'error', json: true, sink: () => {} }),
        gateway: gatewayOverHttp(s.url),
      });
      return (path: string, cookie: string) =>
        app.handle(new Request(`http://127.0.0.1:8080${path}`, { headers: { cookie: `session=${cookie}` } }));
    };

    const login = async (): Promise<string> => {
      const res = await web('/auth/login', undefined, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.webUrl },
        body: new URLSearchParams({ email: EMAIL, password: PASSWORD }).toString(),
      });
      expect(res.status).toBe(303);
      const cookie = /^session=([^;]+)/.exec(
        res.headers.getSetCookie().find((c) => c.startsWith('session=')) ?? '',
      );
      if (!cookie) throw new Error('no session cookie');
      return cookie[1]!;
    };

    test('the old cookie is dead here, on a second web instance and after a restart; another session lives', async () => {
      const cookie = await login();
      const other = await login();
      const second = secondWeb();
      expect(await (await web('/api/session', cookie)).json()).toMatchObject({
        authenticated: true,
        user: { email: EMAIL },
      });
      expect((await second('/api/user', cookie)).status).toBe(200);

      const out = await web('/logout', cookie, { method: 'POST', headers: { origin: s.webUrl } });
      expect(out.status).toBe(303);
      expect(out.headers.get('location')).toBe('/login');

      for (const [where, get] of [
        ['this instance', (p: string) => web(p, cookie)],
        ['a second instance', (p: string) => second(p, cookie)],
      ] as const) {
        const session = await get('/api/session');
        expect({ where, body: await session.json() }).toEqual({ where, body: { authenticated: false } });
        expect(session.headers.getSetCookie().some((c) => c.startsWith('session=;'))).toBe(true);
        const user = await get('/api/user');
        expect({ where, status: user.status }).toEqual({ where, status: 401 });
        const chat = await get('/chat');
        expect({ where, location: chat.headers.get('location') }).toEqual({
          where,
          location: '/login?next=%2Fchat',
        });
      }
      // The other session of the same user was not touched.
      expect(await (await web('/api/session', other)).json()).toMatchObject({ authenticated: true });

      await s.restart();
      expect(await (await web('/api/session', cookie)).json()).toEqual({ authenticated: false });
      expect((await web('/api/user', cookie)).status).toBe(401);
      expect((await web('/api-keys', cookie)).headers.get('location')).toBe('/login?next=%2Fapi-keys');
      expect((await web('/api/user', other)).status).toBe(200);
      expect((await secondWeb()('/api/session', cookie)).status).toBe(200);
      expect(await (await secondWeb()('/api/session', cookie)).json()).toEqual({ authenticated: false });
    });
  });
}
