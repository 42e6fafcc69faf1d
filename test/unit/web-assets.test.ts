/**
 * Static files and page structure (spec/web.md §1, §5, §11): htmx vendored from npm and committed, served
 * locally with the CSS, gaia.js and the icon; every page has the required head; every class a page renders
 * is defined in the stylesheets; user text is escaped.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { escapeHtml, html, raw } from '../../services/web/html.ts';
import { staticFile } from '../../services/web/static.ts';
import { VENDORED, vendoredContent } from '../../services/web/vendor.ts';
import { form, htmx, makeWeb, signIn, withCookie } from './web-support.ts';

const ROOT = resolve(import.meta.dir, '../..');

describe('static files', () => {
  test('the committed htmx copy is exactly the npm package file (htmx 2.x)', () => {
    for (const f of VENDORED) expect(readFileSync(resolve(ROOT, f.to), 'utf8')).toBe(vendoredContent(f));
    const version = JSON.parse(
      readFileSync(resolve(ROOT, 'node_modules/htmx.org/package.json'), 'utf8'),
    ).version;
    expect(version).toMatch(/^2\./);
  });

  test('served under /static/ with their types; nothing outside public/', async () => {
    const web = makeWeb();
    const cases: Array<[string, string]> = [
      ['/static/htmx.min.js', 'text/javascript'],
      ['/static/gaia.js', 'text/javascript'],
      ['/static/gaia.css', 'text/css'],
      ['/static/animations.css', 'text/css'],
      ['/static/favicon.svg', 'image/svg+xml'],
    ];
    for (const [path, type] of cases) {
      const res = await web.request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    expect(staticFile('../package.json')).toBeNull();
    expect(staticFile('%2e%2e/package.json')).toBeNull();
    expect(staticFile('/etc/passwd')).toBeNull();
    expect((await web.request('/static/..%2fpackage.json')).status).toBe(404);
    expect((await web.request('/static/nope.js')).status).toBe(404);
  });

  test('no asset refers to another origin', () => {
    for (const f of ['public/js/gaia.js', 'public/css/gaia.css', 'public/css/animations.css'])
      expect(readFileSync(resolve(ROOT, f), 'utf8')).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });
});

describe('pages', () => {
  test('every full page has the required head and one title', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const pages = ['/login', '/register', '/email-verification?email=a%40b.co', '/auth/confirm'];
    const signed = ['/chat', '/profile', '/personas', '/api-keys'];
    for (const path of [...pages, ...signed]) {
      const res = await web.request(path, signed.includes(path) ? withCookie(cookie) : {});
      const body = await res.text();
      expect(body.startsWith('<!doctype html>')).toBe(true);
      expect(body).toContain('<html lang="en">');
      expect(body).toContain('<meta charset="utf-8">');
      expect(body.match(/<title>/g)).toHaveLength(1);
      expect(body).toContain('<title>Gaia Platform</title>');
      expect(body.match(/name="viewport"/g)).toHaveLength(1);
      expect(body).toContain('content="width=device-width, initial-scale=1.0, viewport-fit=cover"');
      expect(body).toContain('<link rel="icon" href="data:image/svg+xml,');
      expect(body).toContain('<link rel="stylesheet" href="/static/gaia.css">');
      expect(body).toContain('<link rel="stylesheet" href="/static/animations.css">');
      expect(body).toContain('<script src="/static/htmx.min.js" defer></script>');
      expect(body).toContain('<script src="/static/gaia.js" defer></script>');
      expect(body).toContain(
        'name="htmx-config" content="{&quot;historyCacheSize&quot;:10,&quot;allowEval&quot;:false,&quot;selfRequestsOnly&quot;:true}"',
      );
      // The CSP forbids inline scripts and handlers.
      expect(body).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(body).not.toMatch(/\son[a-z]+=/);
      expect(body).not.toContain('hx-on');
    }
  });

  test('the 404 page, and routes not carried over', async () => {
    const web = makeWeb();
    for (const path of ['/nope', '/auth/test-login', '/api/chat/response', '/debug/session', '/test/x']) {
      const res = await web.request(path);
      expect(res.status).toBe(404);
    }
    const body = await (await web.request('/nope')).text();
    expect(body).toContain('404 - Page Not Found');
    expect(body).toContain("The page you're looking for doesn't exist.");
    expect(body).toContain('Go Home');
  });

  test('every class the pages render is defined in gaia.css or animations.css', async () => {
    const web = makeWeb({ DEBUG: 'true' });
    const cookie = await signIn(web);
    await web.request('/api/chat/send', withCookie(cookie, htmx(form({ message: 'Hello' }))));
    const conv = [...web.gateway.conversations.keys()][0]!;
    await (
      await web.request(
        '/api/chat/stream',
        withCookie(cookie, form({ message: 'Hello **there**', conversation_id: conv })),
      )
    ).text();
    await web.request('/api/keys', withCookie(cookie, htmx(form({ name: 'k', expires_in_days: '' }))));
    const bodies: string[] = [];
    for (const path of [
      '/login',
      '/register',
      '/email-verification?email=a%40b.co',
      '/auth/confirm',
      '/nope',
    ])
      bodies.push(await (await web.request(path)).text());
    for (const path of ['/chat', `/chat/${conv}`, '/profile', '/personas', '/api-keys'])
      bodies.push(await (await web.request(path, withCookie(cookie))).text());
    bodies.push(
      await (await web.request('/api/chat/send', withCookie(cookie, htmx(form({ message: 'Hi' }))))).text(),
    );
    bodies.push(
      await (
        await web.request('/auth/login', htmx(form({ email: 'x@example.com', password: 'nope-nope' })))
      ).text(),
    );
    bodies.push(await (await web.request('/api/conversations', withCookie(cookie, htmx()))).text());
    const css =
      readFileSync(resolve(ROOT, 'public/css/gaia.css'), 'utf8') +
      readFileSync(resolve(ROOT, 'public/css/animations.css'), 'utf8');
    const js = readFileSync(resolve(ROOT, 'public/js/gaia.js'), 'utf8');
    const classes = new Set<string>();
    for (const b of bodies)
      for (const m of b.matchAll(/\sclass="([^"]*)"/g))
        for (const c of m[1]!.split(/\s+/)) if (c) classes.add(c);
    // Classes gaia.js puts on elements it creates.
    for (const m of js.matchAll(
      /'((?:[a-z-]+:)?-?[a-z][\w-]*(?:\/\d+|-\[[^\]]+\])?(?: (?:[a-z-]+:)?-?[a-z][\w-]*(?:\/\d+|-\[[^\]]+\])?)+)'/g,
    ))
      if (m[1]!.includes('-')) for (const c of m[1]!.split(' ')) classes.add(c);
    // Markers with no style of their own (used by gaia.js or tests).
    const markers = new Set([
      'conversation-item',
      'group',
      'typing-indicator',
      'typing-dot',
      'mobile-header',
    ]);
    const cssEscape = (c: string) => c.replace(/[:/[\]%.]/g, (ch) => `\\${ch}`);
    const missing = [...classes].filter((c) => !markers.has(c) && !css.includes(`.${cssEscape(c)}`));
    expect(missing.join(' ')).toBe('');
  });
});

describe('html template', () => {
  test('escapes interpolated text and attributes, but not nested templates or raw', () => {
    const name = `<img src=x onerror="alert(1)">'&`;
    const out = html`<p title="${name}">${name}${html`<b>${name}</b>`}${raw('<i>ok</i>')}${[1, null, false, 'a']}</p>`;
    expect(String(out)).toBe(
      `<p title="${escapeHtml(name)}">${escapeHtml(name)}<b>${escapeHtml(name)}</b><i>ok</i>1a</p>`,
    );
    expect(escapeHtml(name)).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&amp;');
  });
});
