/**
 * The chat page in headless Chromium against a whole stack whose model is the scriptable OpenAI fake:
 * Markdown (bold, lists, a table, highlighted code) rendered while the reply streams and the same after a
 * reload; HTML inside a reply inert; a three-line message reaching the model as three lines; Stop keeping
 * the partial reply, stored and marked; tool activity from a tool-calling model; light and dark themes with
 * WCAG AA body text; abandoned streams freeing their slots at once; the page weight of /chat.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createGate, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import {
  chromiumAvailable,
  closeQuietly,
  launchBrowser,
  screenshot,
  startWebStack,
  uniqueEmail,
  type Watched,
  type WebStack,
  watch,
} from '../support/browser.ts';
import { eventually } from '../support/eventually.ts';

const PASSWORD = 'correct-horse-42';
const MAX_STREAMS = 3;
const run = chromiumAvailable();

/** Everything in a reply that could run: a script or image element, an event attribute, a javascript: link. */
async function activeContent(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const root = document.querySelector('#messages');
    if (!root) return ['no #messages'];
    for (const el of Array.from(root.querySelectorAll('*'))) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'img', 'iframe', 'object', 'embed'].includes(tag)) found.push(tag);
      for (const a of Array.from(el.attributes)) {
        if (/^on/i.test(a.name)) found.push(`${tag}[${a.name}]`);
        if (/^\s*javascript:/i.test(a.value)) found.push(`${tag}[${a.name}=${a.value}]`);
      }
    }
    return found;
  });
}

/** WCAG contrast of an element's text against the first opaque background behind it. */
async function contrastOf(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const parse = (c: string) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) throw new Error(`unparsed colour ${c}`);
      const [r, g, b, a] = m[1]!.split(/[ ,/]+/).map(Number);
      return { r: r!, g: g!, b: b!, a: a ?? 1 };
    };
    const el = document.querySelector(sel);
    if (!el) throw new Error(`no ${sel}`);
    const fg = parse(getComputedStyle(el).color);
    let node: Element | null = el;
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    while (node) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.a >= 0.99) {
        bg = c;
        break;
      }
      node = node.parentElement;
    }
    const lum = (c: { r: number; g: number; b: number }) => {
      const f = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x) as [number, number];
    return (hi + 0.05) / (lo + 0.05);
  }, selector);
}

async function bodyLuminance(page: Page): Promise<number> {
  return page.evaluate(() => {
    const m = /rgba?\(([^)]+)\)/.exec(getComputedStyle(document.body).backgroundColor)!;
    const [r, g, b] = m[1]!.split(/[ ,/]+/).map(Number);
    return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
  });
}

