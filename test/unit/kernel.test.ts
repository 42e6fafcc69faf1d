/** The platform kernel's small parts: logger, lifecycle events, Python-style JSON, SSE writer, bodies. */
import { describe, expect, test } from 'bun:test';
import { t } from 'elysia';
import { MemoryBus } from '../../src/bus/memory.ts';
import { parseJsonBytes } from '../../src/http/body.ts';
import { HttpError } from '../../src/http/errors.ts';
import { signIdentity, signIdentitySync, verifyIdentity } from '../../src/http/identity.ts';
import { createServiceApp } from '../../src/http/service.ts';
import { pyJson, sseResponse } from '../../src/http/sse.ts';
import { validate } from '../../src/http/validate.ts';
import { announce } from '../../src/lifecycle.ts';
import { createLogger, silentLogger } from '../../src/log.ts';

describe('logger', () => {
  test('JSON lines in production, with the service label and scrubbed secrets', () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'gaia', json: true, sink: (l) => lines.push(l) }).child({
      service: 'auth',
    });
    log.info('login', {
      rid: 'r1',
      password: 'hunter2',
      api_key: 'secret-key',
      key_id: 'k1',
      headers: { authorization: 'Bearer abc' },
      note: 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig',
    });
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: 'info', service: 'auth', msg: 'login', rid: 'r1', key_id: 'k1' });
    expect(rec.password).toBe('[redacted]');
    expect(rec.api_key).toBe('[redacted]');
    expect(rec.headers.authorization).toBe('[redacted]');
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('eyJzdWIi');
  });

  test('levels below the minimum are dropped; on a terminal, pretty lines carry the coloured service label', () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'chat', level: 'warn', color: true, sink: (l) => lines.push(l) });
    log.info('hidden');
    log.warn('shown', { a: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('\x1b[32mchat');
    expect(lines[0]).toContain('shown a=1');
  });
});

describe('lifecycle events', () => {
  test('starting, ready, periodic health and stopping are published', async () => {
    const bus = new MemoryBus();
    const seen: Array<{ subject: string; data: Record<string, unknown> }> = [];
    bus.subscribe('gaia.service.>', (m) => {
      seen.push({ subject: m.subject, data: m.data });
    });
    const a = announce({
      bus,
      service: 'chat',
      version: '1.0.0',
      capabilities: ['chat'],
      log: silentLogger,
      intervalMs: 20,
    });
    a.ready();
    await Bun.sleep(70);
    await a.stopping();
    await bus.drain();
    const statuses = seen.filter((s) => s.subject === 'gaia.service.health').map((s) => s.data.status);
    expect(statuses[0]).toBe('starting');
    expect(statuses).toContain('healthy');
    expect(statuses.at(-1)).toBe('stopping');
    const ready = seen.find((s) => s.subject === 'gaia.service.ready')!;
    expect(ready.data).toMatchObject({
      service: 'chat',
      status: 'ready',
      version: '1.0.0',
      capabilities: ['chat'],
    });
    expect(String(ready.data.timestamp)).toMatch(/Z$/);
  });
});

describe('Python-style JSON', () => {
  test('separators, key order, ASCII escapes and numbers match json.dumps', () => {
    expect(pyJson({ type: 'content', content: 'Café 😀', n: 0.000054, ok: true, none: null })).toBe(
      '{"type": "content", "content": "Caf\\u00e9 \\ud83d\\ude00", "n": 0.000054, "ok": true, "none": null}',
    );
    expect(pyJson(['a\nb\t"\\', 1, [], {}])).toBe('["a\\nb\\t\\"\\\\", 1, [], {}]');
    expect(pyJson('\u0001\u007f')).toBe('"\\u0001\\u007f"');
  });
});

