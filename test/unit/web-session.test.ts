/**
 * The web UI's auth rules and session cookie (spec/web.md §2, §3): every route that needs a session
 * answers "go to login" without one, in the form its kind of request expects; the cookie is sealed,
 * HttpOnly and SameSite=Lax; the token never reaches the page.
 */
import { describe, expect, test } from 'bun:test';
import { createWebApp } from '../../services/web/app.ts';
import { CookieSealer } from '../../services/web/session/cookie.ts';
import { createLogger } from '../../src/log.ts';
import { form, htmx, makeWeb, ORIGIN, sessionCookieOf, signIn, type Web, withCookie } from './web-support.ts';

const PAGES = ['/chat', '/chat/3b9d1c2e-5f4a-4e8b-9c1d-2a7f6e0b8c91', '/profile', '/personas', '/api-keys'];
const FRAGMENTS: Array<[string, string]> = [
  ['POST', '/chat/new'],
  ['POST', '/api/chat/send'],
  ['GET', '/api/conversations'],
  ['DELETE', '/api/conversations/3b9d1c2e-5f4a-4e8b-9c1d-2a7f6e0b8c91'],
  ['GET', '/api/search-conversations?query=x'],
  ['POST', '/api/profile/update'],
  ['POST', '/api/personas/select'],
  ['POST', '/api/personas'],
  ['DELETE', '/api/personas/persona-mu'],
  ['POST', '/api/keys'],
  ['DELETE', '/api/keys/c1a9e2f4-7b3d-4e8a-9c6f-0d2b5e7a1f38'],
];
// The reply stream is POST-only (a GET form would be reachable from a foreign page's link).
const STREAMS: Array<[string, string]> = [['POST', '/api/chat/stream']];
const JSON_ROUTES = ['/api/user', '/api/models'];

const JWT = /eyJ[\w-]+\.[\w-]+\./;

describe('routes that need a session, without one', () => {
  const web = makeWeb();

  for (const path of PAGES) {
    test(`GET ${path} → 303 to /login?next=`, async () => {
      const res = await web.request(path);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
    });
    test(`GET ${path} from htmx → 401 with HX-Redirect`, async () => {
      const res = await web.request(path, htmx());
      expect(res.status).toBe(401);
      expect(res.headers.get('hx-redirect')).toBe('/login');
      expect(await res.text()).toContain('Please log in to continue.');
    });
  }

  for (const [method, path] of FRAGMENTS) {
    test(`${method} ${path} → 401 with HX-Redirect, never the login page`, async () => {
      const res = await web.request(path, htmx({ method }));
      expect(res.status).toBe(401);
      expect(res.headers.get('hx-redirect')).toBe('/login');
      const body = await res.text();
      expect(body).toContain('Please log in to continue.');
      expect(body).not.toContain('auth-form-container');
    });
  }

  for (const [method, path] of STREAMS) {
    test(`${method} ${path} → 401 before any event`, async () => {
      const res = await web.request(path, { method });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(await res.json()).toEqual({ detail: 'Not authenticated' });
    });
  }

  for (const path of JSON_ROUTES) {
    test(`GET ${path} → 401 JSON`, async () => {
      const res = await web.request(path);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: 'Not authenticated' });
    });
  }

  test('no gateway call was made for any of them', () => {
    expect(web.gateway.requests).toEqual([]);
  });

  test('public routes answer without a session', async () => {
    expect((await web.request('/login')).status).toBe(200);
    expect((await web.request('/register')).status).toBe(200);
    expect((await web.request('/email-verification?email=a%40b.co')).status).toBe(200);
    expect(await (await web.request('/api/session')).json()).toEqual({ authenticated: false });
    const root = await web.request('/');
    expect(root.status).toBe(303);
    expect(root.headers.get('location')).toBe('/login');
    const health = (await (await web.request('/health')).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ service: 'web', status: 'healthy', websocket_enabled: false });
  });
});

