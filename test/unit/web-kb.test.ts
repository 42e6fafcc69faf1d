/**
 * The knowledge-base pages (/kb, /kb/file, /kb/edit, POST /kb/file, /kb/search) against the fake gateway,
 * and the shared Markdown renderer: escaping, dropped script URLs, wiki and relative links kept in /kb.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { highlight } from '../../services/web/kb/views.ts';
import { renderMarkdown, resolveKbPath } from '../../services/web/markdown.ts';
import { FakeKb } from './web-fake-gateway.ts';
import { form, htmx, makeWeb, signIn, withCookie } from './web-support.ts';

const ROOT = resolve(import.meta.dir, '../..');

describe('renderMarkdown', () => {
  test('raw HTML is escaped, never rendered', () => {
    const out = renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\nok <b>bold</b>');
    expect(out).not.toContain('<script');
    expect(out).not.toContain('<img');
    expect(out).not.toContain('<b>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  test('javascript:, data: and vbscript: links keep their text and lose their address', () => {
    const cases = [
      '[x](javascript:alert(1))',
      '[x](JaVaScRiPt:alert(1))',
      '[x](java&#x73;cript:alert(1))',
      '[x]( javascript:alert(1))',
      '[x](data:text/html;base64,PHNjcmlwdD4=)',
      '[x](vbscript:msgbox(1))',
      '<javascript:alert(1)>',
      '[x][r]\n\n[r]: javascript:alert(1)',
    ];
    for (const md of cases) {
      const out = renderMarkdown(md);
      expect(out).not.toMatch(/href=/);
      expect(out).not.toMatch(/<a[^>]*(?:javascript|data|vbscript):/i);
      expect(out).toMatch(/<a>[^<]+<\/a>/);
    }
    // Images never load: a data: image becomes its alt text, an external one a link.
    const img = renderMarkdown('![pic](data:image/png;base64,AAAA) ![far](https://img.example/a.png)');
    expect(img).not.toContain('<img');
    expect(img).toContain('pic');
    expect(img).toContain(
      '<a href="https://img.example/a.png" rel="noopener noreferrer" target="_blank">far</a>',
    );
  });

  test('external links open apart with rel="noopener noreferrer"; mailto stays plain', () => {
    const out = renderMarkdown(
      '[site](https://example.com/a?b=1) and https://gaia.example/x and [m](mailto:a@b.co)',
    );
    expect(out).toContain(
      '<a href="https://example.com/a?b=1" rel="noopener noreferrer" target="_blank">site</a>',
    );
    expect(out).toContain(
      '<a href="https://gaia.example/x" rel="noopener noreferrer" target="_blank">https://gaia.example/x</a>',
    );
    expect(out).toContain('<a href="mailto:a@b.co">m</a>');
    // A file name is not a web address.
    expect(renderMarkdown('see notes.md')).toBe('<p>see notes.md</p>\n');
  });

  test('wiki links stay in /kb/file: folder first, the KB root as fallback, namespaces by prefix', () => {
    const from = { fromPath: 'gaia/guides/+guides.md' };
    const a = renderMarkdown('[[setup]] [[setup|Set it up]] [[setup#First Steps]]', from);
    expect(a).toContain('<a href="/kb/file?path=gaia/guides/setup.md&amp;fallback=setup.md">setup</a>');
    expect(a).toContain('>Set it up</a>');
    expect(a).toContain('href="/kb/file?path=gaia/guides/setup.md&amp;fallback=setup.md#md-first-steps"');
    const ns = renderMarkdown(
      '[[user:u-1/notes/a]] [[team:eng/standards]] [[workspace:q4/plan.txt]] [[shared:policy]] [[/top]]',
      from,
    );
    expect(ns).toContain('href="/kb/file?path=users/u-1/notes/a.md"');
    expect(ns).toContain('href="/kb/file?path=teams/eng/standards.md"');
    expect(ns).toContain('href="/kb/file?path=workspaces/q4/plan.txt"');
    expect(ns).toContain('href="/kb/file?path=shared/policy.md"');
    expect(ns).toContain('href="/kb/file?path=top.md"');
    // At the root there is only one candidate.
    expect(renderMarkdown('[[setup]]')).toContain('href="/kb/file?path=setup.md"');
    // Inside code a wiki link is just text.
    expect(renderMarkdown('`[[setup]]`')).toBe('<p><code>[[setup]]</code></p>\n');
    // Label text is escaped.
    expect(renderMarkdown('[[x|<b>y</b>]]')).toContain('&lt;b&gt;y&lt;/b&gt;</a>');
  });

  test('relative Markdown links resolve against the file’s folder and never climb above the root', () => {
    const out = renderMarkdown(
      '[a](./x.md) [b](other/y.md) [c](../z.md#Part) [d](../../../w.md) [e](/notes/n.md) [f](my%20note.md)',
      {
        fromPath: 'gaia/docs/readme.md',
      },
    );
    expect(out).toContain('<a href="/kb/file?path=gaia/docs/x.md">a</a>');
    expect(out).toContain('<a href="/kb/file?path=gaia/docs/other/y.md">b</a>');
    expect(out).toContain('<a href="/kb/file?path=gaia/z.md#md-part">c</a>');
    expect(out).toContain('<a>d</a>');
    expect(out).toContain('<a href="/kb/file?path=notes/n.md">e</a>');
    expect(out).toContain('<a href="/kb/file?path=gaia/docs/my%20note.md">f</a>');
    expect(resolveKbPath('a/b', '../../..')).toBeNull();
    expect(resolveKbPath('a/b', '../c/')).toBe('a/c/');
  });

  test('linkBase decides where KB links go; headings get ids only when asked', () => {
    const seen: string[] = [];
    const out = renderMarkdown('[[x]] [y](y.md)', {
      linkBase: (t) => {
        seen.push(t);
        return t === 'x.md' ? null : `/chat/kb/${t}`;
      },
    });
    expect(seen).toEqual(['x.md', 'y.md']);
    expect(out).toContain('<a>x</a>');
    expect(out).toContain('<a href="/chat/kb/y.md">y</a>');
    expect(renderMarkdown('# Intro\n## Intro')).toBe('<h1>Intro</h1>\n<h2>Intro</h2>\n');
    expect(renderMarkdown('# Intro\n## Intro', { headingIds: true })).toBe(
      '<h1 id="md-intro">Intro</h1>\n<h2 id="md-intro-1">Intro</h2>\n',
    );
  });
});

describe('search highlighting', () => {
  test('escapes first, marks matched terms, and cannot be fooled by entity names', () => {
    expect(String(highlight('The <b>Dragon</b> lair & dragons', ['dragon', 'lair']))).toBe(
      'The &lt;b&gt;<mark>Dragon</mark>&lt;/b&gt; <mark>lair</mark> &amp; <mark>dragon</mark>s',
    );
    expect(String(highlight('a & b < c "q"', ['amp', 'lt', 'quot']))).toBe('a &amp; b &lt; c &quot;q&quot;');
    expect(String(highlight('x.y (x)', ['.*', 'x']))).toBe('<mark>x</mark>.y (<mark>x</mark>)');
  });
});

const EMAIL = 'ada@example.com';
/** The 403 text as the page carries it (the apostrophe is escaped like all text). */
const NO_ACCESS = 'You don&#39;t have access to this file.';

