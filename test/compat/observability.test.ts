/**
 * Following a request: the gateway keeps a client's W3C `traceparent` trace id, forwards a child
 * `traceparent` to the service (its own span as the parent), starts a new trace for a missing or malformed
 * header, and writes one log line per request with the route template, status, duration, identity, request id
 * and trace id. Log lines are plain text without colour codes unless a terminal asks for them, or JSON with
 * LOG_FORMAT=json whatever GAIA_ENV says.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { type GatewayHarness, startGatewayHarness } from '../support/gateway-harness.ts';
import { DEV_API_KEY } from '../support/stack.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('trace context through the gateway', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness({ env: { GAIA_RATE_LIMIT: '10000/minute' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const call = (headers: Record<string, string>) =>
    fetch(`${h.url}/api/v1/conversations`, { headers: { 'X-API-Key': DEV_API_KEY, ...headers } });

  test("a client's trace is kept and the service gets a child span of the gateway", async () => {
    const rid = `trace-${crypto.randomUUID()}`;
    const res = await call({ traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': rid });
    expect(res.status).toBe(200);
    const seen = h.echo.seen.at(-1)!;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.headers.traceparent ?? '');
    expect(m?.[1]).toBe(TRACE);
    expect(m?.[2]).not.toBe(PARENT);
    // One line for the request, naming its route template, outcome, identity, request id and trace.
    const lines = h.logs.filter((l) => l.includes(rid));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      msg: 'request',
      rid,
      method: 'GET',
      route: '/api/v1/conversations',
      status: 200,
      trace_id: TRACE,
      identity: '00000000-0000-4000-8000-000000000001',
    });
    expect(typeof line.duration_ms).toBe('number');
  });

  test('a missing or malformed traceparent starts a new trace', async () => {
    for (const bad of [undefined, 'garbage', `00-${'0'.repeat(32)}-${PARENT}-01`, `01-${TRACE}-${PARENT}`]) {
      await call(bad === undefined ? {} : { traceparent: bad });
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.echo.seen.at(-1)!.headers.traceparent ?? '');
      expect(m, String(bad)).not.toBeNull();
      expect(m![1]).not.toBe(TRACE);
      expect(m![1]).not.toBe('0'.repeat(32));
    }
  });
});

describe('log format', () => {
  const capture = (opts: { json?: boolean; color?: boolean }) => {
    const lines: string[] = [];
    const log = createLogger({ service: 'chat', level: 'debug', sink: (l) => lines.push(l), ...opts });
    log.warn('provider slow', { model: 'gpt-4o-mini' });
    return lines[0]!;
  };

  test('pretty lines carry colour codes only when asked; JSON lines are JSON', () => {
    expect(capture({})).not.toContain('\x1b[');
    expect(capture({ color: false })).toMatch(/chat\s+warn\s+provider slow model=gpt-4o-mini$/);
    expect(capture({ color: true })).toContain('\x1b[');
    expect(JSON.parse(capture({ json: true }))).toMatchObject({
      level: 'warn',
      service: 'chat',
      msg: 'provider slow',
      model: 'gpt-4o-mini',
    });
  });

  test('LOG_FORMAT chooses the format whatever GAIA_ENV is, and refuses other values', () => {
    expect(loadConfig({ GAIA_ENV: 'development', LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ GAIA_ENV: 'development' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });

  test('a process writing into a pipe writes no colour codes; NO_COLOR and LOG_FORMAT=json are honoured', async () => {
    const script = `
      const { loadConfig } = await import('${import.meta.dir}/../../src/config.ts');
      const { makeLogger } = await import('${import.meta.dir}/../../src/platform.ts');
      makeLogger(loadConfig(process.env), 'gateway').warn('hello', { n: 1 });
    `;
    const run = async (env: Record<string, string>) => {
      const p = Bun.spawn([process.execPath, '-e', script], {
        env: { PATH: process.env.PATH ?? '', GAIA_DATA_DIR: '/tmp', ...env },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
      await p.exited;
      return out + err;
    };
    const pretty = await run({ GAIA_ENV: 'development' });
    expect(pretty).toContain('hello');
    expect(pretty).not.toContain('\x1b[');
    expect(await run({ GAIA_ENV: 'development', NO_COLOR: '1' })).not.toContain('\x1b[');
    const json = await run({ GAIA_ENV: 'development', LOG_FORMAT: 'json' });
    expect(JSON.parse(json.trim().split('\n').at(-1)!)).toMatchObject({ level: 'warn', msg: 'hello', n: 1 });
  });
});
