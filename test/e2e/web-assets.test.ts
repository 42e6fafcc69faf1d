/**
 * The assets studio in headless Chromium against a whole stack: the price shown before generating (and
 * following the form), an image from the offline `local` provider previewed, an ElevenLabs track (the
 * wire-true fake) that plays in the inline player, a Meshy model (the fake, slow enough to become a job)
 * followed to the end and shown in <model-viewer>, and a daily-budget refusal said plainly with today's
 * spend. Files come through the web origin only: another user gets 404 for them.
 *
 * The asset service runs beside the stack (reached over HTTP, as in split mode) because the real download
 * policy refuses the Meshy fake's loopback URLs; this instance downloads with a plain fetch instead.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import type { Browser, Locator, Page } from 'playwright-core';
import { assetService } from '../../services/asset/app.ts';
import { downloadProviderError } from '../../services/asset/fetch/safe-fetch.ts';
import type { FetchFile } from '../../services/asset/generation/store.ts';
import { createLogger } from '../../src/log.ts';
import type { MountedService } from '../../src/platform.ts';
import { type FakeElevenLabs, startFakeElevenLabs } from '../fakes/elevenlabs.ts';
import { FAKE_MESHY_KEY, type FakeMeshy, startFakeMeshy, tinyGlb } from '../fakes/meshy.ts';
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
import { eventually } from '../support/eventually.ts';

const PASSWORD = 'correct-horse-42';
const BUDGET = 1;
const run = chromiumAvailable();

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

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');

/** Downloads provider files with a plain fetch (loopback allowed), capped like the real fetcher. */
const plainFetchFile: FetchFile = async (url, { maxBytes, provider }) => {
  try {
    const res = await fetch(url);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw new Error('too large');
    return { bytes: Buffer.from(bytes), contentType: res.headers.get('content-type') ?? '' };
  } catch (err) {
    throw downloadProviderError(provider, err);
  }
};

