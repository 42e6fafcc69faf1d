/**
 * Every page of the web UI, signed out and signed in, in the light and the dark theme (the browser's
 * `prefers-color-scheme`, emulated): each renders its content without a console error, a failed request or an
 * off-origin request, and is photographed into test/e2e/screenshots/<page>-<theme>.png (git-ignored) for review.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser } from 'playwright-core';
import {
  chromiumAvailable,
  closeQuietly,
  launchBrowser,
  screenshot,
  startWebStack,
  uniqueEmail,
  type WebStack,
  watch,
} from '../support/browser.ts';

const PASSWORD = 'correct-horse-42';
const run = chromiumAvailable();

const SIGNED_OUT = [
  ['/login', 'login'],
  ['/register', 'register'],
] as const;
const SIGNED_IN = [
  ['/chat', 'chat'],
  ['/personas', 'personas'],
  ['/api-keys', 'api-keys'],
  ['/profile', 'profile'],
  ['/kb', 'kb'],
  ['/assets', 'assets'],
  ['/usage', 'usage'],
] as const;

describe.skipIf(!run)('every page in both themes', () => {
  let stack: WebStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startWebStack();
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  for (const theme of ['light', 'dark'] as const) {
    test(`${theme}: every page renders cleanly and is photographed`, async () => {
      const web = stack.webUrl;
      const context = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        colorScheme: theme,
      });
      const page = await context.newPage();
      const w = watch(context, page, web);

      for (const [path, name] of SIGNED_OUT) {
        await page.goto(web + path);
        await page.locator('form').first().waitFor();
        await screenshot(page, `${name}-${theme}`);
      }

      const email = uniqueEmail(`pages-${theme}`);
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

      for (const [path, name] of SIGNED_IN) {
        await page.goto(web + path);
        await page.waitForLoadState('networkidle');
        // The page's own content is there, not an error page.
        expect(await page.title(), path).not.toMatch(/not found|error/i);
        expect(await page.locator('main, #page-content, #messages').count(), path).toBeGreaterThan(0);
        // The theme the browser asked for is the one the page shows.
        const dark = await page.evaluate(() => {
          const bg = getComputedStyle(document.body)
            .backgroundColor.match(/\d+(\.\d+)?/g)!
            .map(Number);
          return (bg[0]! * 299 + bg[1]! * 587 + bg[2]! * 114) / 1000 < 128;
        });
        expect(dark, `${path} in the ${theme} theme`).toBe(theme === 'dark');
        await screenshot(page, `${name}-${theme}`);
      }

      expect(w.unexpected()).toEqual([]);
      await closeQuietly(context);
    }, 120_000);
  }
});