describe('session cookie', () => {
  test('login sets one sealed, HttpOnly, SameSite=Lax cookie with Max-Age, without Secure on http', async () => {
    const web = makeWeb();
    web.gateway.addUser('ada@example.com', 'secret-pw');
    const res = await web.request('/auth/login', form({ email: 'Ada@Example.com', password: 'secret-pw' }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/chat');
    const cookies = res.headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const c = cookies[0]!;
    expect(c).toMatch(/^session=v1\.[A-Za-z0-9_-]+; /);
    expect(c).toContain('HttpOnly');
    expect(c).toContain('Path=/');
    expect(c).toContain('SameSite=Lax');
    expect(c).toMatch(/Max-Age=(86400|86399)/);
    expect(c).not.toContain('Secure');
    expect(c).not.toMatch(JWT);
  });

  test('WEB_COOKIE_SECURE adds Secure', async () => {
    const web = makeWeb({ WEB_COOKIE_SECURE: 'true' });
    web.gateway.addUser('ada@example.com', 'secret-pw');
    const res = await web.request('/auth/login', form({ email: 'ada@example.com', password: 'secret-pw' }));
    expect(res.headers.getSetCookie()[0]).toContain('; Secure');
  });

  test('an https WEB_SERVICE_BASE_URL turns Secure on by default', async () => {
    const web = makeWeb({ WEB_SERVICE_BASE_URL: 'https://gaia.example.com' });
    expect(web.config.web.cookieSecure).toBe(true);
  });

  test('the cookie opens only under the same secret, and carries the session fields', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const s = await new CookieSealer(web.config.web.sessionSecret).open(cookie);
    expect(s).toMatchObject({ email: 'ada@example.com', name: 'ada' });
    expect(s?.at).toMatch(JWT);
    expect(typeof s?.sid).toBe('string');
    expect(s!.sid.length).toBeGreaterThan(0);
    expect(await new CookieSealer('another-secret-another-secret-another').open(cookie)).toBeNull();
  });

  test('a tampered cookie counts as no session and is cleared', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const flipped = cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA');
    const res = await web.request('/chat', withCookie(flipped));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?next=%2Fchat');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('session=;') && c.includes('Max-Age=0'))).toBe(
      true,
    );
  });

  test('a session older than WEB_SESSION_MAX_AGE is over', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const sealer = new CookieSealer(web.config.web.sessionSecret);
    const s = (await sealer.open(cookie))!;
    const old = await sealer.seal({ ...s, iat: s.iat - web.config.web.sessionMaxAge - 1 });
    expect((await web.request('/chat', withCookie(old))).status).toBe(303);
  });

  test('/api/session and pages never contain the token', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const session = await web.request('/api/session', withCookie(cookie));
    const body = await session.text();
    expect(JSON.parse(body)).toEqual({
      authenticated: true,
      user: { id: expect.any(String), email: 'ada@example.com', name: 'ada' },
    });
    expect(body).not.toMatch(JWT);
    for (const path of ['/chat', '/profile', '/personas', '/api-keys']) {
      const res = await web.request(path, withCookie(cookie));
      expect(res.status).toBe(200);
      expect(await res.text()).not.toMatch(JWT);
    }
  });

  test('gateway calls carry the bearer token, X-Forwarded-For and X-Request-Id', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    web.gateway.requests.length = 0;
    await web.request(
      '/api/conversations',
      withCookie(cookie, htmx({ headers: { 'x-request-id': 'rid-123' } })),
    );
    const call = web.gateway.requests.find((r) => r.path.startsWith('/api/v1/conversations'))!;
    expect(call.headers.get('authorization')).toMatch(/^Bearer eyJ/);
    expect(call.headers.get('x-forwarded-for')).toBe('127.0.0.1');
    expect(call.headers.get('x-request-id')).toBe('rid-123');
  });

  test('logout revokes the session at the gateway, clears the cookie, and the old cookie stops working', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const res = await web.request('/logout', withCookie(cookie));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login');
    expect(res.headers.getSetCookie()[0]).toMatch(/^session=; HttpOnly; Path=\/; SameSite=Lax; Max-Age=0/);
    expect(web.gateway.revokedSessions.size).toBe(1);
    const replay = await web.request('/chat', withCookie(cookie));
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toBe('/login?next=%2Fchat');
    const frag = await web.request('/api/conversations', withCookie(cookie, htmx()));
    expect(frag.status).toBe(401);
    expect(frag.headers.get('hx-redirect')).toBe('/login');
  });

  test('logout succeeds for the browser even when the gateway is down', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    web.gateway.down = true;
    const res = await web.request('/logout', withCookie(cookie, { method: 'POST' }));
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()[0]).toContain('Max-Age=0');
  });

  test('a token about to expire is refreshed once for concurrent requests, and the cookie re-issued', async () => {
    const web = makeWeb();
    web.gateway.tokenTtl = 30;
    const cookie = await signIn(web);
    web.gateway.tokenTtl = 3600;
    const answers = await Promise.all(
      [1, 2, 3].map(() => web.request('/api/conversations', withCookie(cookie, htmx()))),
    );
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(sessionCookieOf(a)).toMatch(/^v1\./);
    }
    expect(web.gateway.refreshCalls).toBe(1);
    const renewed = sessionCookieOf(answers[0]!)!;
    const s = await new CookieSealer(web.config.web.sessionSecret).open(renewed);
    expect(s!.at_exp).toBeGreaterThan(Date.now() / 1000 + 600);
  });

  test('a 401 from the gateway triggers one refresh and one retry', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    // The access token stops working (as after a secret rotation) but the refresh token still does.
    web.gateway.tokens.clear();
    const res = await web.request('/api/conversations', withCookie(cookie, htmx()));
    expect(res.status).toBe(200);
    expect(web.gateway.refreshCalls).toBe(1);
    expect(sessionCookieOf(res)).toMatch(/^v1\./);
  });
});