describe.skipIf(!run)('chat page in Chromium', () => {
  let s: WebStack;
  let oa: FakeOpenAI;
  let browser: Browser;
  let web: string;

  beforeAll(async () => {
    oa = await startFakeOpenAI();
    s = await startWebStack({
      LOCAL_LLM_ENABLED: 'false',
      OPENAI_API_KEY: 'sk-web-chat',
      OPENAI_BASE_URL: oa.url,
      DEFAULT_LLM_MODEL: 'gpt-4o-mini',
      GAIA_MAX_CONCURRENT_STREAMS: String(MAX_STREAMS),
    });
    web = s.webUrl;
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await oa?.stop();
  }, 60_000);

  async function signedIn(
    opts: { colorScheme?: 'light' | 'dark' } = {},
  ): Promise<{ context: BrowserContext; page: Page; w: Watched; uid: string; email: string }> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      colorScheme: opts.colorScheme ?? 'dark',
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: web });
    const page = await context.newPage();
    const w = watch(context, page, web);
    const email = uniqueEmail('chat');
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
    const me = (await (await page.request.get(`${web}/api/session`)).json()) as { user: { id: string } };
    return { context, page, w, uid: me.user.id, email };
  }

  async function replyDone(page: Page): Promise<void> {
    await page.waitForFunction(() => {
      const b = document.querySelector('#chat-send-button');
      return !!b && !b.hasAttribute('data-streaming');
    });
  }

  test('Markdown renders while streaming and after reload; HTML inert; three lines arrive as three', async () => {
    const { context, page, w } = await signedIn();
    oa.reset();
    const gate = createGate();
    oa.enqueue({
      chunks: [
        'Here is **bold** text.\n\n- one\n',
        '- two\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n',
        '```ts\nconst x: number = 1;\n```\n\n',
        '<script>window.__xss = 1</script> <img src=x onerror="window.__xss=2"> ',
        '[bad](javascript:window.__xss=3) [site](https://example.com/)',
      ],
      gate,
      holdAfter: 3,
    });

    await page.click('#chat-message-input');
    await page.keyboard.type('line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line three');
    // The composer grew with its lines.
    const grown = await page.$eval('#chat-message-input', (e) => e.getBoundingClientRect().height);
    expect(grown).toBeGreaterThan(60);
    await page.keyboard.press('Enter');

    // Mid-stream (the model is held after three pieces): formatted already, Stop offered.
    const md = page.locator('#messages [data-role="assistant"] .chat-markdown').last();
    await md.locator('pre code .hljs-keyword', { hasText: 'const' }).waitFor();
    expect(gate.released).toBe(false);
    await expect(md.locator('strong').textContent()).resolves.toBe('bold');
    expect(await md.locator('li').allTextContents()).toEqual(['one', 'two']);
    expect(await md.locator('table td').allTextContents()).toEqual(['1', '2']);
    expect(await md.locator('code.language-ts').count()).toBe(1);
    expect(await page.isVisible('#chat-stop-button')).toBe(true);
    expect(await page.isEnabled('#chat-send-button')).toBe(false);
    await screenshot(page, 'chat-streaming-markdown');
    // Keep the reply's row and where it starts: re-renders swap its content, never the row (no flicker, no jump).
    const topBefore = await page.evaluate(() => {
      const row = document.querySelector('[id^="response-"]:not([id^="response-content-"])')!;
      (window as unknown as { __row: Element }).__row = row;
      return row.getBoundingClientRect().top;
    });

    gate.release();
    await replyDone(page);
    const after = await page.evaluate(() => {
      const row = document.querySelector('[id^="response-"]:not([id^="response-content-"])')!;
      return {
        same: row === (window as unknown as { __row: Element }).__row,
        top: row.getBoundingClientRect().top,
      };
    });
    expect(after.same).toBe(true);
    expect(Math.abs(after.top - topBefore)).toBeLessThanOrEqual(1);
    expect(await page.isVisible('#chat-stop-button')).toBe(false);
    const streamed = await md.innerHTML();
    expect(await md.locator('a', { hasText: 'site' }).getAttribute('rel')).toBe('noopener noreferrer');
    expect(await md.locator('a', { hasText: 'bad' }).getAttribute('href')).toBeNull();
    await expect(md.textContent()).resolves.toContain('<script>window.__xss = 1</script>');
    expect(await activeContent(page)).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();

    // The model got the message with its line breaks, and the page shows three lines.
    const sent = oa.completions[0]!.body.messages.filter((m: { role: string }) => m.role === 'user');
    expect(sent.at(-1).content).toBe('line one\nline two\nline three');
    // innerText on purpose: it is the text as laid out, so it shows whether the lines appear as lines.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered lines are what is checked
    const shown = await page.locator('#messages [data-role="user"] .whitespace-pre-wrap').last().innerText();
    expect(shown.split('\n')).toEqual(['line one', 'line two', 'line three']);
    expect(await page.inputValue('#chat-message-input')).toBe('');

    // The copy button copies the code without a toast.
    await md.locator('.code-copy').click();
    await md.locator('.code-copy', { hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('const x: number = 1;\n');
    expect(await page.locator('#toast-container .toast').count()).toBe(0);

    // After a reload the stored reply is rendered by the same rules.
    await page.reload();
    const stored = page.locator('#messages [data-role="assistant"] .chat-markdown').last();
    await stored.waitFor();
    expect((await stored.innerHTML()).trim()).toBe(streamed.trim());
    expect(await stored.locator('pre code .hljs-keyword').count()).toBeGreaterThan(0);
    expect(await activeContent(page)).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered lines are what is checked
    const userLines = await page.locator('#messages [data-role="user"] .whitespace-pre-wrap').innerText();
    expect(userLines.split('\n')).toEqual(['line one', 'line two', 'line three']);
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('Stop ends the reply; the partial text stays, is stored as stopped and marked after reload', async () => {
    const { context, page, w, uid, email } = await signedIn();
    oa.reset();
    const gate = createGate();
    oa.enqueue({ chunks: ['Partial ', 'words ', 'never sent'], gate, holdAfter: 2 });
    await page.fill('#chat-message-input', 'Tell me a long story');
    await page.press('#chat-message-input', 'Enter');
    const md = page.locator('#messages [data-role="assistant"] .chat-markdown').last();
    await md.getByText('Partial words').waitFor();
    await page.click('#chat-stop-button');
    await page.locator('#messages .reply-stopped', { hasText: 'Stopped' }).waitFor();
    await replyDone(page);
    expect((await md.textContent())!.trim()).toBe('Partial words');
    expect(await page.locator('[data-role="error"]').count()).toBe(0);
    expect(await page.isEnabled('#chat-send-button')).toBe(true);
    await eventually(async () => (oa.completions[0]!.aborted ? true : undefined), 5_000);
    gate.release();

    const conversationId = page.url().split('/').pop()!;
    const jwt = await s.h.mintJwt({ sub: uid, email });
    const messages = await eventually(async () => {
      const res = await s.h.fetch(`/api/v1/conversations/${conversationId}/messages`, {
        headers: { authorization: `Bearer ${jwt}` },
      });
      const body = (await res.json()) as { messages: Array<Record<string, unknown>> };
      return body.messages.length === 2 ? body.messages : undefined;
    });
    expect(messages[1]).toMatchObject({
      role: 'assistant',
      content: 'Partial words ',
      status: 'partial',
      finish_reason: 'client_disconnected',
    });

    await page.reload();
    await page.locator('#messages [data-role="assistant"][data-status="partial"] .reply-stopped').waitFor();
    await expect(
      page.locator('#messages [data-role="assistant"] .reply-stopped').textContent(),
    ).resolves.toBe('Stopped');
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('tool activity shows above the reply while streaming and after reload', async () => {
    const { context, page, w } = await signedIn();
    oa.reset();
    oa.enqueue(
      {
        toolCalls: [
          { id: 'call_kb1', name: 'search_knowledge_base', arguments: JSON.stringify({ query: 'dragons' }) },
        ],
      },
      { chunks: ['Nothing about ', 'dragons yet.'] },
    );
    await page.fill('#chat-message-input', 'What do my notes say about dragons?');
    await page.press('#chat-message-input', 'Enter');
    const activity = page.locator('#messages [data-role="assistant"] .tool-activity').last();
    await activity.locator('.tool-summary', { hasText: 'Searched the knowledge base' }).waitFor();
    await replyDone(page);
    const summary = (await activity.locator('.tool-summary').textContent())!;
    expect(summary).toMatch(/^Searched the knowledge base: /);
    await activity.locator('.tool-summary').click();
    await expect(activity.locator('.tool-args').textContent()).resolves.toBe('{"query":"dragons"}');
    // The activity line comes before the reply's text.
    const order = await page.$eval('#messages [data-role="assistant"]:last-child > div', (b) =>
      Array.from(b.children).map((c) => c.className.split(' ')[0]),
    );
    expect(order.indexOf('tool-activity')).toBeLessThan(order.indexOf('chat-markdown'));
    await screenshot(page, 'chat-tool-activity');

    await page.reload();
    const again = page.locator('#messages [data-role="assistant"] .tool-activity .tool-summary');
    await again.waitFor();
    expect(await again.textContent()).toBe(summary);
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('a scenario reply made through the API shows the agents it consulted when opened on the page', async () => {
    const { context, page, w, uid, email } = await signedIn();
    oa.reset();
    oa.enqueue(
      {
        toolCalls: [
          { id: 'call_npc', name: 'ask_npc_voice', arguments: JSON.stringify({ request: 'greet' }) },
          { id: 'call_rules', name: 'ask_rules_arbiter', arguments: JSON.stringify({ request: 'check' }) },
        ],
      },
      { chunks: ['The innkeeper waves.'] },
      { chunks: ['That is allowed.'] },
      { chunks: ['The **innkeeper** greets you.'] },
    );
    const jwt = await s.h.mintJwt({ sub: uid, email });
    const res = await s.h.fetch('/api/v1/chat', {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'I enter the inn', scenario: 'gamemaster' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { _metadata: { conversation_id: string } };
    const id = body._metadata.conversation_id;
    expect(id).toBeTruthy();
    await page.goto(`${web}/chat/${id}`);
    const activity = page.locator('#messages [data-role="assistant"] .tool-activity');
    await activity.waitFor();
    expect(await activity.getAttribute('data-agents')).toBe('npc_voice rules_arbiter');
    await expect(activity.locator('.tool-summary').textContent()).resolves.toBe(
      'Consulted npc voice, rules arbiter',
    );
    await expect(
      page.locator('#messages [data-role="assistant"] .chat-markdown strong').textContent(),
    ).resolves.toBe('innkeeper');
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('a failed reply shows the error in place with Retry, which asks again', async () => {
    const { context, page, w } = await signedIn();
    oa.reset();
    oa.enqueue({ status: 400, errorMessage: 'bad things' }, { chunks: ['Second time lucky.'] });
    await page.fill('#chat-message-input', 'Try this');
    await page.press('#chat-message-input', 'Enter');
    const error = page.locator('#messages [data-role="error"]');
    await error.waitFor();
    await replyDone(page);
    expect(await page.locator('#toast-container .toast').count()).toBe(0);
    await error.locator('.chat-retry').click();
    await page
      .locator('#messages [data-role="assistant"] .chat-markdown', { hasText: 'Second time lucky.' })
      .waitFor();
    await replyDone(page);
    expect(await page.locator('#messages [data-role="error"]').count()).toBe(0);
    const asked = oa.completions.map(
      (c) => c.body.messages.filter((m: { role: string }) => m.role === 'user').at(-1).content,
    );
    expect(asked).toEqual(['Try this', 'Try this']);
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('a composer htmx has not bound yet still sends through htmx, never as a GET with the text in the URL', async () => {
    const { context, page, w } = await signedIn();
    oa.reset();
    oa.enqueue({ chunks: ['Caught it.'] });
    const natives: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('message=')) natives.push(r.url());
    });
    // What a swap leaves for up to its settle time (200 ms on the chat pages, longer on a busy device): the
    // composer in the page, htmx's listeners not on it yet. A copy of the form has none of them.
    await page.evaluate(() => {
      const form = document.querySelector('#chat-form')!;
      form.replaceWith(form.cloneNode(true));
    });
    await page.fill('#chat-message-input', 'Quick one');
    await page.press('#chat-message-input', 'Enter');
    await page
      .locator('#messages [data-role="assistant"] .chat-markdown', { hasText: 'Caught it.' })
      .waitFor();
    await replyDone(page);
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    expect(natives).toEqual([]);
    expect(
      oa.completions.map(
        (c) => c.body.messages.filter((m: { role: string }) => m.role === 'user').at(-1).content,
      ),
    ).toEqual(['Quick one']);
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('themes follow the colour scheme, the toggle overrides and is remembered; body text passes AA', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { context, page, w } = await signedIn({ colorScheme: scheme });
      oa.reset();
      oa.enqueue({ chunks: ['A reply with `code` and a [link](https://example.com/).'] });
      await page.fill('#chat-message-input', 'hello');
      await page.press('#chat-message-input', 'Enter');
      await page.locator('#messages [data-role="assistant"] .chat-markdown a', { hasText: 'link' }).waitFor();
      await replyDone(page);
      const lum = await bodyLuminance(page);
      if (scheme === 'light') expect(lum).toBeGreaterThan(0.8);
      else expect(lum).toBeLessThan(0.2);
      for (const sel of ['body', '#messages [data-role="assistant"] .chat-markdown p', '#chat-message-input'])
        expect(await contrastOf(page, sel)).toBeGreaterThanOrEqual(4.5);
      await screenshot(page, `chat-${scheme}`);

      // The toggle switches to the other theme and the choice survives a reload.
      const other = scheme === 'light' ? 'dark' : 'light';
      await page.click('#theme-toggle');
      await page.waitForFunction((t) => document.documentElement.dataset.theme === t, other);
      const flipped = await bodyLuminance(page);
      if (other === 'light') expect(flipped).toBeGreaterThan(0.8);
      else expect(flipped).toBeLessThan(0.2);
      await page.reload();
      await page.locator('#messages [data-role="assistant"]').first().waitFor();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(other);
      expect(await page.evaluate(() => localStorage.getItem('gaia-theme'))).toBe(other);
      for (const sel of ['body', '#messages [data-role="assistant"] .chat-markdown p'])
        expect(await contrastOf(page, sel)).toBeGreaterThanOrEqual(4.5);
      // Other pages inherit the theme from the same properties.
      await page.goto(`${web}/profile`);
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(other);
      const profileLum = await bodyLuminance(page);
      if (other === 'light') expect(profileLum).toBeGreaterThan(0.8);
      else expect(profileLum).toBeLessThan(0.2);
      expect(await contrastOf(page, 'body')).toBeGreaterThanOrEqual(4.5);
      expect(w.unexpected()).toEqual([]);
      await closeQuietly(context);
    }
  }, 90_000);

  test('abandoned web streams free their slots at once; a foreign page cannot start a reply', async () => {
    const { context, page, uid, email } = await signedIn();
    const cookie = (await context.cookies(web)).find((c) => c.name === 'session')!;
    await closeQuietly(page);
    // Replies the earlier tests stopped or finished hold no stream any more.
    await eventually(async () => (s.h.stack.gateway.openStreams() === 0 ? true : undefined), 5_000);
    oa.reset();
    const streams: AbortController[] = [];
    for (let i = 0; i < MAX_STREAMS; i++) {
      oa.enqueue({ hang: true });
      const ctrl = new AbortController();
      const res = await fetch(`${web}/api/chat/stream`, {
        method: 'POST',
        headers: {
          cookie: `session=${cookie.value}`,
          origin: web,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ message: `hang ${i}`, conversation_id: '' }),
        signal: ctrl.signal,
      });
      expect(res.status).toBe(200);
      // The first event arrives once the gateway stream is open.
      const reader = res.body!.getReader();
      await reader.read();
      streams.push(ctrl);
    }
    await eventually(async () => (oa.completions.length === MAX_STREAMS ? true : undefined));
    expect(s.h.stack.gateway.openStreams()).toBe(MAX_STREAMS);
    const t0 = Date.now();
    for (const c of streams) c.abort();
    await eventually(async () => (s.h.stack.gateway.openStreams() === 0 ? true : undefined), 5_000);
    expect(Date.now() - t0).toBeLessThan(3_000);
    await eventually(async () => (oa.completions.every((c) => c.aborted) ? true : undefined), 5_000);

    // The same user's API streams are not refused for slots the browser gave up.
    const jwt = await s.h.mintJwt({ sub: uid, email });
    oa.enqueue({ chunks: ['ok'] }, { chunks: ['ok'] }, { chunks: ['ok'] });
    const api = await Promise.all(
      Array.from({ length: MAX_STREAMS }, () =>
        s.h.fetch('/api/v1/chat', {
          method: 'POST',
          headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'hi', stream: true }),
        }),
      ),
    );
    expect(api.map((r) => r.status)).toEqual(api.map(() => 200));
    await Promise.all(api.map((r) => r.text()));

    // A foreign page: a top-level GET and a cross-site form POST both fail and post nothing.
    const before = oa.completions.length;
    const listBefore = await (
      await s.h.fetch('/api/v1/conversations', { headers: { authorization: `Bearer ${jwt}` } })
    ).json();
    const foreign = await context.newPage();
    await foreign.route('https://evil.example/**', (r) =>
      r.fulfill({
        contentType: 'text/html',
        body: `<form id="f" method="POST" action="${web}/api/chat/stream"><input name="message" value="pwned"><input name="conversation_id" value=""></form>`,
      }),
    );
    const nav = await foreign.goto(`${web}/api/chat/stream?message=pwned&conversation_id=`);
    expect(nav!.status()).toBe(404);
    await foreign.goto('https://evil.example/attack');
    const [post] = await Promise.all([
      foreign.waitForResponse((r) => r.url() === `${web}/api/chat/stream`),
      foreign.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit()),
    ]);
    expect(post.status()).toBe(403);
    await Bun.sleep(200);
    expect(oa.completions.length).toBe(before);
    const listAfter = await (
      await s.h.fetch('/api/v1/conversations', { headers: { authorization: `Bearer ${jwt}` } })
    ).json();
    expect(listAfter).toEqual(listBefore);
    await closeQuietly(context);
  }, 60_000);

  test('/chat/a%2Fb and /chat/%00 show the 404 page; /chat weighs under 300 KB gzipped', async () => {
    const { context, page, w } = await signedIn();
    for (const path of ['/chat/a%2Fb', '/chat/%00']) {
      const res = await page.goto(`${web}${path}`);
      expect(res!.status()).toBe(404);
      await page.getByText('404 - Page Not Found').waitFor();
    }
    const html = await (await page.request.get(`${web}/chat`)).text();
    const assets = [...html.matchAll(/(?:href|src)="(\/static\/[^"]+\.(?:css|js))"/g)].map((m) => m[1]!);
    expect(assets).toEqual(
      expect.arrayContaining(['/static/gaia.css', '/static/gaia.js', '/static/js/theme.js']),
    );
    let total = Bun.gzipSync(new TextEncoder().encode(html)).length;
    for (const a of assets) {
      const body = await (await page.request.get(`${web}${a}`)).body();
      total += Bun.gzipSync(new Uint8Array(body)).length;
    }
    console.log(`/chat page weight: ${(total / 1024).toFixed(1)} KB gzip (${assets.length} assets)`);
    expect(total).toBeLessThan(300 * 1024);
    // The two 404 navigations themselves, which the browser also reports on its console.
    expect(w.unexpected([/404 GET .*\/chat\/(a%2Fb|%00)/, /status of 404 \(Not Found\)/])).toEqual([]);
    expect(w.problems.filter((p) => p.kind === 'console').length).toBe(2);
    await closeQuietly(context);
  }, 60_000);
});
