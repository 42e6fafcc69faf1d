/**
 * Prometheus metrics as an operator scrapes them: `/metrics` is closed without GAIA_METRICS_TOKEN, refuses a
 * wrong token, and with the right one serves text that a Prometheus text-format parser reads, with requests
 * counted per service under their route templates (never a raw unknown path), tokens and cost of chat calls,
 * time to first token, rate-limit refusals and the bus state. GAIA_METRICS_PORT serves the same without a token.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
// @ts-expect-error: the parser ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { type StackHandle, startStack } from '../support/stack.ts';

interface Sample {
  labels?: Record<string, string>;
  value?: string;
  count?: string;
  buckets?: Record<string, string>;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

const TOKEN = `metrics-${crypto.randomUUID()}`;

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

describe('metrics', () => {
  let s: StackHandle;
  const metricsPort = freePort();

  beforeAll(async () => {
    s = await startStack({
      env: {
        GAIA_METRICS_TOKEN: TOKEN,
        GAIA_METRICS_PORT: String(metricsPort),
        GAIA_AUTH_RATE_LIMIT: '2/minute',
      },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  let lastText = '';
  const scrape = async (): Promise<Map<string, Family>> => {
    const r = await s.fetch('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    lastText = await r.text();
    const families = parsePrometheusTextFormat(lastText) as Family[];
    return new Map(families.map((f) => [f.name, f]));
  };
  /**
   * A labelled histogram's `_count` series. The parser folds labelled histograms into one unlabelled entry, so
   * the count is read from the exposition line itself.
   */
  const histogramCount = (name: string, label: string): number => {
    const line = lastText.split('\n').find((l) => l.startsWith(`${name}_count{`) && l.includes(label));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const sample = (f: Family | undefined, labels: Record<string, string>) =>
    f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

  test('closed to a missing or wrong token; the token is never echoed', async () => {
    const none = await s.fetch('/metrics');
    expect(none.status).toBe(401);
    const wrong = await s.fetch('/metrics', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(TOKEN);
  });

  test('requests by service and route template, chat tokens, time to first token, the bus', async () => {
    const chat = await s.dev('/api/v1/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'Count me', stream: true }),
    });
    expect(chat.status).toBe(200);
    await chat.text();
    const conv = await s.dev(`/api/v1/conversations/${crypto.randomUUID()}`);
    expect(conv.status).toBe(404);
    await s.fetch(`/no-such-place-${crypto.randomUUID()}`);

    const m = await scrape();
    const requests = m.get('gaia_http_requests_total');
    expect(requests?.type).toBe('COUNTER');
    expect(
      Number(sample(requests, { service: 'gateway', route: '/api/v1/chat', status: '200' })?.value),
    ).toBeGreaterThan(0);
    expect(
      Number(sample(requests, { service: 'chat', route: '/api/v1/chat', method: 'POST' })?.value),
    ).toBeGreaterThan(0);
    // One series for every conversation id, and none for the unknown path itself.
    expect(
      sample(requests, { service: 'chat', route: '/api/v1/conversations/:conversation_id', status: '404' }),
    ).toBeDefined();
    expect(sample(requests, { service: 'gateway', route: 'unmatched', status: '404' })).toBeDefined();
    expect(requests!.metrics.some((x) => (x.labels?.route ?? '').includes('no-such-place'))).toBe(false);
    expect(m.get('gaia_http_request_duration_seconds')?.type).toBe('HISTOGRAM');
    // The gateway's /api/v1/chat series: buckets rise to `+Inf`, which equals `_count` and the counter.
    const series = 'route="/api/v1/chat",service="gateway",method="POST",status="200"';
    const key = (l: string) =>
      l
        .slice(l.indexOf('{') + 1, l.indexOf('}'))
        .split(',')
        .filter((p) => !p.startsWith('le='))
        .sort()
        .join(',');
    const want = series.split(',').sort().join(',');
    const lines = lastText.split('\n').filter((l) => l.includes('{') && key(l) === want);
    const buckets = lines
      .filter((l) => l.startsWith('gaia_http_request_duration_seconds_bucket{'))
      .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    expect(buckets.length).toBe(17);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!);
    const count = lines.find((l) => l.startsWith('gaia_http_request_duration_seconds_count{'));
    const counted = lines.find((l) => l.startsWith('gaia_http_requests_total{'));
    expect(lines.some((l) => l.includes('le="+Inf"'))).toBe(true);
    expect(Number(count?.slice(count.lastIndexOf(' ') + 1))).toBe(buckets.at(-1)!);
    expect(Number(counted?.slice(counted.lastIndexOf(' ') + 1))).toBe(buckets.at(-1)!);
    expect(buckets.at(-1)!).toBeGreaterThan(0);

    const tokens = m.get('gaia_llm_tokens_total');
    expect(Number(sample(tokens, { provider: 'local', direction: 'output' })?.value)).toBeGreaterThan(0);
    expect(sample(m.get('gaia_llm_cost_usd_total'), { provider: 'local' })).toBeDefined();
    expect(m.get('gaia_llm_time_to_first_token_seconds')?.type).toBe('HISTOGRAM');
    expect(histogramCount('gaia_llm_time_to_first_token_seconds', 'provider="local"')).toBeGreaterThan(0);
    expect(sample(m.get('gaia_bus_connected'), { mode: 'memory' })?.value).toBe('1');
    expect(m.get('gaia_open_streams')?.metrics[0]?.value).toBe('0');
    // SQLite: one file handle, never a queue.
    expect(m.get('gaia_db_pool_size')?.metrics[0]?.value).toBe('1');
    expect(m.get('gaia_db_queries_in_flight')?.metrics[0]?.value).toBe('0');
    expect(m.get('gaia_kb_documents')).toBeDefined();
    expect(m.get('gaia_process_resident_memory_bytes')).toBeDefined();
  });

  test('rate-limit refusals are counted by limit', async () => {
    for (let i = 0; i < 3; i++)
      await s.fetch('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'wrong-password' }),
      });
    const m = await scrape();
    expect(
      Number(sample(m.get('gaia_rate_limit_rejections_total'), { limit: 'auth' })?.value),
    ).toBeGreaterThan(0);
  });

  test('GAIA_METRICS_PORT serves the same exposition without a token', async () => {
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(r.status).toBe(200);
    const families = parsePrometheusTextFormat(await r.text()) as Family[];
    expect(families.some((f) => f.name === 'gaia_http_requests_total')).toBe(true);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
  });
});

describe('metrics without a token', () => {
  test('/metrics is not there at all', async () => {
    const s = await startStack();
    try {
      const r = await s.fetch('/metrics');
      expect(r.status).toBe(404);
      expect((await r.text()).includes('gaia_http')).toBe(false);
    } finally {
      await s.stop();
    }
  });
});
