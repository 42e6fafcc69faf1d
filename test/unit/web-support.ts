/** Builds the web UI against the fake gateway for server-side tests, and a tiny cookie-keeping client. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebApp } from '../../services/web/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { FakeGateway } from './web-fake-gateway.ts';

export const ORIGIN = 'http://localhost:8080';

export function makeWeb(env: Record<string, string> = {}) {
  const gateway = new FakeGateway();
  const logs: string[] = [];
  const config = loadConfig({
    GAIA_ENV: 'test',
    GAIA_DATA_DIR: mkdtempSync(join(tmpdir(), 'gaia-web-')),
    GAIA_JWT_SECRET: 'web-test-jwt-secret-0123456789abcdef0123',
    WEB_SESSION_SECRET: 'web-test-session-secret-0123456789abcdef',
    ...env,
  });
  const log = createLogger({ service: 'web', level: 'debug', json: true, sink: (l) => logs.push(l) });
  const app = createWebApp({ config, log, gateway });
  const request = (path: string, init: RequestInit = {}) => app.handle(new Request(ORIGIN + path, init));
  return { app, gateway, config, logs, request };
}

export type Web = ReturnType<typeof makeWeb>;

export const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

export const htmx = (init: RequestInit = {}): RequestInit => {
  const headers = new Headers(init.headers);
  headers.set('hx-request', 'true');
  return { ...init, headers };
};

/** The `session=` value a response sets, if any. */
export function sessionCookieOf(res: Response): string | undefined {
  for (const c of res.headers.getSetCookie()) {
    const m = /^session=([^;]*)/.exec(c);
    if (m) return m[1];
  }
  return undefined;
}

/** Registers (in the fake) and logs in through the web UI; returns the cookie value. */
export async function signIn(web: Web, email = 'ada@example.com', password = 'secret-pw'): Promise<string> {
  if (!web.gateway.users.has(email)) web.gateway.addUser(email, password);
  const res = await web.request('/auth/login', form({ email, password }));
  const cookie = sessionCookieOf(res);
  if (res.status !== 303 || !cookie) throw new Error(`login failed: ${res.status}`);
  return cookie;
}

export function withCookie(cookie: string, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers);
  headers.set('cookie', `session=${cookie}`);
  return { ...init, headers };
}

/** Reads a whole SSE body into its `data:` payloads. */
export async function ssePayloads(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((b) =>
      b
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    )
    .filter(Boolean);
}
