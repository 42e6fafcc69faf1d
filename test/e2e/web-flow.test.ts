/**
 * The web UI in headless Chromium against a whole stack (spec/web.md §14): the main flow from
 * registration to logout with a reply that streams in parts, session secrecy, desktop invariants, error
 * display in place, and no console errors on any page. Screenshots of each page land in
 * test/e2e/screenshots/ (git-ignored); GAIA_UPDATE_SCREENSHOTS=true (or a missing file) also refreshes
 * docs/screenshots/chat.png for the README.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  chromiumAvailable,
  closeQuietly,
  duplicateIds,
  launchBrowser,
  SCREENSHOT_DIR,
  screenshot,
  startWebStack,
  uniqueEmail,
  type WebStack,
  watch,
} from '../support/browser.ts';

const JWT = /eyJ[\w-]+\.[\w-]+\./;
const PASSWORD = 'correct-horse-42';
const run = chromiumAvailable();
const DOCS_SHOT = resolve(import.meta.dir, '../../docs/screenshots/chat.png');

/** Waits until the reply being written has finished ([DONE] handled: the send button is enabled again). */
async function waitForReplyDone(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const b = document.querySelector('#chat-send-button') as HTMLButtonElement | null;
      return (
        !!b &&
        !b.disabled &&
        !b.hasAttribute('data-streaming') &&
        !document.querySelector('[id^="loading-"]:not(#loading-indicator)')
      );
    },
    undefined,
    { timeout: 20_000 },
  );
}

/** Records every distinct text of the reply being written, to prove it arrived in parts. */
async function recordReplyChunks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __chunks: string[]; __thinking: boolean };
    w.__chunks = [];
    w.__thinking = false;
    const seen = () => {
      const thinking = document.querySelector('[id^="loading-"]:not(#loading-indicator)');
      if (thinking?.textContent?.includes('Gaia is thinking...')) w.__thinking = true;
      const els = document.querySelectorAll('[id^="response-content-"]');
      const el = els[els.length - 1];
      const t = el?.textContent ?? '';
      if (el && w.__chunks[w.__chunks.length - 1] !== t) w.__chunks.push(t);
    };
    new MutationObserver(seen).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
}

async function sendMessage(page: Page, text: string): Promise<void> {
  await page.fill('#chat-message-input', text);
  await page.press('#chat-message-input', 'Enter');
}

async function expectUniqueIds(page: Page): Promise<void> {
  expect(await duplicateIds(page)).toEqual([]);
}

async function expectNoTokenInPage(page: Page): Promise<void> {
  const found = await page.evaluate(() => ({
    cookie: document.cookie,
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
    html: document.documentElement.outerHTML,
  }));
  expect(found.cookie).not.toContain('session');
  expect(found.local).not.toMatch(JWT);
  expect(found.session).not.toMatch(JWT);
  expect(found.html).not.toMatch(JWT);
}

