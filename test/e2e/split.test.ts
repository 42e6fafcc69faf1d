/**
 * Split mode as docker compose runs it: one process per service (`bun services/<name>/index.ts`), talking
 * HTTP, sharing one database and one internal secret. Requests, streams and auth cross real HTTP hops, and a
 * stopped service becomes 503 `Service <name> unavailable`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');
const DEV_API_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const dir = mkdtempSync(join(tmpdir(), 'gaia-split-'));
const procs = new Map<string, ReturnType<typeof Bun.spawn>>();

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

const ports = {
  gateway: freePort(),
  web: freePort(),
  auth: freePort(),
  chat: freePort(),
  kb: freePort(),
  asset: freePort(),
};
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  GAIA_ENV: 'development',
  GAIA_DATA_DIR: dir,
  GAIA_INTERNAL_SECRET: 'split-mode-internal-secret-0123456789abcdef',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  GATEWAY_PORT: String(ports.gateway),
  WEB_PORT: String(ports.web),
  AUTH_PORT: String(ports.auth),
  CHAT_PORT: String(ports.chat),
  KB_PORT: String(ports.kb),
  ASSET_PORT: String(ports.asset),
  AUTH_SERVICE_URL: `http://127.0.0.1:${ports.auth}`,
  CHAT_SERVICE_URL: `http://127.0.0.1:${ports.chat}`,
  KB_SERVICE_URL: `http://127.0.0.1:${ports.kb}`,
  ASSET_SERVICE_URL: `http://127.0.0.1:${ports.asset}`,
  GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`,
  GAIA_HEALTH_TIMEOUT_MS: '1500',
};
const gateway = `http://127.0.0.1:${ports.gateway}`;

function start(name: string): void {
  procs.set(
    name,
    Bun.spawn([process.execPath, `services/${name}/index.ts`], {
      cwd: ROOT,
      env,
      stdout: 'ignore',
      stderr: 'pipe',
    }),
  );
}

async function waitFor(
  url: string,
  ok: (r: Response) => Promise<boolean> | boolean,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (await ok(r)) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready`);
    await Bun.sleep(100);
  }
}

beforeAll(async () => {
  // The first process migrates; the others find nothing to do (the migrator's lock serializes them).
  start('auth');
  await waitFor(`http://127.0.0.1:${ports.auth}/health`, (r) => r.status === 200);
  start('chat');
  start('kb');
  start('asset');
  start('gateway');
  start('web');
  await waitFor(`${gateway}/health`, async (r) => {
    const b = (await r.json()) as { services: Record<string, { status: string }> };
    return (
      b.services.auth?.status === 'healthy' &&
      b.services.chat?.status === 'healthy' &&
      b.services.kb?.status === 'healthy' &&
      b.services.asset?.status === 'healthy'
    );
  });
  await waitFor(`http://127.0.0.1:${ports.web}/login`, (r) => r.status === 200);
}, 60_000);

afterAll(async () => {
  for (const p of procs.values()) if (p.exitCode === null) p.kill('SIGKILL');
  await Promise.all([...procs.values()].map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
});

describe('split mode', () => {
  test('asset answers through the gateway over HTTP: a local image is generated, stored and downloadable', async () => {
    const res = await fetch(`${gateway}/api/v1/assets/generate`, {
      method: 'POST',
      headers: { 'X-API-Key': DEV_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ category: 'image', style: 'fantasy', description: 'a lantern over http' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { asset_data: { download_url: string } };
    const link = new URL(body.asset_data.download_url);
    const file = await fetch(`${gateway}${link.pathname}${link.search}`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
  });

  test('kb answers through the gateway over HTTP: a write is committed and searchable', async () => {
    const put = await fetch(`${gateway}/api/v1/kb/files/notes/split.md`, {
      method: 'PUT',
      headers: { 'X-API-Key': DEV_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ content: '# Split\nnarwhal over http\n' }),
    });
    expect(put.status).toBe(201);
    const found = await fetch(`${gateway}/api/v1/kb/search?q=narwhal`, {
      headers: { 'X-API-Key': DEV_API_KEY },
    });
    expect(((await found.json()) as { total: number }).total).toBe(1);
  });

  test('chat answers through the gateway over HTTP', async () => {
    const res = await fetch(`${gateway}/api/v0.3/chat`, {
      method: 'POST',
      headers: { 'X-API-Key': DEV_API_KEY },
      body: JSON.stringify({ message: 'hello over http' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { response: string; conversation_id: string };
    expect(Object.keys(body)).toEqual(['response', 'conversation_id']);
    expect(body.response).toContain('hello over http');
  });

  test('a stream crosses both hops with its terminators', async () => {
    const res = await fetch(`${gateway}/api/v0.3/chat`, {
      method: 'POST',
      headers: { 'X-API-Key': DEV_API_KEY },
      body: JSON.stringify({ message: 'stream over http', stream: true }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await res.text();
    expect(text).toStartWith('data: {"type": "metadata", "conversation_id": "');
    expect(text.endsWith('data: {"type": "done", "finish_reason": "stop"}\n\ndata: [DONE]\n\n')).toBe(true);
  });

  test('register and log in through the auth service process, then use the token on chat', async () => {
    const email = `split-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const reg = await fetch(`${gateway}/api/v1/auth/register`, {
      method: 'POST',
      body: JSON.stringify({ email, password: 'correct horse battery' }),
    });
    expect(reg.status).toBe(200);
    const login = await fetch(`${gateway}/api/v1/auth/login`, {
      method: 'POST',
      body: JSON.stringify({ email, password: 'correct horse battery' }),
    });
    const session = ((await login.json()) as { session: { access_token: string } }).session;
    const list = await fetch(`${gateway}/api/v1/conversations`, {
      headers: { Authorization: `Bearer ${session.access_token}` },
    });
    expect(list.status).toBe(200);
  });

  test('the web UI process serves pages and reaches the gateway', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.web}/login`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<form');
  });

  test('a stopped service is 503 Service <name> unavailable, and /health says so', async () => {
    const chat = procs.get('chat')!;
    chat.kill('SIGTERM');
    expect(await chat.exited).toBe(0);
    const res = await fetch(`${gateway}/api/v1/chat`, {
      method: 'POST',
      headers: { 'X-API-Key': DEV_API_KEY },
      body: JSON.stringify({ message: 'anyone there?' }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ detail: 'Service chat unavailable' });
    const health = (await (await fetch(`${gateway}/health`)).json()) as any;
    expect(health.services.chat).toEqual({ status: 'unhealthy', error: 'connection refused' });
    expect(health.status).toBe('degraded');
  });
});