async function setup() {
  const web = makeWeb();
  const cookie = await signIn(web, EMAIL);
  const uid = web.gateway.users.get(EMAIL)!.id;
  const kb = web.gateway.kb;
  kb.put(
    `users/${uid}/notes/hello.md`,
    '---\ntitle: Hello Notes\ntags: [greeting]\n---\n# Hi there\nSee [[world]] and <script>alert(1)</script>.\n',
    'Grace Hopper',
  );
  kb.put(`users/${uid}/notes/world.md`, '# World\nThe dragon sleeps.\n');
  kb.put(`users/${uid}/todo.md`, 'todo list\n');
  kb.put('shared/policy.md', '# Policy\nThe <b>dragon</b> lair & its keeper.\n');
  kb.put('shared/data.json', '{"a": "<b>1</b>"}\n');
  kb.put('users/someone-else/secret.md', 'the dragon secret\n');
  kb.put('README.md', '# Readme\nWelcome.\n');
  kb.put('gaia/+gaia.md', '# Gaia\n');
  const get = (path: string, init: RequestInit = {}) => web.request(path, withCookie(cookie, init));
  return { web, cookie, uid, kb, get };
}

describe('/kb tree', () => {
  test('the root lists My notes, shared/, teams, root folders then files; links swap the tree', async () => {
    const { web, uid, kb, get } = await setup();
    kb.teams.set('eng', 'member');
    kb.put('teams/eng/standards.md', 'standards');
    const res = await get('/kb');
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body.startsWith('<!doctype html>')).toBe(true);
    expect(body).toContain(
      '<a href="/kb" class="block py-2 px-3 rounded-lg text-sm bg-slate-700/60 text-white" aria-current="page">Knowledge</a>',
    );
    expect(body).toContain('id="kb-tree"');
    expect(body).toContain('id="kb-content"');
    expect(body).toContain('id="kb-breadcrumb"');
    expect(body).toContain(
      `href="/kb?path=users/${uid}" hx-get="/kb?path=users/${uid}" hx-target="#kb-tree" hx-swap="innerHTML" hx-push-url="true"`,
    );
    expect(body).toContain('My notes');
    expect(body).toContain('href="/kb?path=shared"');
    expect(body).toContain('href="/kb?path=teams/eng"');
    // Root folders (not shared again) come before root files.
    expect(body.match(/href="\/kb\?path=shared"/g)).toHaveLength(1);
    expect(body).toContain('href="/kb?path=gaia"');
    expect(body.indexOf('href="/kb?path=gaia"')).toBeLessThan(body.indexOf('href="/kb/file?path=README.md"'));
    expect(body).toContain('hx-target="#kb-content"');
    // The search box.
    expect(body).toMatch(
      /<input type="search" id="kb-search-input" name="q"[^>]*hx-get="\/kb\/search" hx-trigger="input changed delay:300ms, search" hx-target="#kb-content"/,
    );
    expect(web.gateway.requests.some((r) => r.path === '/api/v1/kb/me')).toBe(true);
    expect(web.gateway.requests.some((r) => r.path === '/api/v1/kb/list?path=%2F')).toBe(true);
    expect(
      web.gateway.requests.every(
        (r) => !r.path.startsWith('/api/v1/kb') || /^Bearer /.test(r.headers.get('authorization') ?? ''),
      ),
    ).toBe(true);
  });

  test('a folder answers a tree fragment to htmx: breadcrumb, folders before files', async () => {
    const { uid, get } = await setup();
    const res = await get(`/kb?path=users/${uid}`, htmx({ headers: { 'hx-target': 'kb-tree' } }));
    const body = await res.text();
    expect(body).not.toContain('<!doctype');
    expect(body).not.toContain('id="kb-tree"');
    expect(res.headers.get('hx-retarget')).toBeNull();
    expect(body).toContain('<nav id="kb-breadcrumb"');
    expect(body).toContain('aria-current="page">My notes</span>');
    const folder = body.indexOf(`href="/kb?path=users/${uid}/notes"`);
    const file = body.indexOf(`href="/kb/file?path=users/${uid}/todo.md"`);
    expect(folder).toBeGreaterThan(0);
    expect(file).toBeGreaterThan(folder);
    // Asked for from inside a document, the fragment is sent to the tree.
    const boosted = await get(
      `/kb?path=users/${uid}/notes/`,
      htmx({ headers: { 'hx-target': 'kb-content' } }),
    );
    expect(boosted.headers.get('hx-retarget')).toBe('#kb-tree');
    expect(await boosted.text()).toContain(`href="/kb/file?path=users/${uid}/notes/hello.md"`);
  });

  test('my own empty namespace is an empty folder; others are errors', async () => {
    const { web, get } = await setup();
    const cookie2 = await signIn(web, 'bob@example.com');
    const empty = await (
      await web.request(`/kb?path=users/${web.gateway.users.get('bob@example.com')!.id}`, withCookie(cookie2))
    ).text();
    expect(empty).toContain('This folder is empty.');
    expect(await (await get('/kb?path=users/someone-else')).text()).toContain(NO_ACCESS);
    expect(await (await get('/kb?path=nope', htmx())).text()).toContain('File not found.');
    expect(await (await get('/kb?path=a/../b', htmx())).text()).toContain('Invalid path.');
  });

  test('no session: the page redirects to login, htmx gets 401 with HX-Redirect', async () => {
    const { web } = await setup();
    const page = await web.request('/kb?path=shared');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2Fkb%3Fpath%3Dshared');
    const frag = await web.request('/kb/file?path=README.md', htmx());
    expect(frag.status).toBe(401);
    expect(frag.headers.get('hx-redirect')).toBe('/login');
  });
});