describe('CSRF', () => {
  test('a cross-site POST is refused; same-origin and header-less ones pass', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const evil = await web.request(
      '/chat/new',
      withCookie(cookie, htmx({ method: 'POST', headers: { origin: 'https://evil.example' } })),
    );
    expect(evil.status).toBe(403);
    expect(await evil.json()).toEqual({ detail: 'Forbidden' });
    const viaReferer = await web.request(
      '/logout',
      withCookie(cookie, { method: 'POST', headers: { referer: 'https://evil.example/page' } }),
    );
    expect(viaReferer.status).toBe(403);
    const same = await web.request(
      '/chat/new',
      withCookie(cookie, htmx({ method: 'POST', headers: { origin: ORIGIN } })),
    );
    expect(same.status).toBe(200);
    const none = await web.request('/chat/new', withCookie(cookie, htmx({ method: 'POST' })));
    expect(none.status).toBe(200);
  });
});

describe('security headers', () => {
  test('pages carry the CSP, nosniff and the referrer policy', async () => {
    const web = makeWeb();
    const res = await web.request('/login');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
  });
});

/** A second web instance (or this one after a restart) on the same gateway and secrets. */
function anotherInstance(web: Web) {
  const app = createWebApp({
    config: web.config,
    log: createLogger({ service: 'web', level: 'error', json: true, sink: () => {} }),
    gateway: web.gateway,
  });
  return (path: string, init: RequestInit = {}) => app.handle(new Request(ORIGIN + path, init));
}

const cleared = (res: Response) =>
  res.headers.getSetCookie().some((c) => c.startsWith('session=;') && c.includes('Max-Age=0'));

describe('a logged-out session is dead everywhere', () => {
  test('after logout the old cookie is no session on the session and user helpers, public pages and 404s', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    expect(await (await web.request('/api/session', withCookie(cookie))).json()).toMatchObject({
      authenticated: true,
    });
    await web.request('/logout', withCookie(cookie));

    const session = await web.request('/api/session', withCookie(cookie));
    expect(await session.json()).toEqual({ authenticated: false });
    expect(cleared(session)).toBe(true);
    const user = await web.request('/api/user', withCookie(cookie));
    expect(user.status).toBe(401);
    expect(await user.json()).toEqual({ detail: 'Not authenticated' });
    // Public pages treat it as signed out: the login page shows instead of a redirect into the app.
    const login = await web.request('/login', withCookie(cookie));
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('auth-form-container');
    const root = await web.request('/', withCookie(cookie));
    expect(root.headers.get('location')).toBe('/login');
    const missing = await web.request('/no-such-page', withCookie(cookie));
    expect(missing.status).toBe(404);
    const page = await missing.text();
    expect(page).toContain('href="/login"');
    expect(page).not.toContain('href="/logout"');
    // A fragment answered from the form alone (no gateway call) still refuses.
    const frag = await web.request('/api/keys', withCookie(cookie, htmx(form({ name: '' }))));
    expect(frag.status).toBe(401);
    expect(frag.headers.get('hx-redirect')).toBe('/login');
  });

  test('a logout through one web instance holds on another one and after a restart', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const other = anotherInstance(web);
    // The other instance has seen the session alive before the logout.
    expect(await (await other('/api/session', withCookie(cookie))).json()).toMatchObject({
      authenticated: true,
    });
    expect((await other('/api/user', withCookie(cookie))).status).toBe(200);

    await web.request('/logout', withCookie(cookie, { method: 'POST' }));

    expect(await (await other('/api/session', withCookie(cookie))).json()).toEqual({ authenticated: false });
    expect((await other('/api/user', withCookie(cookie))).status).toBe(401);
    const restarted = anotherInstance(web);
    expect(await (await restarted('/api/session', withCookie(cookie))).json()).toEqual({
      authenticated: false,
    });
    expect((await restarted('/chat', withCookie(cookie))).headers.get('location')).toBe(
      '/login?next=%2Fchat',
    );
  });

  test('a session revoked elsewhere (not through this web UI) is dead here too', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const s = (await new CookieSealer(web.config.web.sessionSecret).open(cookie))!;
    web.gateway.revokedSessions.add(s.sid);
    expect(await (await web.request('/api/session', withCookie(cookie))).json()).toEqual({
      authenticated: false,
    });
    expect((await web.request('/api/user', withCookie(cookie))).status).toBe(401);
  });

  test('a live session is confirmed with auth only when nothing else proved it', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const validations = () => web.gateway.requests.filter((r) => r.path === '/api/v1/auth/validate');
    web.gateway.requests.length = 0;
    const user = await web.request('/api/user', withCookie(cookie));
    expect(await user.json()).toEqual({
      user: { id: expect.any(String), email: 'ada@example.com', name: 'ada' },
    });
    expect(validations()).toHaveLength(1);
    expect(JSON.parse(validations()[0]!.body)).toEqual({ token: expect.stringMatching(JWT) });
    expect(validations()[0]!.headers.get('authorization')).toBeNull();
    // A page that reads the user's data through the gateway needs no extra question.
    web.gateway.requests.length = 0;
    expect((await web.request('/api/conversations', withCookie(cookie, htmx()))).status).toBe(200);
    expect(validations()).toHaveLength(0);
  });

  test('an access token past its time is refreshed by the check, not taken as a logout', async () => {
    const web = makeWeb();
    web.gateway.tokenTtl = 30;
    const cookie = await signIn(web);
    web.gateway.tokenTtl = 3600;
    const res = await web.request('/api/session', withCookie(cookie));
    expect(await res.json()).toMatchObject({ authenticated: true });
    expect(web.gateway.refreshCalls).toBe(1);
    expect(sessionCookieOf(res)).toMatch(/^v1\./);
  });

  test('when auth cannot be asked, /api/user answers 503 and /api/session keeps the session', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    web.gateway.down = true;
    const user = await web.request('/api/user', withCookie(cookie));
    expect(user.status).toBe(503);
    expect(await user.json()).toEqual({ detail: 'Connection error. Please try again.' });
    const session = await web.request('/api/session', withCookie(cookie));
    expect(await session.json()).toMatchObject({ authenticated: true });
    expect(cleared(session)).toBe(false);
  });
});

