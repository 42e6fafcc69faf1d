/**
 * `GET /api/v1/chat/usage` through the gateway: the caller's own `llm_usage` rows summed per UTC day over the
 * window (every day present, oldest first), a real chat landing on today, another user's rows never counted,
 * bad `days` refused with 422, no credentials 401. The asset side of the usage page reads the pricing
 * analytics route, whose daily figures are checked here for the same isolation.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

interface Seed {
  user: 'a' | 'b';
  /** Days before today (UTC). */
  ago: number;
  /** Milliseconds after that day's midnight (negative: the day before). */
  at?: number;
  input: number;
  output: number;
  cost: number;
  status?: 'ok' | 'error' | 'aborted';
}

const SEEDS: Seed[] = [
  { user: 'a', ago: 0, input: 120, output: 80, cost: 0.0021 },
  { user: 'a', ago: 0, input: 30, output: 0, cost: 0.0003, status: 'error' },
  { user: 'a', ago: 3, input: 1000, output: 500, cost: 0.0125 },
  // The first day of a 30-day window, at its very first millisecond: counted.
  { user: 'a', ago: 29, at: 0, input: 7, output: 5, cost: 0.00001234 },
  // One millisecond before the window: not counted.
  { user: 'a', ago: 29, at: -1, input: 999_999, output: 999_999, cost: 99 },
  { user: 'b', ago: 0, input: 5000, output: 5000, cost: 1.5 },
  { user: 'b', ago: 3, input: 4000, output: 1, cost: 0.75 },
];

