/**
 * The usage page in headless Chromium: ledger rows seeded straight into the database (chat calls in
 * `llm_usage`, generations in `asset_jobs`, for this user and for another one) come back as a drawn uPlot
 * chart and a table whose rows hold exactly this user's daily sums. No console errors, failed or
 * off-origin requests, or answers ≥ 400 on the way.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import {
  chromiumAvailable,
  closeQuietly,
  duplicateIds,
  launchBrowser,
  screenshot,
  startWebStack,
  uniqueEmail,
  type WebStack,
  watch,
} from '../support/browser.ts';

const PASSWORD = 'correct-horse-42';
const DAY_MS = 86_400_000;
const run = chromiumAvailable();
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function registerAndLogin(page: Page, web: string, email: string): Promise<void> {
  await page.goto(`${web}/register`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.getByText('Registration successful').waitFor();
  await page.goto(`${web}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${web}/chat`);
}

/** Chat calls: [days ago, input tokens, output tokens, cost]. */
const CHAT: Array<[number, number, number, number]> = [
  [0, 1200, 800, 0.0125],
  [0, 300, 100, 0.0025],
  [2, 5000, 2500, 0.05],
  [9, 40, 60, 0.000321],
  [29, 10, 10, 0.0001],
];
/** Generations: [days ago, cost in micro-dollars]. */
const ASSETS: Array<[number, number]> = [
  [0, 40_000],
  [2, 300_000],
  [2, 20_000],
];

describe.skipIf(!run)('usage page in Chromium', () => {
  let s: WebStack;
  let browser: Browser;
  let web: string;

  beforeAll(async () => {
    s = await startWebStack();
    web = s.webUrl;
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  }, 60_000);

  async function seed(userId: string, scale: number): Promise<void> {
    const db = s.h.stack.db;
    const now = new Date();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    for (const [ago, input, output, cost] of CHAT)
      await db.orm.insert(db.t.llmUsage).values({
        id: crypto.randomUUID(),
        userId,
        endpoint: '/api/v1/chat',
        provider: 'openai',
        model: 'gpt-4o-mini',
        inputTokens: input * scale,
        outputTokens: output * scale,
        costUsd: cost * scale,
        estimated: false,
        status: 'ok',
        latencyMs: 50,
        createdAt: new Date(today - ago * DAY_MS + 60_000),
      });
    for (const [ago, micro] of ASSETS)
      await db.orm.insert(db.t.assetJobs).values({
        id: crypto.randomUUID(),
        userId,
        category: 'image',
        provider: 'openai',
        status: 'completed',
        progress: 100,
        request: { category: 'image', style: 'seeded', description: 'seeded' },
        requestHash: crypto.randomUUID(),
        costMicroUsd: micro * scale,
        createdAt: new Date(today - ago * DAY_MS + 120_000),
        completedAt: new Date(today - ago * DAY_MS + 130_000),
      });
  }

  test('chart drawn and table rows equal to the seeded ledger; another user’s rows never show', async () => {
    // Another user with ten times the figures: none of them may appear.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await registerAndLogin(otherPage, web, uniqueEmail('usage-other'));
    const otherId = ((await (await otherPage.request.get(`${web}/api/session`)).json()) as any).user.id;
    await closeQuietly(other);
    await seed(otherId, 10);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    await registerAndLogin(page, web, uniqueEmail('usage'));
    const me = (await (await page.request.get(`${web}/api/session`)).json()) as { user: { id: string } };
    await seed(me.user.id, 1);

    // The nav leads there.
    await page.goto(`${web}/profile`);
    await page.locator('#page-nav a', { hasText: 'Usage' }).click();
    await page.waitForURL(`${web}/usage`);
    await page.locator('#usage-chart[data-drawn="true"]').waitFor();

    // The chart's canvas has bars of both colours and the token line on it.
    const painted = await page.evaluate(() => {
      const c = document.querySelector('#usage-chart canvas') as HTMLCanvasElement;
      const img = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let purple = 0;
      let pink = 0;
      let blue = 0;
      for (let i = 0; i < img.length; i += 4) {
        const [r, g, b, a] = [img[i]!, img[i + 1]!, img[i + 2]!, img[i + 3]!];
        if (a < 100) continue;
        if (Math.abs(r - 168) < 40 && Math.abs(g - 85) < 40 && Math.abs(b - 247) < 40) purple++;
        if (Math.abs(r - 236) < 40 && Math.abs(g - 72) < 40 && Math.abs(b - 153) < 40) pink++;
        if (Math.abs(r - 96) < 40 && Math.abs(g - 165) < 40 && Math.abs(b - 250) < 40) blue++;
      }
      return { purple, pink, blue, w: c.width, h: c.height };
    });
    expect(painted.w).toBeGreaterThan(200);
    expect(painted.purple).toBeGreaterThan(50);
    expect(painted.pink).toBeGreaterThan(50);
    expect(painted.blue).toBeGreaterThan(20);

    // The table: thirty days, newest first, each seeded day holding this user's sums only.
    const rows = await page.locator('#usage-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => {
        const cell = (c: string) => tr.querySelector(`[data-col="${c}"]`)!;
        const n = (c: string) => Number(cell(c).textContent!.replace(/,/g, ''));
        return {
          date: tr.getAttribute('data-date')!,
          input: n('input_tokens'),
          output: n('output_tokens'),
          requests: n('requests'),
          chat: Number(cell('chat_cost').getAttribute('data-value')),
          assets: Number(cell('asset_cost').getAttribute('data-value')),
          chatText: cell('chat_cost').textContent,
          assetText: cell('asset_cost').textContent,
        };
      }),
    );
    const now = new Date();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    expect(rows.map((r) => r.date)).toEqual(Array.from({ length: 30 }, (_, i) => dayOf(today - i * DAY_MS)));
    for (let ago = 0; ago < 30; ago++) {
      const chat = CHAT.filter(([a]) => a === ago);
      const assets = ASSETS.filter(([a]) => a === ago);
      const row = rows[ago]!;
      expect(row.input).toBe(chat.reduce((s, c) => s + c[1], 0));
      expect(row.output).toBe(chat.reduce((s, c) => s + c[2], 0));
      expect(row.requests).toBe(chat.length);
      expect(row.chat).toBeCloseTo(
        chat.reduce((s, c) => s + c[3], 0),
        6,
      );
      expect(row.assets).toBeCloseTo(assets.reduce((s, a) => s + a[1], 0) / 1e6, 6);
    }
    expect(rows[0]!.chatText).toBe('$0.0150');
    expect(rows[0]!.assetText).toBe('$0.0400');
    expect(rows[9]!.chatText).toBe('$0.000321');
    expect(await page.locator('#usage-asset-cost').textContent()).toBe('$0.3600');
    expect(await page.locator('#usage-tokens').textContent()).toBe('10,020');
    await screenshot(page, 'usage');

    // A shorter range redraws from the same ledger.
    await page.locator('a', { hasText: '7 days' }).click();
    await page.waitForURL(`${web}/usage?days=7`);
    await page.locator('#usage-chart[data-drawn="true"]').waitFor();
    expect(await page.locator('#usage-table tbody tr').count()).toBe(7);
    expect(await page.locator('#usage-requests').textContent()).toBe('3');

    expect(await duplicateIds(page)).toEqual([]);
    await closeQuietly(context);
    expect(w.unexpected()).toEqual([]);
  }, 90_000);
});