describe('/kb/file', () => {
  test('shows title, path, last commit, rendered Markdown with escaped HTML, and Edit for a writer', async () => {
    const { uid, get, kb } = await setup();
    const path = `users/${uid}/notes/hello.md`;
    const res = await get(`/kb/file?path=${path}`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain(
      '<h1 id="kb-file-title" class="text-2xl font-bold text-white break-words">Hello Notes</h1>',
    );
    expect(body).toContain(
      `<p id="kb-file-path" class="text-sm text-slate-400 font-mono break-all">${path}</p>`,
    );
    const commit = kb.commits.get(path)![0]!;
    expect(body).toContain('Grace Hopper');
    expect(body).toContain(commit.sha.slice(0, 7));
    expect(body).toContain(`${commit.date.slice(0, 10)} ${commit.date.slice(11, 16)} UTC`);
    expect(body).toContain('<h1 id="md-hi-there">Hi there</h1>');
    expect(body).not.toContain('<script>alert(1)</script>');
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).toContain(`href="/kb/file?path=users/${uid}/notes/world.md&amp;fallback=world.md"`);
    expect(body).toContain('id="kb-edit-button"');
    expect(body).toContain(`hx-get="/kb/edit?path=${path}"`);
    // The tree shows the file's folder with the file marked.
    expect(body).toMatch(new RegExp(`href="/kb/file\\?path=${path}"[^>]*aria-current="page"`));
    expect(body).toContain('#greeting');
  });

  test('no Edit without write access; other text files in <pre>, escaped', async () => {
    const { get } = await setup();
    const md = await (await get('/kb/file?path=shared/policy.md')).text();
    expect(md).toContain('Policy');
    expect(md).not.toContain('kb-edit-button');
    const json = await (await get('/kb/file?path=shared/data.json')).text();
    expect(json).toContain('<pre class="kb-pre">{&quot;a&quot;: &quot;&lt;b&gt;1&lt;/b&gt;&quot;}\n</pre>');
  });

  test('htmx gets the content and the tree out of band', async () => {
    const { get } = await setup();
    const res = await get('/kb/file?path=README.md', htmx());
    const body = await res.text();
    expect(body).not.toContain('<!doctype');
    expect(body).toContain('<article id="kb-file"');
    expect(body).toContain('<aside id="kb-tree" hx-swap-oob="innerHTML">');
  });

  test('403, 404 and 400 texts; in place for htmx, with the status for a full page', async () => {
    const { get } = await setup();
    const cases: Array<[string, number, string]> = [
      ['users/someone-else/secret.md', 403, NO_ACCESS],
      ['users/someone-else/nothing-here.md', 403, NO_ACCESS],
      ['shared/missing.md', 404, 'File not found.'],
      ['../etc/passwd', 400, 'Invalid path.'],
      ['shared/%2e%2e/x.md', 400, 'Invalid path.'],
      ['', 400, 'Invalid path.'],
    ];
    for (const [path, status, text] of cases) {
      const page = await get(`/kb/file?path=${encodeURIComponent(path)}`);
      expect(page.status).toBe(status);
      const body = await page.text();
      expect(body).toContain(text);
      expect(body).not.toContain('the dragon secret');
      const frag = await get(`/kb/file?path=${encodeURIComponent(path)}`, htmx());
      expect(frag.status).toBe(200);
      expect(await frag.text()).toContain(text);
    }
  });

  test('a KB that is not ready, or a gateway that is down, gives a message instead of a broken page', async () => {
    const { web, get, kb } = await setup();
    kb.failWith = 503;
    const page = await get('/kb/file?path=README.md');
    expect(page.status).toBe(503);
    const body = await page.text();
    expect(body).toContain('The knowledge base is not available right now. Please try again in a moment.');
    expect(body).toContain('id="kb-tree"');
    expect(await (await get('/kb')).text()).toContain('The knowledge base is not available right now.');
    web.gateway.down = true;
    const down = await get('/kb/search?q=x', htmx());
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('Connection error. Please try again.');
  });

  test('a wiki link that is not in the folder falls back to the KB root', async () => {
    const { uid, get } = await setup();
    const page = await get(`/kb/file?path=users/${uid}/notes/README.md&fallback=README.md`);
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/kb/file?path=README.md');
    const frag = await get(`/kb/file?path=users/${uid}/notes/README.md&fallback=README.md`, htmx());
    expect(frag.headers.get('hx-push-url')).toBe('/kb/file?path=README.md');
    expect(await frag.text()).toContain('Welcome.');
    // The first candidate wins when it exists.
    const near = await get(`/kb/file?path=users/${uid}/notes/world.md&fallback=world.md`, htmx());
    expect(near.headers.get('hx-push-url')).toBeNull();
    expect(await near.text()).toContain('The dragon sleeps.');
  });

  test('paths are encoded once per segment on the way to the gateway', async () => {
    const { web, uid, kb, get } = await setup();
    kb.put(`users/${uid}/a b#c+d.md`, 'odd name');
    const body = await (await get(`/kb/file?path=${encodeURIComponent(`users/${uid}/a b#c+d.md`)}`)).text();
    expect(body).toContain('odd name');
    expect(web.gateway.requests.map((r) => r.path)).toContain(
      `/api/v1/kb/files/users/${uid}/a%20b%23c%2Bd.md`,
    );
  });
});

describe('editing', () => {
  test('the editor has the raw file, a required message, hidden path and expected_sha', async () => {
    const { uid, kb, get } = await setup();
    const path = `users/${uid}/notes/hello.md`;
    const body = await (await get(`/kb/edit?path=${path}`, htmx())).text();
    expect(body).toContain('<form id="kb-editor"');
    expect(body).toContain('hx-post="/kb/file"');
    expect(body).toContain(`<input type="hidden" name="path" value="${path}">`);
    expect(body).toContain(
      `<input type="hidden" name="expected_sha" value="${FakeKb.blobSha(kb.files.get(path)!)}">`,
    );
    expect(body).toMatch(/<textarea[^>]*name="content"[^>]*>\n---\ntitle: Hello Notes/);
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).toMatch(/<input[^>]*name="message"[^>]*required/);
    const ro = await (await get('/kb/edit?path=shared/policy.md', htmx())).text();
    expect(ro).not.toContain('kb-editor"');
    expect(ro).toContain('You don&#39;t have permission to edit this file.');
    expect(await (await get('/kb/edit?path=shared/none.md', htmx())).text()).toContain('File not found.');
  });

  test('saving commits through the gateway and answers the file view with a toast', async () => {
    const { web, uid, kb, get } = await setup();
    const path = `users/${uid}/todo.md`;
    const sha = FakeKb.blobSha(kb.files.get(path)!);
    const res = await get(
      '/kb/file',
      htmx(
        form({
          path,
          content: '# Todo\r\n- write tests\r\n',
          message: 'Add a task',
          expected_sha: sha,
          eol: 'lf',
        }),
      ),
    );
    expect(res.status).toBe(200);
    expect(kb.files.get(path)).toBe('# Todo\n- write tests\n');
    const commit = kb.commits.get(path)![0]!;
    expect(commit.message).toBe('Add a task');
    const trig = JSON.parse(res.headers.get('hx-trigger')!);
    expect(trig['gaia:toast']).toEqual({
      message: `Saved (commit ${commit.sha.slice(0, 7)})`,
      variant: 'success',
    });
    expect(res.headers.get('hx-push-url')).toBe(`/kb/file?path=${path}`);
    const body = await res.text();
    expect(body).toContain('<article id="kb-file"');
    expect(body).toContain('write tests');
    const put = web.gateway.requests.find((r) => r.method === 'PUT')!;
    expect(put.path).toBe(`/api/v1/kb/files/users/${uid}/todo.md`);
    expect(JSON.parse(put.body)).toEqual({
      content: '# Todo\n- write tests\n',
      message: 'Add a task',
      expected_sha: sha,
    });
  });

  test('a file with CRLF line endings keeps them; without htmx a save redirects to the file', async () => {
    const { uid, kb, get } = await setup();
    const path = `users/${uid}/dos.txt`;
    kb.put(path, 'one\r\ntwo\r\n');
    const edit = await (await get(`/kb/edit?path=${path}`)).text();
    expect(edit).toContain('<input type="hidden" name="eol" value="crlf">');
    const res = await get(
      '/kb/file',
      form({
        path,
        content: 'one\r\ntwo\r\nthree\r\n',
        message: 'more',
        expected_sha: FakeKb.blobSha('one\r\ntwo\r\n'),
        eol: 'crlf',
      }),
    );
    expect(res.status).toBe(303);
    const commit = kb.commits.get(path)![0]!;
    expect(res.headers.get('location')).toBe(`/kb/file?path=${path}&saved=${commit.sha.slice(0, 7)}`);
    expect(kb.files.get(path)).toBe('one\r\ntwo\r\nthree\r\n');
    const shown = await (await get(res.headers.get('location')!)).text();
    expect(shown).toContain(`Saved (commit ${commit.sha.slice(0, 7)})`);
  });

  test('a conflicting save keeps the text and offers to reload; nothing is overwritten', async () => {
    const { uid, kb, get } = await setup();
    const path = `users/${uid}/todo.md`;
    const oldSha = FakeKb.blobSha(kb.files.get(path)!);
    kb.put(path, 'changed elsewhere\n', 'Other Tab');
    const res = await get(
      '/kb/file',
      htmx(form({ path, content: 'my <edit>', message: 'mine', expected_sha: oldSha, eol: 'lf' })),
    );
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('This file changed since you opened it.');
    expect(body).toContain(`href="/kb/edit?path=${path}"`);
    expect(body).toContain('my &lt;edit&gt;</textarea>');
    expect(body).toContain('value="mine"');
    expect(body.indexOf('This file changed')).toBeLessThan(body.indexOf('<form id="kb-editor"'));
    expect(kb.files.get(path)).toBe('changed elsewhere\n');
    // The reload link gives the new version and its sha.
    const again = await (await get(`/kb/edit?path=${path}`, htmx())).text();
    expect(again).toContain(`value="${FakeKb.blobSha('changed elsewhere\n')}"`);
    // Without htmx the conflict is a 409 page.
    const page = await get('/kb/file', form({ path, content: 'x', message: 'm', expected_sha: oldSha }));
    expect(page.status).toBe(409);
  });

  test('errors show above the form: no message, no access, bad path', async () => {
    const { uid, kb, get } = await setup();
    const noMsg = await (
      await get(
        '/kb/file',
        htmx(form({ path: `users/${uid}/todo.md`, content: 'x', message: '  ', expected_sha: 'a' })),
      )
    ).text();
    expect(noMsg).toContain('Please enter a commit message.');
    expect(kb.files.get(`users/${uid}/todo.md`)).toBe('todo list\n');
    const denied = await (
      await get(
        '/kb/file',
        htmx(form({ path: 'shared/policy.md', content: 'x', message: 'm', expected_sha: 'a' })),
      )
    ).text();
    expect(denied).toContain(NO_ACCESS);
    expect(denied.indexOf(NO_ACCESS)).toBeLessThan(denied.indexOf('<form'));
    const bad = await (
      await get('/kb/file', htmx(form({ path: 'a/../../b.md', content: 'x', message: 'm' })))
    ).text();
    expect(bad).toContain('Invalid path.');
    // A cross-site form post never reaches the gateway.
    const evil = await get('/kb/file', {
      ...form({ path: `users/${uid}/todo.md`, content: 'pwned', message: 'm' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    expect(evil.status).toBe(403);
    expect(kb.files.get(`users/${uid}/todo.md`)).toBe('todo list\n');
  });
});

describe('new files', () => {
  test('the tree offers a new file; the editor takes a path and a save creates it', async () => {
    const { uid, kb, get } = await setup();
    const tree = await (
      await get(`/kb?path=users/${uid}/notes`, htmx({ headers: { 'hx-target': 'kb-tree' } }))
    ).text();
    expect(tree).toContain(`hx-get="/kb/new?path=users/${uid}/notes"`);
    const editor = await (await get(`/kb/new?path=users/${uid}/notes`, htmx())).text();
    expect(editor).toContain('<form id="kb-editor"');
    expect(editor).toContain(`name="path" type="text" required maxlength="1024" value="users/${uid}/notes/"`);
    expect(editor).toContain('<input type="hidden" name="expected_sha" value="">');
    expect(editor).toContain('<input type="hidden" name="new" value="1">');
    const res = await get(
      '/kb/file',
      htmx(
        form({
          new: '1',
          path: `users/${uid}/notes/ideas`,
          content: '# Ideas\n',
          message: 'Start',
          expected_sha: '',
        }),
      ),
    );
    expect(kb.files.get(`users/${uid}/notes/ideas.md`)).toBe('# Ideas\n');
    expect(JSON.parse(res.headers.get('hx-trigger')!)['gaia:toast'].message).toMatch(
      /^Saved \(commit [0-9a-f]{7}\)$/,
    );
    const body = await res.text();
    expect(body).toContain('<article id="kb-file" data-path="users/');
    expect(body).toContain('hx-swap-oob="innerHTML"');
    expect(body).toContain('ideas.md');
  });

  test('creating over an existing file never replaces it; a folder without write access says so', async () => {
    const { uid, kb, get } = await setup();
    const res = await (
      await get(
        '/kb/file',
        htmx(form({ new: '1', path: `users/${uid}/todo.md`, content: 'x', message: 'm', expected_sha: '' })),
      )
    ).text();
    expect(res).toContain('A file with this name already exists.');
    expect(res).toContain('name="path" type="text"');
    expect(kb.files.get(`users/${uid}/todo.md`)).toBe('todo list\n');
    const ro = await (await get('/kb/new?path=shared', htmx())).text();
    expect(ro).toContain('You don&#39;t have permission to create files in this folder.');
    expect(ro).not.toContain('kb-editor"');
  });
});

describe('/kb/search', () => {
  test('ranked results with title, path link and escaped excerpt with <mark>; only readable files', async () => {
    const { get } = await setup();
    const res = await get('/kb/search?q=dragon', htmx());
    const body = await res.text();
    expect(body).toContain('<ol id="kb-search-results"');
    expect(body).toContain('href="/kb/file?path=shared/policy.md"');
    expect(body).toContain('>Policy</a>');
    expect(body).toContain('The &lt;b&gt;<mark>dragon</mark>&lt;/b&gt; lair &amp; its keeper.');
    expect(body).not.toContain('someone-else');
    expect(body).toContain('2 results for “dragon”');
  });

  test('nothing found, an empty query, and a query the KB refuses', async () => {
    const { web, get } = await setup();
    expect(await (await get('/kb/search?q=zebra', htmx())).text()).toContain('No results for “zebra”');
    // No search is sent for an empty query (the session check before the answer is not a KB call).
    const kbCalls = () => web.gateway.requests.filter((r) => r.path.startsWith('/api/v1/kb')).length;
    const before = kbCalls();
    expect(await (await get('/kb/search?q=', htmx())).text()).toContain('Type in the search box');
    expect(kbCalls()).toBe(before);
    expect(await (await get(`/kb/search?q=${'x'.repeat(600)}`, htmx())).text()).toContain(
      'Query is longer than 500 characters',
    );
    const scoped = await (await get('/kb/search?q=dragon&path=users/someone-else', htmx())).text();
    expect(scoped).toContain(NO_ACCESS);
  });

  test('more than a page of results pages with Next and Previous', async () => {
    const { web, uid, kb, get } = await setup();
    for (let i = 0; i < 25; i++)
      kb.put(`users/${uid}/many/n${String(i).padStart(2, '0')}.md`, `wyvern ${i}\n`);
    const first = await (await get('/kb/search?q=wyvern', htmx())).text();
    expect(first).toContain('25 results for “wyvern”, showing 1–20.');
    expect(first.match(/<li class="kb-result/g)).toHaveLength(20);
    expect(first).toContain('id="kb-search-next" href="/kb/search?q=wyvern&amp;offset=20"');
    expect(first).not.toContain('kb-search-prev');
    const second = await (await get('/kb/search?q=wyvern&offset=20', htmx())).text();
    expect(second).toContain('showing 21–25.');
    expect(second.match(/<li class="kb-result/g)).toHaveLength(5);
    expect(second).toContain('id="kb-search-prev" href="/kb/search?q=wyvern"');
    expect(second).not.toContain('kb-search-next');
    expect(web.gateway.requests.at(-1)!.path).toBe('/api/v1/kb/search?q=wyvern&limit=20&offset=20');
  });

  test('the full search page keeps the query in the box; <script> in a query stays text', async () => {
    const { get } = await setup();
    const body = await (await get('/kb/search?q=%3Cscript%3Edragon')).text();
    expect(body.startsWith('<!doctype html>')).toBe(true);
    expect(body).toContain('value="&lt;script&gt;dragon"');
    expect(body).not.toContain('<script>dragon');
  });
});

describe('styles', () => {
  test('every class the kb pages render is defined in the stylesheets', async () => {
    const { uid, kb, get } = await setup();
    kb.put(
      `users/${uid}/rich.md`,
      '# T\n\n## U\n\n### V\n\n> quote\n\n- a\n1. b\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```js\nx\n```\n\n`c` **b** *i* ~~s~~ [l](https://x.example)\n\n---\n',
    );
    const bodies: string[] = [];
    for (const p of [
      '/kb',
      `/kb?path=users/${uid}`,
      `/kb/file?path=users/${uid}/rich.md`,
      '/kb/file?path=shared/data.json',
      '/kb/file?path=nope.md',
      `/kb/edit?path=users/${uid}/todo.md`,
      `/kb/new?path=users/${uid}`,
      '/kb/search?q=dragon',
      '/kb/search?q=dragon%20zebra',
      '/kb/search?q=',
    ])
      bodies.push(await (await get(p)).text());
    bodies.push(
      await (
        await get(
          '/kb/file',
          htmx(form({ path: `users/${uid}/todo.md`, content: 'x', message: 'm', expected_sha: 'a' })),
        )
      ).text(),
    );
    const css =
      readFileSync(resolve(ROOT, 'public/css/gaia.css'), 'utf8') +
      readFileSync(resolve(ROOT, 'public/css/animations.css'), 'utf8');
    const classes = new Set<string>();
    for (const b of bodies)
      for (const m of b.matchAll(/\sclass="([^"]*)"/g))
        for (const c of m[1]!.split(/\s+/)) if (c) classes.add(c);
    const markers = new Set(['kb-dir', 'kb-file', 'kb-result', 'kb-excerpt', 'language-js']);
    const cssEscape = (c: string) => c.replace(/[:/[\]%.]/g, (ch) => `\\${ch}`);
    const missing = [...classes].filter((c) => !markers.has(c) && !css.includes(`.${cssEscape(c)}`));
    expect(missing.join(' ')).toBe('');
  });
});
