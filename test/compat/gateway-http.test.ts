/**
 * The gateway's HTTP contract (spec/gateway.md §1, §3, §6–§13): banner, health, CORS, limits, body rules,
 * errors, request ids, timing headers, compression and stream relaying.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type GatewayHarness, startGatewayHarness } from '../support/gateway-harness.ts';
import { DEV_API_KEY } from '../support/stack.ts';

const KEY = { 'X-API-Key': DEV_API_KEY };
afterAll(dropTestDatabases);

describe('gateway HTTP contract', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness({ missing: ['kb'], env: { GAIA_RATE_LIMIT: '10000/minute' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('GET / is the banner', async () => {
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { message: string; versions: Record<string, string> };
    expect(body.message).toContain('LLM Platform API is running');
    expect(Object.keys(body.versions)).toEqual(['v1', 'v0.3', 'v0.2', 'openai']);
    expect(await (await fetch(`${h.url}/`)).text()).not.toContain(': ');
  });

  test('/api/v0.2 info and health', async () => {
    expect(await (await fetch(`${h.url}/api/v0.2`)).json()).toMatchObject({
      version: '0.2',
      status: 'stable',
    });
    expect(await (await fetch(`${h.url}/api/v0.2/health`)).json()).toEqual({
      status: 'healthy',
      version: '0.2',
    });
  });

  test('/health has the spec shape and reports a missing service as unhealthy (degraded overall)', async () => {
    const res = await fetch(`${h.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(Object.keys(body)).toEqual(['status', 'timestamp', 'version', 'services', 'database', 'nats']);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(body.database).toEqual({ status: 'healthy', database: 'sqlite', responsive: true });
    expect(body.nats).toEqual({ status: 'healthy', connected: true, mode: 'memory' });
    // Echo services answer /health with the echo report, which has no status:"healthy".
    expect(body.services.auth.status).toBe('unhealthy');
    expect(typeof body.services.auth.response_time).toBe('number');
    expect(body.services.kb).toEqual({ status: 'unhealthy', error: 'service not deployed' });
    expect(body.status).toBe('degraded');
    expect(JSON.stringify(body)).not.toContain('http');
  });

  test('/health/live and /health/ready', async () => {
    const live = await fetch(`${h.url}/health/live`);
    expect(live.status).toBe(200);
    expect(((await live.json()) as { status: string }).status).toBe('alive');
    const ready = await fetch(`${h.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('degraded');
  });

  test('CORS preflight from an allowed origin', async () => {
    const res = await fetch(`${h.url}/api/v1/chat`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:3000',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-api-key',
      },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toBe(
      'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT',
    );
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type,x-api-key');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toContain('Origin');
  });

  test('CORS preflight from a disallowed origin is 400 and actual requests get no CORS headers', async () => {
    const pre = await fetch(`${h.url}/api/v1/chat`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(pre.status).toBe(400);
    expect(await pre.text()).toBe('Disallowed CORS origin');
    const res = await fetch(`${h.url}/`, { headers: { Origin: 'https://evil.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const ok = await fetch(`${h.url}/`, { headers: { Origin: 'http://localhost:8080' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:8080');
    expect(ok.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
  });

  test('413 for an oversized body, by Content-Length and while reading a chunked body', async () => {
    const big = JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(17_000) });
    let res = await fetch(`${h.url}/api/v1/auth/login`, { method: 'POST', body: big });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ detail: 'Request body too large (limit 16384 bytes)' });
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        c.close();
      },
    });
    res = await fetch(`${h.url}/api/v1/auth/login`, { method: 'POST', body: chunks });
    expect(res.status).toBe(413);
    res = await fetch(`${h.url}/api/v1/conversations`, {
      method: 'POST',
      headers: KEY,
      body: 'x'.repeat(1_048_577),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ detail: 'Request body too large (limit 1048576 bytes)' });
    // Chat routes take up to 8 MiB; past it nothing reaches the chat service (so nothing is stored).
    const seen = h.echo.seen.length;
    res = await fetch(`${h.url}/api/v1/chat`, {
      method: 'POST',
      headers: KEY,
      body: 'x'.repeat(8 * 1_048_576 + 1),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ detail: 'Request body too large (limit 8388608 bytes)' });
    expect(h.echo.seen.length).toBe(seen);
    res = await fetch(`${h.url}/api/v1/chat`, {
      method: 'POST',
      headers: KEY,
      body: 'x'.repeat(2 * 1_048_576),
    });
    expect(res.status).toBe(200);
  });

  test('bodies are forwarded as JSON whatever Content-Type says; multipart is 415', async () => {
    const body = '{"message":"hé"}';
    const res = await fetch(`${h.url}/api/v1/chat`, {
      method: 'POST',
      headers: { ...KEY, 'Content-Type': 'text/plain' },
      body,
    });
    const report = (await res.json()) as { headers: Record<string, string>; body: string };
    expect(report.headers['content-type']).toBe('application/json');
    expect(report.body).toBe(body);
    expect(report.headers['content-length']).toBe(String(new TextEncoder().encode(body).byteLength));
    const form = new FormData();
    form.set('message', 'hi');
    const mp = await fetch(`${h.url}/api/v1/chat`, { method: 'POST', headers: KEY, body: form });
    expect(mp.status).toBe(415);
    expect(await mp.json()).toEqual({ detail: 'Unsupported media type: send application/json' });
  });

  test('calculator: sums, missing operands count as 0, bad input gets the envelope', async () => {
    const add = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${h.url}/calculator/add`, { method: 'POST', body, headers });
    expect(await (await add('{"a":1,"b":2}')).json()).toEqual({ result: 3 });
    expect(await (await add('{"a":1.5}', { 'Content-Type': 'application/octet-stream' })).json()).toEqual({
      result: 1.5,
    });
    expect(await (await add('\ufeff{"b":2}')).json()).toEqual({ result: 2 });
    let res = await add('{"a":');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: 'Invalid JSON body' });
    res = await add('{"a":"1","b":2}');
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: 'Invalid request body',
      errors: [{ path: 'a', message: 'Expected a number' }],
    });
    res = await add('[]');
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: 'Invalid request body',
      errors: [{ path: '', message: 'Expected a JSON object' }],
    });
    res = await add(new Uint8Array([0x7b, 0xff, 0x7d]) as unknown as string);
    expect(res.status).toBe(400);
    res = await add('['.repeat(10_000));
    expect(res.status).toBe(400);
    res = await add(`${'['.repeat(5000)}${']'.repeat(5000)}`);
    expect(res.status).toBe(422);
  });

  test('404, 405 with Allow, trailing slash, HEAD', async () => {
    let res = await fetch(`${h.url}/api/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: 'Not Found' });
    for (const p of ['/api/v1/filesystem', '/redoc', '/api/v0.2/chat/stream/models/vr-recommendation']) {
      res = await fetch(h.url + p, { headers: KEY });
      expect(res.status).toBe(404);
    }
    res = await fetch(`${h.url}/health`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(await res.json()).toEqual({ detail: 'Method Not Allowed' });
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    res = await fetch(`${h.url}/api/v1/conversations/`, { headers: KEY });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { path: string }).path).toBe('/api/v1/conversations/');
    res = await fetch(`${h.url}/health/`);
    expect(res.status).toBe(200);
    res = await fetch(`${h.url}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  test('a request id carrying CR/LF cannot inject a response header', async () => {
    // fetch refuses CR/LF in header values, so this goes over a raw socket, as an attacker would send it.
    const port = Number(new URL(h.url).port);
    const raw = await new Promise<string>((resolve, reject) => {
      let out = '';
      Bun.connect({
        hostname: '127.0.0.1',
        port,
        socket: {
          open(sock) {
            sock.write(
              'GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: abcdefgh\r\nSet-Cookie: x=1\r\nConnection: close\r\n\r\n',
            );
          },
          data(_sock, chunk) {
            out += new TextDecoder().decode(chunk);
          },
          close() {
            resolve(out);
          },
          error(_sock, err) {
            reject(err);
          },
        },
      });
    });
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
    // `Host: x` also proves a one-character host still routes (Elysia's hostname shortcut is off).
    expect(head.startsWith('http/1.1 200')).toBe(true);
    expect(head).not.toContain('set-cookie');
    expect(head).toContain('x-request-id: abcdefgh');
  });

  test('request headers over 16 KiB are refused by the HTTP server (431)', async () => {
    const big = await fetch(`${h.url}/health`, { headers: { 'X-Big': 'a'.repeat(20_000) } });
    expect(big.status).toBe(431);
    const fine = await fetch(`${h.url}/health`, { headers: { 'X-Big': 'a'.repeat(8_000) } });
    expect(fine.status).toBe(200);
  });

  test('NUL or encoded slashes are 400 Invalid path; dot segments never reach a service', async () => {
    for (const p of [
      '/api/v1/conversations/a%2Fb',
      '/api/v1/conversations/a%5Cb',
      '/api/v1/conversations/a%00',
    ]) {
      const res = await fetch(h.url + p, { headers: KEY });
      expect({ p, status: res.status }).toEqual({ p, status: 400 });
      expect(await res.json()).toEqual({ detail: 'Invalid path' });
    }
    // The HTTP server resolves `..` and `%2e%2e` before routing, so no forwarded path can contain one.
    const seen = h.echo.seen.length;
    await fetch(`${h.url}/api/v1/conversations/x/%2e%2e/%2e%2e/conversations`, { headers: KEY });
    for (const r of h.echo.seen.slice(seen)) expect(r.path).not.toMatch(/\.\.|%2e%2e/i);
  });

  test('X-Request-Id is kept when well-formed and replaced otherwise; timing headers on every response', async () => {
    let res = await fetch(`${h.url}/`, { headers: { 'X-Request-Id': 'unity-req-12345' } });
    expect(res.headers.get('x-request-id')).toBe('unity-req-12345');
    res = await fetch(`${h.url}/`, { headers: { 'X-Request-Id': 'x'.repeat(500) } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    res = await fetch(`${h.url}/`, { headers: { 'X-Request-Id': 'short' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-response-time')).toMatch(/^\d+\.\d{3}ms$/);
    expect(res.headers.get('server-timing')).toMatch(/^auth;dur=[\d.]+, total;dur=[\d.]+$/);
    res = await fetch(`${h.url}/api/v1/conversations`, { headers: KEY });
    expect(res.headers.get('server-timing')).toMatch(/upstream;desc="chat";dur=/);
  });

  test('an absent service is 503 Service <name> unavailable, never a fake success', async () => {
    const res = await fetch(`${h.url}/api/v0.2/kb/search`, {
      method: 'POST',
      headers: KEY,
      body: '{"query":"x"}',
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ detail: 'Service kb unavailable' });
  });

  test('statuses pass through; a 5xx that is not the envelope is replaced', async () => {
    let res = await fetch(`${h.url}/api/v1/conversations?status=201`, {
      method: 'POST',
      headers: KEY,
      body: '{}',
    });
    expect(res.status).toBe(201);
    res = await fetch(`${h.url}/api/v1/conversations?status=500&raw=1`, { headers: KEY });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toBe('{"detail":"Internal server error"}');
  });

  test('/v1 errors carry both envelopes', async () => {
    const res = await fetch(`${h.url}/v1/models`, { headers: { Authorization: 'Bearer wrong-key' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      detail: 'Could not validate credentials',
      error: {
        message: 'Could not validate credentials',
        type: 'authentication_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
  });

  test('JSON of 1 KiB or more is gzip-compressed when accepted', async () => {
    const res = await fetch(`${h.url}/api/v1/conversations?big=1`, {
      headers: { ...KEY, 'Accept-Encoding': 'gzip' },
      decompress: false,
    } as RequestInit);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    const json = JSON.parse(
      new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await res.arrayBuffer()))),
    );
    expect(json.padding).toHaveLength(4096);
    const small = await fetch(`${h.url}/`, {
      headers: { 'Accept-Encoding': 'gzip' },
      decompress: false,
    } as RequestInit);
    expect(small.headers.get('content-encoding')).toBeNull();
  });

  test('SSE is relayed chunk by chunk: the first event arrives while the service still holds the rest', async () => {
    const res = await fetch(`${h.url}/api/v1/chat?sse=1&hold=1`, {
      method: 'POST',
      headers: KEY,
      body: '{"message":"x","stream":true}',
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe('data: {"type": "content", "content": "first"}\n\n');
    h.echo.release();
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe('data: {"type": "content", "content": "second"}\n\ndata: [DONE]\n\n');
  });

  test('a client disconnect aborts the upstream stream', async () => {
    const before = h.echo.aborted;
    const ctl = new AbortController();
    const res = await fetch(`${h.url}/api/v1/chat?sse=1&hold=1`, {
      method: 'POST',
      headers: KEY,
      body: '{"message":"x","stream":true}',
      signal: ctl.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ctl.abort();
    const deadline = Date.now() + 2000;
    while (h.echo.aborted === before && Date.now() < deadline) await Bun.sleep(10);
    expect(h.echo.aborted).toBe(before + 1);
    expect(h.gateway.openStreams()).toBe(0);
  });
});

describe('gateway limits', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness({
      env: {
        GAIA_RATE_LIMIT: '5/minute',
        GAIA_AUTH_RATE_LIMIT: '3/minute',
        GAIA_AUTH_FAILURE_LIMIT: '4/minute',
        GAIA_MAX_CONCURRENT_STREAMS: '2',
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('429 after the general limit, with Retry-After and X-RateLimit-*; buckets are per identity', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await fetch(`${h.url}/api/v1/conversations`, { headers: KEY });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await last!.json()).toEqual({ detail: 'Rate limit exceeded: 5 per 1 minute' });
    const retry = Number(last!.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(last!.headers.get('x-ratelimit-limit')).toBe('5');
    expect(last!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(last!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    // The same key through another header shares the bucket.
    expect(
      (await fetch(`${h.url}/api/v1/conversations`, { headers: { Authorization: `Bearer ${DEV_API_KEY}` } }))
        .status,
    ).toBe(429);
    // Health is never limited; spoofed X-Forwarded-For changes nothing.
    expect((await fetch(`${h.url}/health`)).status).toBe(200);
  });

  test('the auth-route limit is per address and shared by v1 and v0.3', async () => {
    const statuses: number[] = [];
    for (const v of ['v1', 'v0.3', 'v1', 'v0.3']) {
      const res = await fetch(`${h.url}/api/${v}/auth/login`, {
        method: 'POST',
        headers: { 'X-Forwarded-For': `10.0.0.${statuses.length}` },
        body: '{"email":"a@b.co","password":"x"}',
      });
      statuses.push(res.status);
      if (res.status === 429)
        expect(await res.json()).toEqual({ detail: 'Rate limit exceeded: 3 per 1 minute' });
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  test('after the credential-failure limit, unknown credentials get 429 without a lookup', async () => {
    const h2 = await startGatewayHarness({
      env: { GAIA_AUTH_FAILURE_LIMIT: '3/minute', GAIA_RATE_LIMIT: '1000/minute' },
    });
    try {
      // Warm the cache with the valid key first: a cached key keeps working.
      expect((await fetch(`${h2.url}/api/v1/conversations`, { headers: KEY })).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${h2.url}/api/v1/conversations`, { headers: { 'X-API-Key': `guess-${i}` } });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const lookups = h2.gateway.auth.dbLookups;
      await fetch(`${h2.url}/api/v1/conversations`, { headers: { 'X-API-Key': 'guess-again' } });
      expect(h2.gateway.auth.dbLookups).toBe(lookups);
      expect((await fetch(`${h2.url}/api/v1/conversations`, { headers: KEY })).status).toBe(200);
    } finally {
      await h2.stop();
    }
  });

  test('concurrent streams per identity are capped', async () => {
    const h3 = await startGatewayHarness({
      env: { GAIA_MAX_CONCURRENT_STREAMS: '2', GAIA_RATE_LIMIT: '1000/minute' },
    });
    try {
      const open = async () =>
        fetch(`${h3.url}/api/v1/chat?sse=1&hold=1`, {
          method: 'POST',
          headers: KEY,
          body: '{"message":"x","stream":true}',
        });
      const a = await open();
      const b = await open();
      const c = await open();
      expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
      await a.body!.cancel();
      await b.body!.cancel();
      await Bun.sleep(50);
      const d = await open();
      expect(d.status).toBe(200);
      await d.body!.cancel();
      await c.body?.cancel();
    } finally {
      await h3.stop();
    }
  });
});

for (const backend of testBackends().filter((b) => b.name === 'postgresql')) {
  describe(`gateway health [${backend.name}]`, () => {
    test('reports postgresql and the bus mode in use', async () => {
      const nats = natsTestUrl();
      const h = await startGatewayHarness({ databaseUrl: await backend.databaseUrl(), natsUrl: nats });
      try {
        const body = (await (await fetch(`${h.url}/health`)).json()) as any;
        expect(body.database).toEqual({ status: 'healthy', database: 'postgresql', responsive: true });
        expect(body.nats).toEqual({ status: 'healthy', connected: true, mode: nats ? 'nats' : 'memory' });
      } finally {
        await h.stop();
      }
    });
  });
}

describe('clients that leave', () => {
  test('a request its client abandons is logged as 499, not as a gateway error (split mode)', async () => {
    const h = await startGatewayHarness({ remote: ['chat'], env: { GAIA_RATE_LIMIT: '1000/minute' } });
    try {
      for (let i = 0; i < 5; i++) {
        const ctl = new AbortController();
        const pending = fetch(`${h.url}/api/v1/chat?delay=400`, {
          method: 'POST',
          headers: KEY,
          body: '{"message":"x"}',
          signal: ctl.signal,
        });
        await Bun.sleep(100);
        ctl.abort();
        await pending.catch(() => {});
      }
      await Bun.sleep(600);
      const ok = await fetch(`${h.url}/api/v1/conversations`, { headers: KEY });
      expect(ok.status).toBe(200);
      const lines = h.logs.map((l) => JSON.parse(l) as { msg: string; status?: number; route?: string });
      expect(lines.filter((l) => l.msg === 'gateway error')).toEqual([]);
      expect(lines.filter((l) => l.msg === 'request' && l.status === 499)).toHaveLength(5);
    } finally {
      await h.stop();
    }
  });
});

describe('silent upstream streams', () => {
  test('after the silence limit the gateway ends the stream in its family format and aborts upstream', async () => {
    const h = await startGatewayHarness({ streamSilenceMs: 150, env: { GAIA_RATE_LIMIT: '1000/minute' } });
    try {
      const v03 = await fetch(`${h.url}/api/v0.3/chat?sse=1&hold=1`, {
        method: 'POST',
        headers: KEY,
        body: '{"message":"x","stream":true}',
      });
      expect(await v03.text()).toBe(
        'data: {"type": "content", "content": "first"}\n\n' +
          'data: {"type": "error", "error": {"message": "The chat service stopped responding.", "type": "provider_timeout"}}\n\n' +
          'data: {"type": "done", "finish_reason": "error"}\n\ndata: [DONE]\n\n',
      );
      const deadline = Date.now() + 1000;
      while (h.echo.aborted < 1 && Date.now() < deadline) await Bun.sleep(10);
      expect(h.echo.aborted).toBe(1);
      expect(h.gateway.openStreams()).toBe(0);

      // Chunks 60 ms apart keep a stream alive well past the 150 ms limit: each one pushes the limit back.
      const dripping = await fetch(`${h.url}/api/v1/chat?sse=1&drip=6`, {
        method: 'POST',
        headers: KEY,
        body: '{"message":"x","stream":true}',
      });
      const dripped = await dripping.text();
      expect(dripped).not.toContain('stopped responding');
      expect(dripped.match(/"d\d /g)).toHaveLength(6);
      expect(dripped.endsWith('data: [DONE]\n\n')).toBe(true);
      // A cut v1 stream names the id and model its first chunks carried.
      const cut = await fetch(`${h.url}/api/v1/chat?sse=1&drip=2&hold=1`, {
        method: 'POST',
        headers: KEY,
        body: '{"message":"x","stream":true}',
      });
      const cutText = await cut.text();
      expect(cutText).toContain(
        'data: {"id": "chat-drip-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "drip-model", "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]',
      );
      expect(cutText.endsWith('data: {"type": "done", "finish_reason": "error"}\n\ndata: [DONE]\n\n')).toBe(
        true,
      );

      const openai = await fetch(`${h.url}/v1/chat/completions?sse=1&hold=1`, {
        method: 'POST',
        headers: KEY,
        body: '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}',
      });
      const text = await openai.text();
      expect(
        text.endsWith(
          'data: {"error": {"message": "The chat service stopped responding.", "type": "api_error", "param": null, "code": "provider_timeout"}}\n\ndata: [DONE]\n\n',
        ),
      ).toBe(true);
    } finally {
      await h.stop();
    }
  });
});
