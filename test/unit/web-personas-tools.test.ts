/**
 * The personas page's "Tools" field and persona editing, server side against the fake gateway: what the
 * form sends as `tools` (a list, `[]` through "No tools", or null for the default KB tools), how each card
 * shows them, the edit form's round trip, and bad input that never reaches the gateway.
 */
import { describe, expect, test } from 'bun:test';
import { form, htmx, makeWeb, signIn, type Web, withCookie } from './web-support.ts';

async function setup() {
  const web = makeWeb();
  const cookie = await signIn(web);
  return { web, cookie };
}

/** The JSON bodies the web UI sent to the gateway for `method path`. */
function sent(web: Web, method: string, path: string): any[] {
  return web.gateway.requests
    .filter((r) => r.method === method && r.path === path)
    .map((r) => JSON.parse(r.body));
}

const put = (fields: Record<string, string>): RequestInit => ({ ...form(fields), method: 'PUT' });

/** The `article` of the persona named `name` in an HTML fragment. */
function cardOf(htmlText: string, id: string): string {
  const start = htmlText.indexOf(`data-persona-id="${id}"`);
  expect(start).toBeGreaterThan(-1);
  return htmlText.slice(start, htmlText.indexOf('</article>', start));
}

async function create(web: Web, cookie: string, fields: Record<string, string>) {
  const res = await web.request('/api/personas', withCookie(cookie, htmx(form(fields))));
  return { res, text: await res.text() };
}