async function register(page: Page, web: string, email: string): Promise<void> {
  await page.goto(`${web}/register`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.getByText('Registration successful').waitFor();
}

async function login(page: Page, web: string, email: string): Promise<void> {
  await page.goto(`${web}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${web}/chat`);
}

describe.skipIf(!run)('web UI in Chromium', () => {
  let s: WebStack;
  let browser: Browser;
  let web: string;

  beforeAll(async () => {
    s = await startWebStack();
    web = s.webUrl;
    browser = await launchBrowser();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // The first navigation of a fresh browser is the slow one; keep it out of the timed tests.
    const warm = await browser.newPage();
    await warm.goto(`${web}/login`, { waitUntil: 'networkidle' });
    await closeQuietly(warm);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  }, 60_000);

  test('main flow: register → login → streamed reply → reload → new → switch → delete → search → logout', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    const email = uniqueEmail('flow');
    const local = email.split('@')[0]!;

    // 1. Register
    await page.goto(`${web}/register`);
    await expect(page.title()).resolves.toBe('Gaia Platform');
    await screenshot(page, 'register');
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.getByText('Registration successful').waitFor();
    await page.getByText('Continue to Sign In').waitFor();

    // 2. Log in (the link pre-fills the email)
    await page.click('text=Continue to Sign In');
    await page.waitForURL(/\/login\?email=/);
    expect(await page.inputValue('input[name=email]')).toBe(email);
    await screenshot(page, 'login');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${web}/chat`);
    await page.getByText(`Welcome back, ${local}!`).waitFor();
    await expectUniqueIds(page);
    await expectNoTokenInPage(page);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'session')!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Lax');
    expect(session.value).not.toMatch(JWT);
    const apiSession = await (await page.request.get(`${web}/api/session`)).text();
    expect(apiSession).not.toMatch(JWT);
    expect(JSON.parse(apiSession)).toMatchObject({ authenticated: true, user: { email } });

    // Desktop invariants (§14.4)
    const root = await page.$$eval('.flex.h-screen', (els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { w: r.width, h: r.height };
      }),
    );
    expect(root).toHaveLength(1);
    expect(Math.abs(root[0]!.w - 1280)).toBeLessThanOrEqual(20);
    expect(Math.abs(root[0]!.h - 800)).toBeLessThanOrEqual(20);
    const sidebarWidth = (await page.locator('#sidebar').boundingBox())!.width;
    expect(sidebarWidth).toBeGreaterThanOrEqual(200);
    expect(sidebarWidth).toBeLessThanOrEqual(300);
    const viewport = await page.getAttribute('meta[name=viewport]', 'content');
    expect(viewport).toContain('width=device-width');
    expect(viewport).toContain('initial-scale=1');

    // 3. Send "Hello Gaia": the reply streams in parts
    await recordReplyChunks(page);
    await sendMessage(page, 'Hello Gaia');
    await page.locator('[data-role="user"]', { hasText: 'Hello Gaia' }).waitFor();
    await page.waitForFunction(() => (window as unknown as { __thinking: boolean }).__thinking);
    await waitForReplyDone(page);
    const chunks = await page.evaluate(() => (window as unknown as { __chunks: string[] }).__chunks);
    const finalText = (await page.locator('[id^="response-content-"]').textContent())!;
    expect(chunks.filter((c) => c !== finalText).length).toBeGreaterThanOrEqual(2);
    expect(chunks.at(-1)).toBe(finalText);
    expect(finalText).toContain('You said: "Hello Gaia"');
    expect(await page.inputValue('#chat-message-input')).toBe('');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('chat-message-input');
    expect(await page.isEnabled('#chat-send-button')).toBe(true);
    expect(page.url()).toMatch(/\/chat\/[0-9a-f-]{36}$/);
    const firstId = page.url().split('/').pop()!;
    await page.locator('.conversation-item .font-medium', { hasText: 'Hello Gaia' }).waitFor();
    expect(await page.locator('.conversation-item').count()).toBe(1);
    expect((await page.locator('[id^="response-"]').first().textContent())!).toContain('Mu ·');
    await expectUniqueIds(page);
    const rootAfter = await page.locator('.flex.h-screen').boundingBox();
    expect(Math.abs(rootAfter!.width - 1280)).toBeLessThanOrEqual(20);

    // 4. Reload: both messages, the same text, one conversation
    await page.reload();
    await page.locator('[data-role="assistant"]').waitFor();
    expect(await page.locator('#messages [data-role="user"]').count()).toBe(1);
    expect(await page.locator('#messages [data-role="assistant"]').count()).toBe(1);
    expect(
      (await page.locator('#messages [data-role="assistant"] .chat-markdown').textContent())!.trim(),
    ).toBe(finalText.trim());
    expect(await page.locator('.conversation-item').count()).toBe(1);
    await expectUniqueIds(page);
    await expectNoTokenInPage(page);
    await screenshot(page, 'chat');
    if (process.env.GAIA_UPDATE_SCREENSHOTS === 'true' || !existsSync(DOCS_SHOT)) {
      mkdirSync(resolve(DOCS_SHOT, '..'), { recursive: true });
      copyFileSync(resolve(SCREENSHOT_DIR, 'chat.png'), DOCS_SHOT);
    }

    // 5. New Chat, then a second conversation
    await page.click('#new-chat-button');
    await page.locator('#welcome-message').waitFor();
    await page.waitForURL(`${web}/chat`);
    expect(await page.inputValue('#conversation-id-input')).toBe('');
    await screenshot(page, 'chat-new');
    await sendMessage(page, 'Second topic please');
    await waitForReplyDone(page);
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    const secondId = page.url().split('/').pop()!;
    expect(secondId).not.toBe(firstId);
    await page.waitForFunction(() => document.querySelectorAll('.conversation-item').length === 2);
    const order = await page.$$eval('.conversation-item', (els) =>
      els.map((e) => (e as HTMLElement).dataset.conversationId),
    );
    expect(order).toEqual([secondId, firstId]);
    await expectUniqueIds(page);

    // 6. Switch to the first, then back
    await page.click(`.conversation-item[data-conversation-id="${firstId}"] a`);
    await page.waitForURL(`${web}/chat/${firstId}`);
    await page.locator('#messages [data-role="user"]', { hasText: 'Hello Gaia' }).waitFor();
    await page.waitForFunction(
      (id) =>
        document
          .querySelector(`.conversation-item[data-conversation-id="${id}"]`)
          ?.classList.contains('border-purple-500'),
      firstId,
    );
    await screenshot(page, 'conversation');
    await expectUniqueIds(page);
    await page.goBack();
    await page.waitForURL(`${web}/chat/${secondId}`);
    await page.locator('#messages [data-role="user"]', { hasText: 'Second topic please' }).waitFor();

    // 7. Delete the open conversation
    await page.hover(`.conversation-item[data-conversation-id="${secondId}"]`);
    await page.click(
      `.conversation-item[data-conversation-id="${secondId}"] button[aria-label="Delete conversation"]`,
    );
    await page.waitForFunction(
      (id) => !document.querySelector(`.conversation-item[data-conversation-id="${id}"]`),
      secondId,
    );
    await page.locator('#welcome-message').waitFor();
    await page.waitForURL(`${web}/chat`);
    await expectUniqueIds(page);
    await page.reload();
    expect(await page.locator(`.conversation-item[data-conversation-id="${secondId}"]`).count()).toBe(0);
    expect(await page.locator('.conversation-item').count()).toBe(1);

    // 8. Search
    await page.fill('#search-input', 'Hello G');
    await page.locator('#search-status', { hasText: '1 result for "Hello G"' }).waitFor();
    expect(await page.locator('.conversation-item').count()).toBe(1);
    await page.fill('#search-input', 'zzqxv');
    await page.getByText("No conversations found for 'zzqxv'").waitFor();
    await page.press('#search-input', 'Escape');
    await page.locator('.conversation-item').first().waitFor();
    expect(await page.inputValue('#search-input')).toBe('');
    await page.waitForFunction(() => document.querySelector('#search-status')?.textContent === '');

    // Other pages, for screenshots and console checks
    for (const [path, name] of [
      ['/profile', 'profile'],
      ['/personas', 'personas'],
      ['/api-keys', 'api-keys'],
    ] as const) {
      await page.goto(web + path);
      await page.locator('#page-content').waitFor();
      await expectUniqueIds(page);
      await screenshot(page, name);
    }
    await page.goto(`${web}/chat`);

    // 9. Log out; the old cookie no longer opens a session
    const before = (await context.cookies()).find((c) => c.name === 'session')!;
    await page.click('#user-block a[href="/logout"]');
    await page.waitForURL(`${web}/login`);
    await page.goto(`${web}/chat`);
    await page.waitForURL(/\/login/);
    await context.addCookies([before]);
    await page.goto(`${web}/chat`);
    await page.waitForURL(/\/login/);

    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 120_000);

  test('errors show in place: wrong password, duplicate registration, failing replies, unknown conversation', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    const email = uniqueEmail('errors');
    await register(page, web, email);

    // Duplicate registration
    await page.goto(`${web}/register`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.getByText('This email is already registered. Please login instead.').waitFor();
    expect(await page.inputValue('input[name=email]')).toBe(email);

    // Wrong password, then the right one
    await page.goto(`${web}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'wrong-password');
    await page.click('button[type=submit]');
    await page.getByText('Invalid email or password').waitFor();
    await screenshot(page, 'login-error');
    expect(await page.inputValue('input[name=email]')).toBe(email);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${web}/chat`);

    // A reply that fails after three words keeps them, adds a red bubble, and the input works again
    await sendMessage(page, 'Break please [[local:error-after-3]]');
    await page.locator('[data-role="error"]', { hasText: '❌ Error:' }).waitFor({ timeout: 20_000 });
    await waitForReplyDone(page);
    const partial = (await page.locator('[id^="response-content-"]').textContent())!;
    expect(partial.trim().split(/\s+/)).toHaveLength(3);
    expect(await page.isEnabled('#chat-message-input')).toBe(true);
    await screenshot(page, 'chat-error');
    await page.reload();
    await page.getByText('(interrupted)').waitFor();

    // A reply that fails before any text: only the red bubble
    await sendMessage(page, 'Fail at once [[local:error]]');
    await page.locator('[data-role="error"]', { hasText: '❌ Error:' }).last().waitFor({ timeout: 20_000 });
    await waitForReplyDone(page);
    expect(await page.locator('[id^="response-content-"]').count()).toBe(0);

    // Unknown conversation: 404 page with the message
    const missing = await page.goto(`${web}/chat/${crypto.randomUUID()}`);
    expect(missing!.status()).toBe(404);
    await page.getByText('Conversation not found.').waitFor();

    // htmx without a cookie: 401 and HX-Redirect
    const bare = await fetch(`${web}/api/conversations`, { headers: { 'HX-Request': 'true' } });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('hx-redirect')).toBe('/login');

    expect(w.unexpected([/^404 GET .*\/chat\/[0-9a-f-]{36}$/, /status of 404/])).toEqual([]);
    await closeQuietly(context);
  }, 120_000);

  test('personas and API keys: a chosen persona names the next reply; a key shows once, works, and revoke stops it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    const email = uniqueEmail('pages');
    await register(page, web, email);
    await login(page, web, email);

    // Personas: Mu is listed and current; a new persona, once used, names the next reply
    await page.goto(`${web}/personas`);
    await page.locator('#persona-list article', { hasText: 'Mu' }).getByText('Current').waitFor();
    const name = `Guide${Date.now().toString(36)}`;
    await page.fill('#persona-form input[name=name]', name);
    await page.fill('#persona-form input[name=description]', 'A calm trail guide');
    await page.fill('#persona-form textarea[name=system_prompt]', 'You are a calm guide.');
    await page.click('#persona-form button[type=submit]');
    await page.getByRole('button', { name: `Use ${name}` }).click();
    await page.locator('#persona-list article', { hasText: name }).getByText('Current').waitFor();
    await page.getByText(`Now chatting with ${name}`).waitFor();
    await page.goto(`${web}/chat`);
    expect(
      await page.$eval('#persona-select', (e) => (e as HTMLSelectElement).selectedOptions[0]?.textContent),
    ).toBe(name);
    await sendMessage(page, 'Who are you?');
    await waitForReplyDone(page);
    expect(await page.locator('[id^="response-"]:not([id^="response-content-"])').textContent()).toContain(
      `${name} ·`,
    );

    // API keys: shown once, usable at the gateway, revoked within a second
    await page.goto(`${web}/api-keys`);
    await page.fill('#api-key-form input[name=name]', 'Browser test key');
    await page.selectOption('#api-key-form select[name=expires_in_days]', '30');
    await page.click('#api-key-form button[type=submit]');
    await page.locator('#new-api-key').waitFor();
    await screenshot(page, 'api-key-created');
    const key = (await page.textContent('#new-api-key code'))!.trim();
    const list = (await page.textContent('#api-key-list'))!;
    expect(list).toContain(key.slice(0, 8));
    expect(list).toContain('Browser test key');
    const call = () => fetch(`${s.h.url}/api/v1/conversations`, { headers: { 'X-API-Key': key } });
    expect((await call()).status).toBe(200);
    await page.click('#api-key-list button:has-text("Revoke")');
    await page.locator('#api-key-list', { hasText: 'revoked' }).waitFor();
    await Bun.sleep(1000);
    expect((await call()).status).toBe(401);
    await page.reload();
    expect(await page.locator('#new-api-key').count()).toBe(0);
    expect(await page.content()).not.toContain(key);

    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 120_000);

  test('mobile at 375 px: the sidebar opens and closes, touch targets, no horizontal scroll', async () => {
    const context = await browser.newContext({
      viewport: { width: 375, height: 812 },
      hasTouch: true,
      isMobile: true,
    });
    const page = await context.newPage();
    const w = watch(context, page, web);
    const email = uniqueEmail('mobile');
    await register(page, web, email);
    await login(page, web, email);

    const box = async () => (await page.locator('#sidebar').boundingBox())!;
    expect((await box()).x + (await box()).width).toBeLessThanOrEqual(1);
    expect(await page.isVisible('.mobile-header')).toBe(true);
    expect(await page.isVisible('#sidebar-toggle')).toBe(true);

    await page.tap('#sidebar-toggle');
    await page.waitForFunction(() => document.querySelector('#sidebar')!.getBoundingClientRect().x >= 0);
    expect(await page.isVisible('#sidebar-overlay')).toBe(true);
    await page.waitForTimeout(350);
    await screenshot(page, 'mobile-sidebar');
    await page.tap('#sidebar-overlay', { position: { x: 340, y: 400 } });
    await page.waitForFunction(() => document.querySelector('#sidebar')!.getBoundingClientRect().right <= 1);
    expect(await page.isVisible('#sidebar-overlay')).toBe(false);

    const fontSize = await page.$eval('#chat-message-input', (e) =>
      Number.parseFloat(getComputedStyle(e).fontSize),
    );
    expect(fontSize).toBeGreaterThanOrEqual(16);
    const send = (await page.locator('#chat-send-button').boundingBox())!;
    expect(send.width).toBeGreaterThanOrEqual(44);
    expect(send.height).toBeGreaterThanOrEqual(44);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);

    // Send, open and delete by touch
    await page.tap('#chat-message-input');
    await page.fill('#chat-message-input', 'Hello from a phone');
    await page.tap('#chat-send-button');
    await waitForReplyDone(page);
    await screenshot(page, 'mobile-chat');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.tap('#sidebar-toggle');
    await page.waitForFunction(() => document.querySelector('#sidebar')!.getBoundingClientRect().x >= 0);
    await page.waitForTimeout(350);
    await page.tap('.conversation-item a');
    await page.locator('#messages [data-role="user"]', { hasText: 'Hello from a phone' }).waitFor();
    await page.waitForFunction(() => document.querySelector('#sidebar')!.getBoundingClientRect().right <= 1);
    await page.tap('#sidebar-toggle');
    await page.waitForFunction(() => document.querySelector('#sidebar')!.getBoundingClientRect().x >= 0);
    await page.waitForTimeout(350);
    await page.tap('.conversation-item button[aria-label="Delete conversation"]');
    await page.getByText('No conversations yet').waitFor();

    // The breakpoint: 768 px shows the sidebar in the layout, 767 px the mobile header
    await page.setViewportSize({ width: 768, height: 812 });
    await page.waitForFunction(() => {
      const sb = document.querySelector('#sidebar')!;
      const r = sb.getBoundingClientRect();
      // gaia.js resets the mobile state when the width reaches md.
      return r.x >= 0 && r.width > 0 && !sb.classList.contains('is-open');
    });
    expect(await page.isVisible('.mobile-header')).toBe(false);
    await page.setViewportSize({ width: 767, height: 812 });
    await page.waitForFunction(() => document.querySelector('#sidebar')!.getBoundingClientRect().right <= 1);
    expect(await page.isVisible('.mobile-header')).toBe(true);

    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 120_000);
});
