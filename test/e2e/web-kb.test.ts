/**
 * The knowledge-base pages in headless Chromium against a whole stack with the real kb service: browse
 * the tree, read a file (Markdown rendered, its HTML inert), follow a wiki link, search, edit and save,
 * and a save that conflicts with a change made meanwhile. No console errors, no failed or off-origin
 * requests, no answer ≥ 400 on the way.
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

function kbFileUrl(path: string): string {
  return `/api/v1/kb/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

describe.skipIf(!run)('knowledge base in Chromium', () => {
  let s: WebStack;
  let browser: Browser;
  let web: string;

  /** Writes a file as the seeded admin (the dev key), as another person or tool would. */
  async function put(path: string, content: string, message = 'seed'): Promise<void> {
    const res = await s.h.dev(kbFileUrl(path), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content, message }),
    });
    if (!res.ok) throw new Error(`seeding ${path}: ${res.status} ${await res.text()}`);
  }

  async function read(path: string): Promise<{ content: string; sha: string }> {
    const res = await s.h.dev(kbFileUrl(path));
    expect(res.status).toBe(200);
    return (await res.json()) as { content: string; sha: string };
  }

  beforeAll(async () => {
    s = await startWebStack();
    web = s.webUrl;
    browser = await launchBrowser();
    const probe = await s.h.dev('/api/v1/kb/me');
    if (probe.status !== 200)
      throw new Error(`the stack has no kb service: GET /api/v1/kb/me ${probe.status}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  }, 60_000);

  test('browse → read → wiki link → search → edit → conflict', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    await registerAndLogin(page, web, uniqueEmail('kb'));
    const me = (await (await page.request.get(`${web}/api/session`)).json()) as { user: { id: string } };
    const uid = me.user.id;
    const notes = `users/${uid}/notes`;
    await put(
      `${notes}/dragons.md`,
      '---\ntitle: Dragon Notes\ntags: [lore]\n---\n# Dragons\n\nThe dragon lair lies beneath the northern ridge. See [[lair]].\n\n<script>window.__xss = 1</script>\n\n[bad](javascript:window.__xss=2) and [site](https://example.com)\n',
    );
    await put(`${notes}/lair.md`, '# Lair\n\nDeep and dark, far below the ridge.\n');
    await put('shared/handbook.md', '# Handbook\n\nWelcome to Gaia.\n');

    // Browse: the root shows the namespaces; folders open in the tree and the URL follows.
    await page.goto(`${web}/kb`);
    await expect(page.title()).resolves.toBe('Gaia Platform');
    await page.locator('#kb-tree a', { hasText: 'My notes' }).click();
    await page.waitForURL(`${web}/kb?path=users/${uid}`);
    await page.locator('#kb-breadcrumb', { hasText: 'My notes' }).waitFor();
    await page.locator('#kb-tree a', { hasText: 'notes/' }).click();
    await page.waitForURL(`${web}/kb?path=${notes}`);
    await screenshot(page, 'kb-tree');

    // Read: title from the frontmatter, the path, the last commit, Markdown rendered, HTML inert.
    await page.locator('#kb-tree a', { hasText: 'dragons.md' }).click();
    await page.waitForURL(`${web}/kb/file?path=${notes}/dragons.md`);
    await expect(page.locator('#kb-file-title').textContent()).resolves.toBe('Dragon Notes');
    await expect(page.locator('#kb-file-path').textContent()).resolves.toBe(`${notes}/dragons.md`);
    await expect(page.locator('#kb-last-commit').textContent()).resolves.toContain('UTC');
    await expect(page.locator('#kb-content .kb-markdown h1').textContent()).resolves.toBe('Dragons');
    await expect(page.locator('#kb-content .kb-markdown').textContent()).resolves.toContain(
      '<script>window.__xss = 1</script>',
    );
    expect(await page.locator('#kb-content script').count()).toBe(0);
    expect(await page.locator('#kb-content a', { hasText: 'bad' }).getAttribute('href')).toBeNull();
    expect(await page.locator('#kb-content a', { hasText: 'site' }).getAttribute('rel')).toBe(
      'noopener noreferrer',
    );
    await expect(page.locator('#kb-edit-button').isVisible()).resolves.toBe(true);
    await screenshot(page, 'kb-file');

    // A wiki link stays inside /kb and the browser's back button returns.
    await page.locator('#kb-content a', { hasText: 'lair' }).click();
    await page.waitForURL(/\/kb\/file\?path=.*lair\.md/);
    await page.locator('#kb-file-title', { hasText: 'lair.md' }).waitFor();
    await page.goBack();
    await page.locator('#kb-file-title', { hasText: 'Dragon Notes' }).waitFor();

    // Search: literal text, ranked results, matched terms marked; a result opens the file.
    await page.fill('#kb-search-input', 'dragon lair');
    await page.locator('#kb-search-results li').first().waitFor();
    const first = page.locator('#kb-search-results li').first();
    await expect(first.locator('a').first().textContent()).resolves.toBe('Dragon Notes');
    const marks = await first.locator('mark').allTextContents();
    expect(marks.map((m) => m.toLowerCase())).toEqual(expect.arrayContaining(['dragon', 'lair']));
    await screenshot(page, 'kb-search');
    await page.fill('#kb-search-input', '(unclosed[regex');
    await page.locator('#kb-search-summary', { hasText: 'No results' }).waitFor();
    await page.fill('#kb-search-input', 'northern ridge');
    await page.locator('#kb-search-results li a', { hasText: 'Dragon Notes' }).click();
    await page.locator('#kb-file-title', { hasText: 'Dragon Notes' }).waitFor();

    // Edit and save: a toast names the commit, the page shows the new text, the KB has it.
    await page.click('#kb-edit-button');
    await page.locator('form#kb-editor').waitFor();
    await page.waitForURL(`${web}/kb/edit?path=${notes}/dragons.md`);
    const original = await page.inputValue('#kb-editor-content');
    expect(original).toStartWith('---\ntitle: Dragon Notes');
    await page.fill('#kb-editor-content', `${original}\nA new paragraph about wyverns.\n`);
    await page.fill('input[name=message]', 'Add wyverns');
    await page.click('form#kb-editor button[type=submit]');
    await page.locator('#toast-container', { hasText: /Saved \(commit [0-9a-f]{7}\)/ }).waitFor();
    await page.locator('#kb-content', { hasText: 'A new paragraph about wyverns.' }).waitFor();
    await page.waitForURL(`${web}/kb/file?path=${notes}/dragons.md`);
    expect((await read(`${notes}/dragons.md`)).content).toContain('A new paragraph about wyverns.');
    await screenshot(page, 'kb-saved');

    // Conflict: someone else saves while the editor is open; the text stays and a link reloads.
    await page.click('#kb-edit-button');
    await page.locator('form#kb-editor').waitFor();
    await put(`${notes}/dragons.md`, '# Dragons\n\nRewritten elsewhere.\n', 'other edit');
    await page.fill('#kb-editor-content', 'my version');
    await page.fill('input[name=message]', 'Mine');
    await page.click('form#kb-editor button[type=submit]');
    await page.getByText('This file changed since you opened it.').waitFor();
    expect(await page.inputValue('#kb-editor-content')).toBe('my version');
    expect((await read(`${notes}/dragons.md`)).content).toContain('Rewritten elsewhere.');
    await screenshot(page, 'kb-conflict');
    await page.click('#kb-reload-link');
    await page.waitForFunction(
      () =>
        (document.querySelector('#kb-editor-content') as HTMLTextAreaElement | null)?.value.includes(
          'Rewritten elsewhere.',
        ) === true,
    );

    // A new file from the tree: the path is typed in, the save creates it and shows it.
    await page.click('#kb-new-file');
    await page.locator('#kb-editor-path').waitFor();
    expect(await page.inputValue('#kb-editor-path')).toBe(`${notes}/`);
    await page.fill('#kb-editor-path', `${notes}/wyverns`);
    await page.fill('#kb-editor-content', '# Wyverns\n\nTwo legs, not four.\n');
    await page.fill('input[name=message]', 'Start wyverns');
    await page.click('form#kb-editor button[type=submit]');
    await page.locator('#kb-file-path', { hasText: `${notes}/wyverns.md` }).waitFor();
    await page.locator('#kb-tree a', { hasText: 'wyverns.md' }).waitFor();
    expect((await read(`${notes}/wyverns.md`)).content).toBe('# Wyverns\n\nTwo legs, not four.\n');

    expect(await duplicateIds(page)).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 90_000);

  test('on a phone the columns stack and nothing scrolls sideways', async () => {
    const context = await browser.newContext({
      viewport: { width: 375, height: 812 },
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    const w = watch(context, page, web);
    await registerAndLogin(page, web, uniqueEmail('kbmobile'));
    const me = (await (await page.request.get(`${web}/api/session`)).json()) as { user: { id: string } };
    const path = `users/${me.user.id}/a-rather-long-folder-name-for-a-small-screen/${'very-long-file-name-'.repeat(3)}.md`;
    await put(path, `# Long\n\n${'word '.repeat(200)}\n\n\`\`\`\n${'x'.repeat(300)}\n\`\`\`\n`);
    await page.goto(`${web}/kb/file?path=${path}`);
    await page.locator('#kb-file-title').waitFor();
    const tree = (await page.locator('#kb-tree').boundingBox())!;
    const content = (await page.locator('#kb-content').boundingBox())!;
    expect(content.y).toBeGreaterThan(tree.y + tree.height - 1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    const font = await page.$eval('#kb-search-input', (el) =>
      Number.parseFloat(getComputedStyle(el).fontSize),
    );
    expect(font).toBeGreaterThanOrEqual(16);
    await screenshot(page, 'kb-mobile');
    expect(w.unexpected()).toEqual([]);
    await closeQuietly(context);
  }, 60_000);

  test('errors in place: no access, missing file, bad path', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const w = watch(context, page, web);
    await registerAndLogin(page, web, uniqueEmail('kberr'));
    await put('users/someone-else/private/secret.md', 'top secret\n');
    const cases: Array<[string, number, string]> = [
      ['users/someone-else/private/secret.md', 403, "You don't have access to this file."],
      ['shared/does-not-exist.md', 404, 'File not found.'],
      ['.github/workflows/ci.md', 400, 'Invalid path.'],
      ['shared/a%5Cb.md', 400, 'Invalid path.'],
    ];
    for (const [path, status, text] of cases) {
      const res = await page.goto(`${web}/kb/file?path=${path}`);
      expect(res?.status()).toBe(status);
      await page.locator('#kb-content', { hasText: text }).waitFor();
      expect(await page.locator('#kb-content').textContent()).not.toContain('top secret');
    }
    // The full pages carry their status on purpose; nothing else may fail.
    expect(
      w.unexpected([/^40[034] GET .*\/kb\/file\?path=/, /the server responded with a status of 40[034]/]),
    ).toEqual([]);
    await closeQuietly(context);
  }, 60_000);
});