describe('personas page: tools', () => {
  test('the form has a Tools field, a "No tools" box and help that tells the three cases apart', async () => {
    const { web, cookie } = await setup();
    const page = await (await web.request('/personas', withCookie(cookie))).text();
    expect(page).toContain('<form id="persona-form"');
    expect(page).toContain('hx-post="/api/personas"');
    expect(page).toMatch(
      /<textarea id="persona-tools" name="tools"[^>]*aria-describedby="persona-tools-help"/,
    );
    expect(page).toMatch(/<input id="persona-no-tools" name="no_tools" type="checkbox" value="1"> No tools/);
    expect(page).toContain('<legend class="block text-sm text-slate-300 mb-1">Tools</legend>');
    const help = /<p id="persona-tools-help"[^>]*>(.*?)<\/p>/s.exec(page)![1]!;
    expect(help).toContain('One tool name or pattern per line');
    expect(help).toContain('Leave it empty to give the persona the default knowledge-base tools');
    expect(help).toContain('tick "No tools" for none at all');
    // Mu has no list: its card says it gets the default tools.
    const mu = cardOf(page, 'persona-mu');
    expect(mu).toContain('data-tools="default"');
    expect(mu).toContain('knowledge base (default)');
    // Seeded personas are only for admins to edit.
    expect(mu).not.toContain('/edit"');
  });

  test('a list, separated by commas, spaces or lines, is sent in order without repeats and shown as chips', async () => {
    const { web, cookie } = await setup();
    const { res, text } = await create(web, cookie, {
      name: 'Researcher',
      description: 'Finds things',
      system_prompt: 'You research.',
      tools: ' kb:*, github__*\r\nasset:generate  agent:*\n\nkb:*,',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.headers.get('hx-trigger')!)['gaia:toast'].message).toBe(
      'Persona Researcher created',
    );
    const [body] = sent(web, 'POST', '/api/v0.2/personas');
    expect(body).toEqual({
      name: 'Researcher',
      description: 'Finds things',
      system_prompt: 'You research.',
      tools: ['kb:*', 'github__*', 'asset:generate', 'agent:*'],
    });
    const persona = web.gateway.personas.find((p) => p.name === 'Researcher')!;
    expect(persona.tools).toEqual(['kb:*', 'github__*', 'asset:generate', 'agent:*']);
    const card = cardOf(text, persona.id);
    expect(card).toContain('data-tools="list"');
    const chips = [...card.matchAll(/<code class="[^"]*">([^<]*)<\/code>/g)].map((m) => m[1]);
    expect(chips).toEqual(['kb:*', 'github__*', 'asset:generate', 'agent:*']);
  });

  test('an empty field sends null (default tools); "No tools" sends []', async () => {
    const { web, cookie } = await setup();
    const dflt = await create(web, cookie, { name: 'Plain', system_prompt: 'p', tools: '  \n ' });
    expect(dflt.res.status).toBe(200);
    const absent = await create(web, cookie, { name: 'Older form', system_prompt: 'p' });
    expect(absent.res.status).toBe(200);
    const none = await create(web, cookie, { name: 'Quiet', system_prompt: 'p', tools: '', no_tools: '1' });
    expect(none.res.status).toBe(200);

    const bodies = sent(web, 'POST', '/api/v0.2/personas');
    expect(bodies.map((b) => [b.name, b.tools])).toEqual([
      ['Plain', null],
      ['Older form', null],
      ['Quiet', []],
    ]);
    // `tools: null` is sent explicitly, so the chat service stores "no list" rather than guessing.
    expect(Object.hasOwn(bodies[0], 'tools')).toBe(true);
    const quiet = web.gateway.personas.find((p) => p.name === 'Quiet')!;
    const card = cardOf(none.text, quiet.id);
    expect(card).toContain('data-tools="none"');
    expect(card).toMatch(/Tools:<\/span><span class="[^"]*">none<\/span>/);
    const plain = web.gateway.personas.find((p) => p.name === 'Plain')!;
    expect(cardOf(none.text, plain.id)).toContain('data-tools="default"');
  });

  test('bad tools are refused above the form and never reach the gateway', async () => {
    const { web, cookie } = await setup();
    const cases: Array<[Record<string, string>, string]> = [
      [{ tools: 'kb:*', no_tools: '1' }, 'Either list tools or tick &quot;No tools&quot;, not both.'],
      [
        { tools: 'kb/*' },
        '&quot;kb/*&quot; is not a tool name: use letters, digits and the characters _ : * - only.',
      ],
      [
        { tools: 'kb:*\n<img src=x onerror=alert(1)>' },
        '&quot;&lt;img&quot; is not a tool name: use letters, digits and the characters _ : * - only.',
      ],
      [{ tools: 'é' }, '&quot;é&quot; is not a tool name'],
      [{ tools: 'x'.repeat(129) }, 'Tool names are at most 128 characters long.'],
      [
        { tools: Array.from({ length: 65 }, (_, i) => `t${i}`).join(',') },
        'A persona can list at most 64 tools (65 given).',
      ],
    ];
    for (const [fields, message] of cases) {
      const { res, text } = await create(web, cookie, { name: 'Nope', system_prompt: 'p', ...fields });
      expect(res.status).toBe(200);
      expect(res.headers.get('hx-reswap')).toBe('none');
      expect(text).toContain('id="persona-form-message" hx-swap-oob="true"');
      expect(text).toContain(message);
      expect(text).not.toContain('<img');
    }
    expect(sent(web, 'POST', '/api/v0.2/personas')).toEqual([]);
    expect(web.gateway.personas.some((p) => p.name === 'Nope')).toBe(false);

    // 64 distinct entries of 128 characters are fine.
    const most = Array.from({ length: 64 }, (_, i) => `${String(i).padStart(2, '0')}${'y'.repeat(126)}`);
    const ok = await create(web, cookie, { name: 'Most', system_prompt: 'p', tools: most.join('\n') });
    expect(ok.text).toContain('Use Most');
    expect(web.gateway.personas.find((p) => p.name === 'Most')!.tools).toEqual(most);
  });

  test("the chat service's own 422 is shown with the field it names", async () => {
    const { web, cookie } = await setup();
    // A chat service whose rules are stricter than the page's own check still gets its say.
    web.gateway.personaRefusal = {
      status: 422,
      body: { detail: 'Invalid request body', errors: [{ path: 'tools.0', message: 'Unknown tool' }] },
    };
    const { res, text } = await create(web, cookie, { name: 'Strict', system_prompt: 'p', tools: 'kb:*' });
    expect(res.headers.get('hx-reswap')).toBe('none');
    expect(text).toContain('Invalid request body (tools.0: Unknown tool)');
  });
});

describe('personas page: editing', () => {
  test('Edit loads the persona into the form, with its tools one per line', async () => {
    const { web, cookie } = await setup();
    await create(web, cookie, {
      name: 'Scholar',
      description: 'Reads <b>everything</b>',
      system_prompt: 'You read.\n\n{tools_section}',
      tools: 'kb:*,github__*',
    });
    const scholar = web.gateway.personas.find((p) => p.name === 'Scholar')!;
    const page = await (await web.request('/personas', withCookie(cookie))).text();
    expect(cardOf(page, scholar.id)).toContain(
      `hx-get="/api/personas/${scholar.id}/edit" hx-target="#persona-form-section" hx-swap="outerHTML">Edit</button>`,
    );
    const res = await web.request(`/api/personas/${scholar.id}/edit`, withCookie(cookie, htmx()));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith('<section id="persona-form-section"')).toBe(true);
    expect(text).toContain('Edit Scholar');
    expect(text).toContain(`hx-put="/api/personas/${scholar.id}"`);
    expect(text).toContain('value="Scholar"');
    expect(text).toContain('value="Reads &lt;b&gt;everything&lt;/b&gt;"');
    expect(text).toContain('>You read.\n\n{tools_section}</textarea>');
    expect(text).toMatch(/<textarea id="persona-tools"[^>]*>kb:\*\ngithub__\*<\/textarea>/);
    expect(text).not.toContain('value="1" checked');
    expect(text).toContain('hx-get="/api/personas/form"');

    // A persona with no tools comes back with the box ticked and an empty field.
    await create(web, cookie, { name: 'Mute', system_prompt: 'p', no_tools: '1' });
    const mute = web.gateway.personas.find((p) => p.name === 'Mute')!;
    const muteForm = await (
      await web.request(`/api/personas/${mute.id}/edit`, withCookie(cookie, htmx()))
    ).text();
    expect(muteForm).toContain('value="1" checked');
    expect(muteForm).toMatch(/<textarea id="persona-tools"[^>]*><\/textarea>/);

    // Cancel brings back the create form.
    const back = await (await web.request('/api/personas/form', withCookie(cookie, htmx()))).text();
    expect(back).toContain('Create a persona');
    expect(back).toContain('hx-post="/api/personas"');
  });

  test('saving sends PUT with the new tools, refreshes the list and restores the create form', async () => {
    const { web, cookie } = await setup();
    await create(web, cookie, { name: 'Shifty', system_prompt: 'p', tools: 'kb:*' });
    const shifty = web.gateway.personas.find((p) => p.name === 'Shifty')!;
    const path = `/api/personas/${shifty.id}`;
    const save = async (fields: Record<string, string>) => {
      const res = await web.request(
        path,
        withCookie(cookie, htmx(put({ name: 'Shifty', system_prompt: 'p', ...fields }))),
      );
      return { res, text: await res.text() };
    };

    const listed = await save({ tools: 'agent:*\nasset:generate', description: 'now with agents' });
    expect(listed.res.status).toBe(200);
    expect(JSON.parse(listed.res.headers.get('hx-trigger')!)['gaia:toast'].message).toBe(
      'Persona Shifty saved',
    );
    expect(shifty.tools).toEqual(['agent:*', 'asset:generate']);
    expect(shifty.description).toBe('now with agents');
    expect(cardOf(listed.text, shifty.id)).toContain(
      '<code class="text-xs rounded-full px-2 py-1 bg-slate-900 text-purple-200">agent:*</code>',
    );
    expect(listed.text).toContain('<section id="persona-form-section" hx-swap-oob="true"');
    expect(listed.text).toContain('Create a persona');

    await save({ tools: '', no_tools: 'on' });
    expect(shifty.tools).toEqual([]);
    await save({ tools: '' });
    expect(shifty.tools).toBeNull();

    const puts = sent(web, 'PUT', `/api/v0.2/personas/${shifty.id}`);
    expect(puts.map((b) => b.tools)).toEqual([['agent:*', 'asset:generate'], [], null]);

    // Bad input on edit: refused on the page, nothing sent, nothing changed.
    const bad = await save({ tools: 'kb:*', no_tools: '1' });
    expect(bad.res.headers.get('hx-reswap')).toBe('none');
    expect(bad.text).toContain('Either list tools or tick');
    expect(sent(web, 'PUT', `/api/v0.2/personas/${shifty.id}`)).toHaveLength(3);
    expect(shifty.tools).toBeNull();
  });

  test("someone else's persona offers no Edit, and neither loading nor saving it works", async () => {
    const { web, cookie } = await setup();
    await create(web, cookie, { name: 'Owned', system_prompt: 'p', tools: 'kb:*' });
    const owned = web.gateway.personas.find((p) => p.name === 'Owned')!;
    const other = await signIn(web, 'bob@example.com', 'bob-secret');
    const page = await (await web.request('/personas', withCookie(other))).text();
    expect(cardOf(page, owned.id)).not.toContain('/edit"');
    expect(cardOf(page, owned.id)).toContain('data-tools="list"');

    const load = await web.request(`/api/personas/${owned.id}/edit`, withCookie(other, htmx()));
    expect(load.headers.get('hx-reswap')).toBe('none');
    expect(JSON.parse(load.headers.get('hx-trigger')!)['gaia:toast'].message).toBe(
      'Not allowed to modify this persona',
    );
    const muLoad = await web.request('/api/personas/persona-mu/edit', withCookie(other, htmx()));
    expect(await muLoad.text()).not.toContain('persona-form');

    const saved = await web.request(
      `/api/personas/${owned.id}`,
      withCookie(other, htmx(put({ name: 'Owned', system_prompt: 'p', no_tools: '1' }))),
    );
    expect(await saved.text()).toContain('Not allowed to modify this persona');
    expect(owned.tools).toEqual(['kb:*']);

    // Without a session the save is refused before anything is sent.
    const before = web.gateway.requests.length;
    const anon = await web.request(
      `/api/personas/${owned.id}`,
      htmx(put({ name: 'Owned', system_prompt: 'p', tools: '' })),
    );
    expect(anon.status).toBe(401);
    expect(anon.headers.get('hx-redirect')).toBe('/login');
    expect(web.gateway.requests.length).toBe(before);
  });
});