describe.skipIf(!run)('assets studio in Chromium', () => {
  let s: WebStack;
  let browser: Browser;
  let web: string;
  let meshy: FakeMeshy;
  let eleven: FakeElevenLabs;
  let assetServer: Server<undefined>;
  let asset: MountedService | null = null;

  beforeAll(async () => {
    meshy = await startFakeMeshy();
    eleven = await startFakeElevenLabs();
    assetServer = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (req) => (asset ? asset.handle(req) : new Response('starting', { status: 503 })),
    });
    s = await startWebStack({
      GAIA_INTERNAL_SECRET: 'web-assets-test-internal-secret-0123456789',
      ASSET_SERVICE_URL: `http://127.0.0.1:${assetServer.port}`,
      MESHY_API_KEY: FAKE_MESHY_KEY,
      MESHY_API_BASE: meshy.url,
      MESHY_POLL_INTERVAL_MS: '300',
      ELEVENLABS_API_KEY: eleven.apiKey,
      ELEVENLABS_API_BASE: eleven.url,
      ASSET_DAILY_BUDGET_USD: String(BUDGET),
    });
    web = s.webUrl;
    asset = await assetService(
      {
        config: s.h.config,
        db: s.h.stack.db,
        bus: s.h.stack.bus,
        log: createLogger({ service: 'asset', level: 'warn', json: true, sink: () => {} }),
        clients: {},
      },
      { fetchFile: plainFetchFile },
    );
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await asset?.close?.();
    assetServer?.stop(true);
    await meshy?.stop();
    await eleven?.stop();
  }, 60_000);

  /** The price the estimator gives for a request (as the dev user; prices are the same for everyone). */
  async function priceOf(category: string, style: string, description: string): Promise<number> {
    const r = await s.h.dev('/api/v0.2/assets/pricing/cost-estimator/estimate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        asset_request: { category, style, description, requirements: { platform: 'web', quality: 'medium' } },
      }),
    });
    expect(r.status).toBe(200);
    return (await r.json()).estimated_cost;
  }

  /** Waits for a locator; on a timeout the error carries what the page shows instead. */
  async function shown(page: Page, loc: Locator, timeout = 30_000): Promise<void> {
    try {
      await loc.waitFor({ timeout });
    } catch (err) {
      const state = await page
        .evaluate(() =>
          ['#asset-result', '#asset-jobs'].map((s) => document.querySelector(s)?.innerHTML).join(' | '),
        )
        .catch(() => '');
      throw new Error(`${(err as Error).message}\npage shows: ${state}`);
    }
  }

  async function fillForm(page: Page, category: string, style: string, description: string) {
    await page.selectOption('#asset-category', category);
    await page.fill('#asset-style', style);
    await page.fill('#asset-description', description);
  }

  test('estimate → image → audio plays → slow 3D job → model-viewer → budget refusal with spend', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    const email = uniqueEmail('assets');
    await registerAndLogin(page, web, email);

    await page.goto(`${web}/profile`);
    await page.locator('#page-nav a', { hasText: 'Assets' }).click();
    await page.waitForURL(`${web}/assets`);
    await page.locator('#asset-gallery-empty', { hasText: 'No assets yet' }).waitFor();

    // The estimate is there before anything is generated, and follows the form.
    await page.locator('#asset-estimate-cost').waitFor();
    expect(await page.locator('#asset-estimate-cost').textContent()).toBe('$0.0000');
    const audioPrice = await priceOf('audio', 'ambient-calm', 'A calm music loop for a forest level');
    expect(audioPrice).toBeGreaterThan(0);
    await fillForm(page, 'audio', 'ambient-calm', 'A calm music loop for a forest level');
    await page.locator('#asset-estimate-cost', { hasText: `$${audioPrice.toFixed(4)}` }).waitFor();
    await page.fill('#asset-max-cost', '0.01');
    await page.locator('#asset-estimate', { hasText: 'above your max cost of $0.0100' }).waitFor();
    await page.fill('#asset-max-cost', '0.50');

    // 1. An image from the local provider, previewed in the gallery.
    await fillForm(page, 'image', 'pixel_art', 'A tiny red potion bottle');
    await page.locator('#asset-estimate-cost', { hasText: '$0.0000' }).waitFor();
    await page.click('#asset-generate-button');
    await shown(page, page.locator('#asset-result', { hasText: 'Generated with local' }));
    const imageCard = page.locator('#asset-gallery .asset-card').first();
    expect(await imageCard.getAttribute('data-category')).toBe('image');
    const width = await eventually(async () => {
      const n = await imageCard
        .locator('img')
        .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth);
      return n ? n : undefined;
    });
    expect(width).toBeGreaterThan(0);
    await expect(page.locator('#asset-gallery-empty').isHidden()).resolves.toBe(true);

    // 2. Music from ElevenLabs: the player loads it and it plays (muted, as autoplay rules allow).
    eleven.enqueue({ frames: 120 });
    await fillForm(page, 'audio', 'ambient-calm', 'A calm music loop for a forest level');
    await page.click('#asset-generate-button');
    await shown(page, page.locator('#asset-result', { hasText: 'Generated with elevenlabs' }));
    const audioCard = page.locator('#asset-gallery .asset-card').first();
    expect(await audioCard.getAttribute('data-category')).toBe('audio');
    const played = await audioCard.locator('audio').evaluate(async (a: HTMLAudioElement) => {
      if (a.readyState < 1)
        await new Promise((r, j) => {
          a.addEventListener('loadedmetadata', r, { once: true });
          a.addEventListener('error', () => j(new Error(`audio error ${a.error?.code}`)), { once: true });
        });
      a.muted = true;
      await a.play();
      const playing = !a.paused && !a.error;
      a.pause();
      return { duration: a.duration, playing };
    });
    expect(played.duration).toBeGreaterThan(2);
    expect(played.playing).toBe(true);

    // 3. A prop from Meshy, slow enough to become a job: progress shows, then the model is in the viewer.
    meshy.enqueueTask({ pollsBeforeDone: 15 }, { pollsBeforeDone: 4 });
    await fillForm(page, 'prop', 'low_poly', 'A wooden treasure chest');
    await page.click('#asset-generate-button');
    const job = page.locator('#asset-jobs .asset-job');
    await shown(page, job, 15_000);
    expect(await job.getAttribute('hx-trigger')).toBe('every 1s');
    await screenshot(page, 'assets-job');
    await shown(page, page.locator('#asset-jobs', { hasText: 'Generated with meshy' }));
    expect(await page.locator('#asset-jobs .asset-job').count()).toBe(0);
    const modelCard = page.locator('#asset-gallery .asset-card').first();
    expect(await modelCard.getAttribute('data-format')).toBe('glb');
    const viewer = modelCard.locator('model-viewer');
    await eventually(
      async () => ((await viewer.evaluate((mv: any) => mv.loaded)) === true ? true : undefined),
      20_000,
    );
    expect(await viewer.getAttribute('src')).toMatch(/^\/assets\/[0-9a-f-]{36}\/file$/);
    await screenshot(page, 'assets');

    // The download link answers the model's exact bytes as an attachment; ranges work for the player.
    const modelId = (await modelCard.getAttribute('data-asset-id'))!;
    const dl = await page.request.get(`${web}/assets/${modelId}/download`);
    expect(dl.status()).toBe(200);
    expect(dl.headers()['content-disposition']).toBe(`attachment; filename="${modelId}.glb"`);
    expect(sha256(new Uint8Array(await dl.body()))).toBe(sha256(tinyGlb()));
    const part = await page.request.get(`${web}/assets/${modelId}/file`, { headers: { range: 'bytes=0-3' } });
    expect(part.status()).toBe(206);
    expect(new TextDecoder().decode(await part.body())).toBe('glTF');
    // The signed link is the gateway's, for engines.
    expect(await modelCard.locator('[data-asset-copy]').getAttribute('data-asset-copy')).toMatch(
      new RegExp(`/api/v1/assets/${modelId}/file\\?exp=\\d+&sig=`),
    );

    // 4. Over the daily budget: refused, plainly, with today's spend as the gateway reports it.
    const login = await s.h.fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const auth = await login.json();
    const token = (auth.session?.access_token ?? auth.access_token) as string;
    expect(typeof token).toBe('string');
    const spent = (
      await (
        await s.h.fetch('/api/v0.2/assets/pricing/analytics', {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()
    ).total_cost as number;
    expect(spent + audioPrice).toBeGreaterThan(BUDGET);
    const before = eleven.requests.length;
    await fillForm(page, 'audio', 'ambient-calm', 'Another calm loop for the cave level');
    await page.click('#asset-generate-button');
    const refusal = page.locator('#asset-budget-refusal');
    await shown(page, refusal);
    expect(await refusal.textContent()).toContain('Not generated: Daily asset budget exceeded');
    expect(await refusal.textContent()).toContain(`of $${BUDGET.toFixed(4)} used today`);
    expect(await refusal.locator('.asset-spent-today').textContent()).toBe(`$${spent.toFixed(4)}`);
    expect(eleven.requests.length).toBe(before);
    await screenshot(page, 'assets-budget');

    // A reload shows the three assets, newest first, and the day's spend at the top.
    await page.reload();
    await page.locator('#asset-gallery .asset-card').nth(2).waitFor();
    expect(
      await page
        .locator('#asset-gallery .asset-card')
        .evaluateAll((cs) => cs.map((c) => c.getAttribute('data-category'))),
    ).toEqual(['prop', 'audio', 'image']);
    expect(await page.locator('#asset-spent-today').textContent()).toBe(`$${spent.toFixed(4)}`);
    await eventually(
      async () =>
        (await page.locator('#asset-gallery model-viewer').evaluate((mv: any) => mv.loaded)) === true
          ? true
          : undefined,
      20_000,
    );
    expect(await duplicateIds(page)).toEqual([]);

    // Someone else cannot reach these files through the web origin.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await registerAndLogin(otherPage, web, uniqueEmail('assets-other'));
    const theirs = await otherPage.request.get(`${web}/assets/${modelId}/file`);
    expect(theirs.status()).toBe(404);
    expect((await otherPage.request.get(`${web}/assets/not-a-uuid/file`)).status()).toBe(404);
    await closeQuietly(other);

    await closeQuietly(context);
    expect(w.unexpected()).toEqual([]);
  }, 150_000);
});