describe('CSRF origin check compares scheme, host and port', () => {
  const post = (cookie: string, headers: Record<string, string>) =>
    withCookie(cookie, htmx({ method: 'POST', headers }));

  test('another scheme, port or host on the same name is another site', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    for (const origin of [
      'https://localhost:8080',
      'http://localhost:8081',
      'http://localhost',
      'http://127.0.0.1:8080',
      'http://localhost.evil.example:8080',
    ]) {
      const res = await web.request('/chat/new', post(cookie, { origin }));
      expect({ origin, status: res.status }).toEqual({ origin, status: 403 });
    }
    expect((await web.request('/chat/new', post(cookie, { origin: ORIGIN }))).status).toBe(200);
  });

  test('Origin: null and unreadable origins are refused', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    for (const origin of ['null', 'not a url', 'file:///tmp/x.html', 'data:text/html,x']) {
      const res = await web.request('/chat/new', post(cookie, { origin, referer: `${ORIGIN}/chat` }));
      expect({ origin, status: res.status }).toEqual({ origin, status: 403 });
    }
  });

  test('without Origin the Referer decides, with its scheme and port', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    expect(
      (await web.request('/chat/new', post(cookie, { referer: 'https://localhost:8080/chat' }))).status,
    ).toBe(403);
    expect(
      (await web.request('/chat/new', post(cookie, { referer: 'http://localhost:9/chat' }))).status,
    ).toBe(403);
    expect((await web.request('/chat/new', post(cookie, { referer: `${ORIGIN}/chat` }))).status).toBe(200);
  });

  test('with neither header, a browser saying cross-site is refused; one saying same-origin passes', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    for (const site of ['cross-site', 'same-site']) {
      const res = await web.request('/chat/new', post(cookie, { 'sec-fetch-site': site }));
      expect({ site, status: res.status }).toEqual({ site, status: 403 });
    }
    expect((await web.request('/chat/new', post(cookie, { 'sec-fetch-site': 'same-origin' }))).status).toBe(
      200,
    );
  });

  test('the public base URL is ours only with its own scheme', async () => {
    const web = makeWeb({ WEB_SERVICE_BASE_URL: 'https://gaia.example.com', WEB_COOKIE_SECURE: 'false' });
    const cookie = await signIn(web);
    expect(
      (await web.request('/chat/new', post(cookie, { origin: 'https://gaia.example.com' }))).status,
    ).toBe(200);
    expect(
      (await web.request('/chat/new', post(cookie, { origin: 'https://gaia.example.com:443' }))).status,
    ).toBe(200);
    expect((await web.request('/chat/new', post(cookie, { origin: 'http://gaia.example.com' }))).status).toBe(
      403,
    );
    expect(
      (await web.request('/chat/new', post(cookie, { origin: 'https://gaia.example.com:8443' }))).status,
    ).toBe(403);
  });

  test('a refused request changes nothing', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const before = web.gateway.conversations.size;
    web.gateway.requests.length = 0;
    const res = await web.request('/chat/new', post(cookie, { origin: 'https://localhost:8080' }));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ detail: 'Forbidden' });
    expect(web.gateway.requests).toEqual([]);
    expect(web.gateway.conversations.size).toBe(before);
  });
});