for (const backend of testBackends()) {
  describe(`chat usage per day (${backend.name})`, () => {
    let s: StackHandle;
    const ids = { a: crypto.randomUUID(), b: crypto.randomUUID() };
    const jwt = { a: '', b: '' };
    let today = 0;

    const as = (who: 'a' | 'b', path: string, init: RequestInit = {}) =>
      s.fetch(path, {
        ...init,
        headers: { authorization: `Bearer ${jwt[who]}`, ...(init.headers as Record<string, string>) },
      });

    beforeAll(async () => {
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
        env: { LOCAL_LLM_ENABLED: 'true', LOCAL_LLM_DELAY_MS: '0' },
      });
      for (const who of ['a', 'b'] as const) {
        jwt[who] = await s.mintJwt({ sub: ids[who], email: `${who}-${ids[who].slice(0, 8)}@example.com` });
        // The first call provisions the user; with no rows every day is zero.
        const r = await as(who, '/api/v1/chat/usage');
        expect(r.status).toBe(200);
        const body = await r.json();
        expect(body.daily).toHaveLength(30);
        expect(body.totals).toEqual({
          input_tokens: 0,
          output_tokens: 0,
          total_tokens: 0,
          cost: 0,
          requests: 0,
        });
      }
      const now = new Date();
      today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
      const db = s.stack.db;
      for (const seed of SEEDS) {
        await db.orm.insert(db.t.llmUsage).values({
          id: crypto.randomUUID(),
          userId: ids[seed.user],
          endpoint: '/api/v1/chat',
          provider: 'openai',
          model: 'gpt-4o-mini',
          inputTokens: seed.input,
          outputTokens: seed.output,
          costUsd: seed.cost,
          estimated: false,
          status: seed.status ?? 'ok',
          latencyMs: 100,
          createdAt: new Date(today - seed.ago * DAY_MS + (seed.at ?? 3_600_000)),
        });
      }
    }, 60_000);

    afterAll(async () => {
      await s?.stop();
    });

    /** What the ledger holds for a user on a day, summed the way the route must. */
    function expected(who: 'a' | 'b', days: number) {
      const start = today - (days - 1) * DAY_MS;
      const rows = SEEDS.filter((r) => r.user === who).filter((r) => {
        const t = today - r.ago * DAY_MS + (r.at ?? 3_600_000);
        return t >= start;
      });
      const byDay = new Map<string, { input: number; output: number; cost: number; n: number }>();
      for (const r of rows) {
        const d = dayOf(today - r.ago * DAY_MS + (r.at ?? 3_600_000));
        const e = byDay.get(d) ?? { input: 0, output: 0, cost: 0, n: 0 };
        e.input += r.input;
        e.output += r.output;
        e.cost += r.cost;
        e.n++;
        byDay.set(d, e);
      }
      return byDay;
    }

    test('each user gets only their own rows, per UTC day, every day of the window present', async () => {
      for (const who of ['a', 'b'] as const) {
        const r = await as(who, '/api/v1/chat/usage?days=30');
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toContain('application/json');
        const body = await r.json();
        expect(body.days).toBe(30);
        expect(body.currency).toBe('USD');
        expect(body.daily).toHaveLength(30);
        expect(body.end_date).toBe(dayOf(today));
        expect(body.start_date).toBe(dayOf(today - 29 * DAY_MS));
        expect(body.daily.map((d: { date: string }) => d.date)).toEqual(
          Array.from({ length: 30 }, (_, i) => dayOf(today - (29 - i) * DAY_MS)),
        );
        const want = expected(who, 30);
        let tokens = 0;
        for (const d of body.daily) {
          const e = want.get(d.date);
          expect(d).toEqual({
            date: d.date,
            input_tokens: e?.input ?? 0,
            output_tokens: e?.output ?? 0,
            total_tokens: (e?.input ?? 0) + (e?.output ?? 0),
            cost: Math.round((e?.cost ?? 0) * 1e6) / 1e6,
            requests: e?.n ?? 0,
          });
          tokens += d.total_tokens;
        }
        expect(body.totals.total_tokens).toBe(tokens);
      }
      // The concrete figures a person would read: A's today is two calls (one failed) and never B's.
      const a = await (await as('a', '/api/v1/chat/usage')).json();
      const aToday = a.daily.at(-1);
      expect(aToday).toMatchObject({ input_tokens: 150, output_tokens: 80, requests: 2, cost: 0.0024 });
      expect(a.daily[0]).toMatchObject({ input_tokens: 7, output_tokens: 5, requests: 1, cost: 0.000012 });
      expect(a.totals.cost).toBe(0.014912);
      expect(a.totals.requests).toBe(4);
      const b = await (await as('b', '/api/v1/chat/usage')).json();
      expect(b.totals).toEqual({
        input_tokens: 9000,
        output_tokens: 5001,
        total_tokens: 14001,
        cost: 2.25,
        requests: 2,
      });
    });

    test('a shorter window, and bad days refused with 422', async () => {
      const r = await as('a', '/api/v1/chat/usage?days=3');
      const body = await r.json();
      expect(body.daily).toHaveLength(3);
      // Three days ago is outside a three-day window (today, yesterday, the day before).
      expect(body.totals.requests).toBe(2);
      const four = await (await as('a', '/api/v1/chat/usage?days=4')).json();
      expect(four.totals.requests).toBe(3);
      for (const bad of ['0', '367', 'abc', '1.5', '-3', '30days']) {
        const res = await as('a', `/api/v1/chat/usage?days=${bad}`);
        expect(res.status).toBe(422);
        const err = await res.json();
        expect(err.detail).toContain('days');
        expect(err.errors[0].path).toBe('days');
      }
      expect((await as('a', '/api/v1/chat/usage?days=')).status).toBe(200);
    });

    test('no credentials: 401; a name or id in the query cannot reach another user', async () => {
      const anon = await s.fetch('/api/v1/chat/usage');
      expect(anon.status).toBe(401);
      const sneaky = await (await as('a', `/api/v1/chat/usage?user_id=${ids.b}&all=true`)).json();
      expect(sneaky.totals.requests).toBe(4);
    });

    test('a real chat through the gateway lands on today', async () => {
      const before = (await (await as('a', '/api/v1/chat/usage?days=1')).json()).daily[0];
      const chat = await as('a', '/api/v1/chat', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'Count my tokens please' }),
      });
      expect(chat.status).toBe(200);
      await chat.text();
      const after = (await (await as('a', '/api/v1/chat/usage?days=1')).json()).daily[0];
      expect(after.date).toBe(dayOf(today));
      expect(after.requests).toBe(before.requests + 1);
      expect(after.input_tokens).toBeGreaterThan(before.input_tokens);
      const b = (await (await as('b', '/api/v1/chat/usage?days=1')).json()).daily[0];
      expect(b.requests).toBe(1);
    });

    test("asset spend per day (pricing analytics) is the caller's own too", async () => {
      const gen = await as('a', '/api/v1/assets/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          category: 'image',
          style: 'pixel',
          description: 'A usage test tile',
          preferences: { provider: 'local' },
        }),
      });
      expect(gen.status).toBe(200);
      const a = await (await as('a', '/api/v0.2/assets/pricing/analytics')).json();
      expect(a.usage_metrics.total_generations).toBe(1);
      expect(a.cost_trends.map((t: { date: string }) => t.date)).toEqual([dayOf(Date.now())]);
      const b = await (await as('b', '/api/v0.2/assets/pricing/analytics')).json();
      expect(b.usage_metrics.total_generations).toBe(0);
      expect(b.cost_trends).toEqual([]);
    });
  });
}