describe('SSE writer', () => {
  test('frames data events and heartbeats, and aborts the producer when the reader cancels', async () => {
    let aborted = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const res = sseResponse({ heartbeatMs: 30 }, async (w) => {
      w.signal.addEventListener('abort', () => {
        aborted = true;
      });
      await w.data({ a: 1 });
      await gate;
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    expect(dec.decode((await reader.read()).value)).toBe('data: {"a": 1}\n\n');
    expect(dec.decode((await reader.read()).value)).toBe(': ping\n\n');
    await reader.cancel();
    release();
    expect(aborted).toBe(true);
  });

  test('no heartbeat precedes the first event unless asked', async () => {
    const res = sseResponse({ heartbeatMs: 10 }, async (w) => {
      await Bun.sleep(60);
      await w.data('[DONE]');
    });
    expect(await res.text()).toBe('data: [DONE]\n\n');
  });
});

describe('bodies and validation', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  test('BOM skipped, empty is undefined, prototype keys dropped at any depth', () => {
    expect(parseJsonBytes(enc('\ufeff{"a":1}'))).toEqual({ a: 1 });
    expect(parseJsonBytes(enc('  '))).toBeUndefined();
    const v = parseJsonBytes(
      enc('{"a":{"__proto__":{"admin":true},"b":[{"constructor":{"prototype":1}}]}}'),
    ) as any;
    expect(v).toEqual({ a: { b: [{}] } });
    expect(({} as any).admin).toBeUndefined();
  });

  test('invalid JSON or UTF-8 is a 400 HttpError', () => {
    for (const bad of [enc('{"a":'), new Uint8Array([0x22, 0xc3, 0x28, 0x22])]) {
      try {
        parseJsonBytes(bad);
        throw new Error('no error');
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(400);
      }
    }
  });

  test('validation errors name paths and never echo values', () => {
    const schema = t.Object({
      email: t.String(),
      n: t.Optional(t.Integer({ minimum: 1 })),
      tags: t.Optional(t.Array(t.String())),
    });
    try {
      validate(schema, { email: 12345678, n: 0, tags: ['ok', 5] });
      throw new Error('no error');
    } catch (err) {
      const e = err as HttpError;
      expect(e.status).toBe(422);
      expect(e.body).toEqual({
        detail: 'Invalid request body',
        errors: [
          { path: 'email', message: 'Expected a string' },
          { path: 'n', message: 'Must be at least 1' },
          { path: 'tags.1', message: 'Expected a string' },
        ],
      });
      expect(JSON.stringify(e.body)).not.toContain('12345678');
    }
    expect(() => validate(schema, { n: 2 })).toThrow(HttpError);
  });
});

describe('identity token', () => {
  test('round-trips, and a token from another secret or audience is refused', async () => {
    const secret = 'x'.repeat(40);
    const tok = await signIdentity(secret, {
      auth_type: 'api_key',
      sub: 'u',
      admin: true,
      key_id: 'k',
      rid: 'r',
      ip: '1.2.3.4',
    });
    expect(await verifyIdentity(secret, tok)).toMatchObject({
      auth_type: 'api_key',
      sub: 'u',
      admin: true,
      key_id: 'k',
      ip: '1.2.3.4',
    });
    expect(await verifyIdentity('y'.repeat(40), tok)).toBeNull();
    expect(await verifyIdentity(secret, `${tok}x`)).toBeNull();
    expect(await verifyIdentity(secret, null)).toBeNull();
    const anon = await signIdentity(secret, {
      auth_type: 'anonymous',
      sub: 'ignored',
      admin: false,
      rid: 'r',
      ip: '',
    });
    expect((await verifyIdentity(secret, anon))!.sub).toBeUndefined();
  });
});

describe('service kernel', () => {
  const config = { internalSecret: 'k'.repeat(40), version: '1.0.0' } as never;
  const deps = { config, db: { ping: async () => {} }, bus: {}, log: silentLogger, clients: {} } as never;
  const app = createServiceApp({ name: 'chat', deps }).post('/v1/echo', ({ body }) => ({ body }));
  const token = signIdentitySync('k'.repeat(40), {
    auth_type: 'api_key',
    sub: 'u',
    admin: false,
    rid: 'r',
    ip: '',
  });
  const call = (path: string, init: RequestInit = {}) =>
    app.handle(new Request(`http://chat.internal${path}`, init));

  test('/health needs no identity; every other route does', async () => {
    expect((await call('/health')).status).toBe(200);
    const res = await call('/v1/echo', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ detail: 'Missing or invalid internal identity' });
  });

  test('kernel-made errors on /v1 carry the OpenAI error object', async () => {
    const res = await call('/v1/echo', {
      method: 'POST',
      body: '{"a":',
      headers: { 'x-gaia-identity': token },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      detail: 'Invalid JSON body',
      error: {
        message: 'Invalid JSON body',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_value',
      },
    });
    const ok = await call('/v1/echo', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'x-gaia-identity': token },
    });
    expect(await ok.json()).toEqual({ body: { a: 1 } });
  });

  test('multipart is 415 before parsing', async () => {
    const form = new FormData();
    form.set('a', '1');
    const res = await call('/v1/echo', { method: 'POST', body: form, headers: { 'x-gaia-identity': token } });
    expect(res.status).toBe(415);
  });
});
