/**
 * Browser tests (spec/web.md §14): headless Chromium driven by playwright-core against a whole all-in-one
 * stack with the web UI listening. Every page is watched for console errors, page errors, failed requests,
 * CSP violations, off-origin requests and answers ≥ 400; `hx-confirm` dialogs are accepted; screenshots go
 * to test/e2e/screenshots/ (git-ignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Server } from 'bun';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { createWebApp } from '../../services/web/app.ts';
import { type StackHandle, startStack } from './stack.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = resolve(import.meta.dir, '../e2e/screenshots');

/** Whether browser tests can run here; in CI a missing Chromium is a failure, not a skip. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI === 'true') throw new Error(`Chromium not found at ${CHROMIUM_PATH} (CI=true)`);
  console.warn(
    `Skipping browser tests: no Chromium at ${CHROMIUM_PATH} (install it with apt-get install chromium)`,
  );
  return false;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export interface WebStack {
  h: StackHandle;
  /** The web UI's origin, e.g. http://127.0.0.1:40123 */
  webUrl: string;
  stop(): Promise<void>;
}

/**
 * The stack of spec/web.md §14: SQLite in a temp dir, the in-process bus, the local auth provider and the
 * local LLM provider streaming one word per LOCAL_LLM_DELAY_MS. The web UI is the stack's own
 * (`h.webUrl`); a stack without one gets the web app mounted here on the gateway's in-process handler,
 * exactly as the all-in-one launcher wires it.
 */
export async function startWebStack(env: Record<string, string> = {}): Promise<WebStack> {
  const h = await startStack({
    env: {
      LOCAL_LLM_ENABLED: 'true',
      LOCAL_LLM_DELAY_MS: '30',
      LOCAL_LLM_FAULTS: 'true',
      // Many logins from one address in one test run.
      GAIA_AUTH_RATE_LIMIT: '1000/minute',
      GAIA_AUTH_FAILURE_LIMIT: '1000/minute',
      ...env,
    },
  });
  const own = (h as unknown as { webUrl?: string }).webUrl;
  if (own) return { h, webUrl: own, stop: () => h.stop() };
  const app = createWebApp({
    config: h.config,
    log: h.stack.log.child({ service: 'web' }),
    gateway: { fetch: (req) => h.stack.gateway.handleInternal(req) },
  });
  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 120,
    fetch: (req) => app.fetch(req),
  });
  app.server = server as never;
  return {
    h,
    webUrl: `http://127.0.0.1:${server.port}`,
    async stop() {
      server.stop(true);
      await h.stop();
    },
  };
}

export interface Problem {
  kind: 'console' | 'pageerror' | 'requestfailed' | 'response' | 'off-origin' | 'csp';
  text: string;
}

export interface Watched {
  page: Page;
  problems: Problem[];
  /** Problems other than those matching `allowed` (e.g. an expected 404). */
  unexpected(allowed?: Array<RegExp>): Problem[];
}

/** Records everything §14 counts as an error on every page of the context. */
export function watch(context: BrowserContext, page: Page, origin: string): Watched {
  const problems: Problem[] = [];
  const track = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') {
        const text = m.text();
        problems.push({ kind: /Content Security Policy/i.test(text) ? 'csp' : 'console', text });
      }
    });
    p.on('pageerror', (e) => problems.push({ kind: 'pageerror', text: String(e) }));
    p.on('dialog', (d) => void d.accept());
    p.on('requestfailed', (r) => {
      const failure = r.failure()?.errorText ?? '';
      // A stream or request the page aborted on purpose (switching conversation) is not a failure.
      if (/ERR_ABORTED|NS_BINDING_ABORTED/.test(failure)) return;
      problems.push({ kind: 'requestfailed', text: `${r.method()} ${r.url()} ${failure}` });
    });
    p.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('about:'))
        problems.push({ kind: 'off-origin', text: `${r.method()} ${u}` });
    });
    p.on('response', (r) => {
      if (r.status() >= 400)
        problems.push({ kind: 'response', text: `${r.status()} ${r.request().method()} ${r.url()}` });
    });
  };
  track(page);
  context.on('page', track);
  return {
    page,
    problems,
    unexpected(allowed = []) {
      return problems.filter((p) => !allowed.some((a) => a.test(p.text)));
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({
    path: resolve(SCREENSHOT_DIR, `${name}.png`),
    fullPage: false,
    animations: 'disabled',
  });
}

/** Every `[id]` on the page that occurs more than once. */
export async function duplicateIds(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const seen = new Map<string, number>();
    for (const el of Array.from(document.querySelectorAll('[id]')))
      seen.set(el.id, (seen.get(el.id) ?? 0) + 1);
    return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  });
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter++;
  return `${prefix}${Date.now().toString(36)}${counter}@example.com`;
}

/**
 * Closes a context (or a page together with the context `browser.newPage()` made for it) once none of its
 * requests is still open: each page leaves for about:blank first, so its requests end through the ordinary
 * events (aborted ones are not counted as problems) rather than with the context torn down under them.
 */
export async function closeQuietly(target: BrowserContext | Page): Promise<void> {
  const pages = 'pages' in target ? target.pages() : [target];
  for (const p of pages) {
    if (p.isClosed()) continue;
    await p.goto('about:blank', { waitUntil: 'load', timeout: 10_000 }).catch(() => {});
    await p.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
  }
  await target.close();
}
