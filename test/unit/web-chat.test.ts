/**
 * Server side of the chat UI (spec/web.md §4, §6, §7, §10): login and register replies, sending, the SSE
 * relay, the conversation list, delete, search, profile, personas and API keys, against a fake gateway.
 */
import { describe, expect, test } from 'bun:test';
import { activityBlock, applyToolEvent, describeCall } from '../../services/web/chat/activity.ts';
import { RENDER_INTERVAL_MS } from '../../services/web/chat/stream.ts';
import { renderChatMarkdown } from '../../services/web/markdown.ts';
import { form, htmx, makeWeb, signIn, ssePayloads, withCookie } from './web-support.ts';

describe('login and register replies', () => {
  test('a wrong password shows the error above a fresh form that keeps the email', async () => {
    const web = makeWeb();
    web.gateway.addUser('ada@example.com', 'secret-pw');
    const res = await web.request(
      '/auth/login',
      htmx(form({ email: 'ada@example.com', password: 'nope-nope' })),
    );
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('id="auth-form-container"');
    expect(body).toContain('Invalid email or password');
    expect(body).toContain('value="ada@example.com"');
    expect(body).toContain('name="password"');
    expect(body.indexOf('Invalid email or password')).toBeLessThan(body.indexOf('<form'));
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  test('htmx login answers HX-Redirect to a local next, never to another site', async () => {
    const web = makeWeb();
    web.gateway.addUser('ada@example.com', 'secret-pw');
    const ok = await web.request(
      '/auth/login',
      htmx(form({ email: 'ada@example.com', password: 'secret-pw', next: '/profile' })),
    );
    expect(ok.headers.get('hx-redirect')).toBe('/profile');
    expect(await ok.text()).toContain('Login successful! Redirecting...');
    const evil = await web.request(
      '/auth/login',
      htmx(form({ email: 'ada@example.com', password: 'secret-pw', next: '//evil.example' })),
    );
    expect(evil.headers.get('hx-redirect')).toBe('/chat');
  });

  test('an unconfirmed email gets the "Email Not Verified" panel', async () => {
    const web = makeWeb();
    web.gateway.addUser('new@example.com', 'secret-pw', false);
    const res = await web.request(
      '/auth/login',
      htmx(form({ email: 'new@example.com', password: 'secret-pw' })),
    );
    const body = await res.text();
    expect(body).toContain('⚠️ Email Not Verified');
    expect(body).toContain('hx-post="/auth/resend-verification"');
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  test('the gateway unreachable shows the connection error', async () => {
    const web = makeWeb();
    web.gateway.down = true;
    const res = await web.request(
      '/auth/login',
      htmx(form({ email: 'ada@example.com', password: 'secret-pw' })),
    );
    expect(await res.text()).toContain('Connection error. Please try again.');
  });

  test('register: success, duplicate, short password', async () => {
    const web = makeWeb();
    const ok = await (
      await web.request('/auth/register', htmx(form({ email: 'Bob@Example.com', password: 'secret-pw' })))
    ).text();
    expect(ok).toContain('Registration successful! You can now log in.');
    expect(ok).toContain('href="/login?email=bob%40example.com"');
    expect(ok).toContain('Continue to Sign In');
    const dup = await (
      await web.request('/auth/register', htmx(form({ email: 'bob@example.com', password: 'secret-pw' })))
    ).text();
    expect(dup).toContain('This email is already registered. Please login instead.');
    expect(dup).toContain('value="bob@example.com"');
    const short = await (
      await web.request('/auth/signup', htmx(form({ email: 'cy@example.com', password: 'abc' })))
    ).text();
    expect(short).toContain('Password must be at least 6 characters long.');
  });

  test('resend verification shows the gateway refusal as an error box', async () => {
    const web = makeWeb();
    const body = await (
      await web.request(
        '/auth/resend-verification',
        htmx({ ...form({ email: 'ada@example.com' }), headers: { 'hx-target': 'message-area' } }),
      )
    ).text();
    expect(body).toContain('Email confirmation is not enabled on this server');
  });

  test('the login page: verified banner, prefilled email, next, and no chat-only elements', async () => {
    const web = makeWeb();
    const body = await (await web.request('/login?verified=true&email=a%40b.co&next=%2Fprofile')).text();
    expect(body).toContain('✅ Email verified successfully! You can now log in.');
    expect(body).toContain('value="a@b.co"');
    expect(body).toContain('name="next" value="/profile"');
    for (const id of ['sidebar', 'chat-form', 'messages', 'conversation-list', 'sidebar-toggle'])
      expect(body).not.toContain(`id="${id}"`);
    expect(body).not.toContain('mobile-header');
    expect(body).not.toContain('dev-login-button');
  });

  test('dev login exists only with DEBUG=true', async () => {
    const off = makeWeb();
    expect((await off.request('/auth/dev-login', form({}))).status).toBe(404);
    const on = makeWeb({ DEBUG: 'true' });
    on.gateway.addUser('dev@gaia.local', 'testtest');
    expect(await (await on.request('/login')).text()).toContain('Dev: dev@gaia.local / testtest');
    const res = await on.request('/auth/dev-login', form({}));
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()[0]).toMatch(/^session=v1\./);
  });

  test('JSON helpers pass through, and insist on both fields', async () => {
    const web = makeWeb();
    web.gateway.addUser('ada@example.com', 'secret-pw');
    const missing = await web.request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com' }),
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ detail: 'Email and password are required' });
    const bad = await web.request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', password: 'wrong-pw' }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ detail: 'Login failed: Invalid login credentials' });
  });
});

describe('chat', () => {
  test('the chat page has the layout, ids once each, and the welcome', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const res = await web.request('/chat', withCookie(cookie));
    const body = await res.text();
    expect(body).toStartWith('<!doctype html>');
    expect(body.match(/<title>Gaia Platform<\/title>/g)).toHaveLength(1);
    expect(body).toContain('Welcome back, ada!');
    expect(body).toContain('No conversations yet');
    const ids = [...body.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of [
      'sidebar',
      'sidebar-toggle',
      'sidebar-close',
      'sidebar-overlay',
      'main-content',
      'chat-view',
      'messages',
      'welcome-message',
      'chat-form',
      'chat-message-input',
      'conversation-id-input',
      'chat-send-button',
      'conversation-list',
      'search-input',
      'search-status',
      'new-chat-button',
      'persona-select',
      'toast-container',
      'loading-indicator',
      'user-menu',
      'user-menu-button',
    ])
      expect(ids).toContain(id);
    expect(body).toContain('<option value="persona-mu" selected>Mu</option>');
    expect(body.match(/class="flex h-screen/g)).toHaveLength(1);
  });

  test('send creates the conversation with the title rule, answers the bubbles, and stores nothing itself', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const msg = `  Hello   <b>Gaia</b>\n${'x'.repeat(60)}`;
    const res = await web.request(
      '/api/chat/send',
      withCookie(cookie, htmx(form({ message: msg, conversation_id: '' }))),
    );
    expect(res.status).toBe(200);
    const body = await res.text();
    const [conv] = [...web.gateway.conversations.values()];
    expect(conv!.title).toBe(`Hello <b>Gaia</b> ${'x'.repeat(32)}...`);
    expect(conv!.messages).toEqual([]);
    expect(res.headers.get('hx-push-url')).toBe(`/chat/${conv!.id}`);
    const trig = JSON.parse(res.headers.get('hx-trigger')!);
    expect(trig['gaia:conversations-changed']).toBe(true);
    // Ordinary success makes no toast: the message on the page is the feedback.
    expect(trig['gaia:toast']).toBeUndefined();
    expect(body).toContain('data-role="user"');
    expect(body).toContain('Hello   &lt;b&gt;Gaia&lt;/b&gt;');
    expect(body).not.toContain('<b>Gaia</b>');
    expect(body).toMatch(/id="loading-[0-9a-f]{8}"[^>]*data-gaia-stream="\/api\/chat\/stream"/);
    expect(body).toContain('Gaia is thinking...');
    expect(body).toContain(
      `id="conversation-id-input" name="conversation_id" value="${conv!.id}" hx-swap-oob="true"`,
    );
    expect(body).toContain('id="welcome-message" hx-swap-oob="delete"');
  });

  test('an empty or too long message is refused with a warning toast', async () => {
    const web = makeWeb({ CHAT_MAX_MESSAGE_CHARS: '10' });
    const cookie = await signIn(web);
    const empty = await web.request('/api/chat/send', withCookie(cookie, htmx(form({ message: '   ' }))));
    expect(empty.headers.get('hx-reswap')).toBe('none');
    expect(JSON.parse(empty.headers.get('hx-trigger')!)['gaia:toast']).toEqual({
      message: 'Please enter a message.',
      variant: 'warning',
    });
    const long = await web.request(
      '/api/chat/send',
      withCookie(cookie, htmx(form({ message: 'x'.repeat(11) }))),
    );
    expect(JSON.parse(long.headers.get('hx-trigger')!)['gaia:toast'].message).toBe(
      'Message is too long (max 10 characters).',
    );
    expect(web.gateway.conversations.size).toBe(0);
  });

  test('the stream relays metadata with the persona, content, and [DONE]', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    await web.request('/api/chat/send', withCookie(cookie, htmx(form({ message: 'Hello Gaia' }))));
    const conv = [...web.gateway.conversations.values()][0]!;
    const res = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: 'Hello Gaia', conversation_id: conv.id, turn: 'abcd1234' })),
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const events = await ssePayloads(res);
    expect(events[0]).toBe(`{"type": "metadata", "conversation_id": "${conv.id}", "persona": "Mu"}`);
    expect(
      events
        .slice(1, -1)
        .map((e) => JSON.parse(e).content)
        .join(''),
    ).toBe('Reply to: Hello Gaia');
    expect(events.some((e) => e.includes('"done"'))).toBe(false);
    expect(events.at(-1)).toBe('[DONE]');
    expect(conv.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  test('an upstream error becomes a flat error event, still followed by [DONE]', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const res = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: 'please [[fail]] now', conversation_id: '' })),
    );
    const events = await ssePayloads(res);
    expect(events).toContain('{"type": "error", "error": "The language model provider failed."}');
    expect(events.at(-1)).toBe('[DONE]');
  });

  test('an unknown conversation streams "Conversation not found." then [DONE]', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const res = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: 'hi', conversation_id: crypto.randomUUID() })),
    );
    expect(res.status).toBe(200);
    const events = await ssePayloads(res);
    expect(events.map((e) => (e === '[DONE]' ? e : JSON.parse(e).type))).toEqual([
      'metadata',
      'error',
      '[DONE]',
    ]);
    expect(JSON.parse(events[1]!).error).toBe('Conversation not found.');
  });

  test('the conversation view renders stored messages; an unknown id is 404 as a page, 200 for htmx', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const stream = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: 'Hi <there>', conversation_id: '' })),
    );
    await stream.text();
    const conv = [...web.gateway.conversations.values()][0]!;
    const page = await web.request(`/chat/${conv.id}`, withCookie(cookie));
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain(`data-conversation-id="${conv.id}"`);
    expect(body).toContain('Hi &lt;there&gt;');
    expect(body).toContain('data-role="assistant"');
    expect(body).not.toContain('id="welcome-message"');
    const frag = await (await web.request(`/chat/${conv.id}`, withCookie(cookie, htmx()))).text();
    expect(frag).toStartWith('<div id="chat-view"');
    expect(frag).not.toContain('id="sidebar"');
    const missing = await web.request(`/chat/${crypto.randomUUID()}`, withCookie(cookie));
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('Conversation not found.');
    const missingFrag = await web.request(`/chat/${crypto.randomUUID()}`, withCookie(cookie, htmx()));
    expect(missingFrag.status).toBe(200);
    expect(await missingFrag.text()).toContain('data-conversation-id=""');
    const restore = await web.request(
      `/chat/${conv.id}`,
      withCookie(cookie, htmx({ headers: { 'hx-history-restore-request': 'true' } })),
    );
    expect(await restore.text()).toStartWith('<!doctype html>');
  });

  test('new chat answers an empty view and pushes /chat, without a toast', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const res = await web.request('/chat/new', withCookie(cookie, htmx({ method: 'POST' })));
    expect(res.headers.get('hx-push-url')).toBe('/chat');
    expect(res.headers.get('hx-trigger')).toBeNull();
    const body = await res.text();
    expect(body).toContain('id="welcome-message"');
    expect(body).toContain('id="conversation-id-input" name="conversation_id" value=""');
  });
});

describe('conversation list', () => {
  async function withConversations(n: number, env: Record<string, string> = {}) {
    const web = makeWeb(env);
    const cookie = await signIn(web);
    for (let i = 0; i < n; i++) {
      await web.request('/api/chat/send', withCookie(cookie, htmx(form({ message: `Topic ${i} <i>` }))));
      await Bun.sleep(2);
    }
    return { web, cookie, ids: [...web.gateway.conversations.keys()] };
  }

  test('items newest first, escaped, with the active one highlighted from HX-Current-URL', async () => {
    const { web, cookie, ids } = await withConversations(2);
    const res = await web.request(
      '/api/conversations',
      withCookie(cookie, htmx({ headers: { 'hx-current-url': `http://localhost:8080/chat/${ids[0]}` } })),
    );
    const body = await res.text();
    expect(body.indexOf('Topic 1')).toBeLessThan(body.indexOf('Topic 0'));
    expect(body).toContain('Topic 0 &lt;i&gt;');
    const first = body.slice(body.indexOf(`data-conversation-id="${ids[0]}"`) - 300);
    expect(first).toContain('border-purple-500');
    expect(body).toContain('aria-label="Delete conversation"');
    expect(body).toContain(
      'hx-confirm="Are you sure you want to delete this conversation? This action cannot be undone."',
    );
  });

  test('paging: "Show more" when the total says there is more', async () => {
    const { web, cookie } = await withConversations(3, { WEB_CONVERSATION_PAGE_SIZE: '2' });
    const page1 = await (await web.request('/api/conversations', withCookie(cookie, htmx()))).text();
    expect(page1.match(/class="conversation-item/g)).toHaveLength(2);
    expect(page1).toContain('hx-get="/api/conversations?offset=2"');
    const page2 = await (await web.request('/api/conversations?offset=2', withCookie(cookie, htmx()))).text();
    expect(page2.match(/class="conversation-item/g)).toHaveLength(1);
    expect(page2).not.toContain('conversation-load-more');
  });

  test('delete refreshes the list; deleting the open one resets the view and pushes /chat', async () => {
    const { web, cookie, ids } = await withConversations(2);
    const res = await web.request(
      `/api/conversations/${ids[1]}`,
      withCookie(
        cookie,
        htmx({ method: 'DELETE', headers: { 'hx-current-url': `http://localhost:8080/chat/${ids[1]}` } }),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('hx-push-url')).toBe('/chat');
    expect(JSON.parse(res.headers.get('hx-trigger')!)['gaia:toast'].message).toBe('Conversation deleted');
    const body = await res.text();
    expect(body).not.toContain(`data-conversation-id="${ids[1]}"`);
    expect(body).toContain(`data-conversation-id="${ids[0]}"`);
    expect(body).toContain(
      'id="chat-view" class="flex flex-col h-full" data-conversation-id="" hx-swap-oob="true"',
    );
    // Already gone counts as done.
    const again = await web.request(
      `/api/conversations/${ids[1]}`,
      withCookie(cookie, htmx({ method: 'DELETE' })),
    );
    expect(again.status).toBe(200);
    expect(again.headers.get('hx-push-url')).toBeNull();
  });

  test('search lists matches with a count, and says so when nothing matches', async () => {
    const { web, cookie } = await withConversations(2);
    const hit = await (
      await web.request('/api/search-conversations?query=topic%201', withCookie(cookie, htmx()))
    ).text();
    expect(hit.match(/class="conversation-item/g)).toHaveLength(1);
    expect(hit).toContain('id="search-status"');
    expect(hit).toContain('1 result for &quot;topic 1&quot;');
    const miss = await (
      await web.request('/api/search-conversations?query=zzz%3Cb%3E', withCookie(cookie, htmx()))
    ).text();
    expect(miss).toContain('No conversations found for &#39;zzz&lt;b&gt;&#39;');
    const empty = await (
      await web.request('/api/search-conversations?query=', withCookie(cookie, htmx()))
    ).text();
    expect(empty.match(/class="conversation-item/g)).toHaveLength(2);
    expect(empty).toMatch(/id="search-status"[^>]*><\/div>/);
  });
});

describe('profile, personas, API keys', () => {
  test('profile shows the stats and saves the name into the session', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const page = await (await web.request('/profile', withCookie(cookie))).text();
    expect(page).toContain('Profile Settings');
    expect(page).toContain('id="page-nav"');
    expect(page).toContain('aria-current="page">Profile');
    const res = await web.request('/api/profile/update', withCookie(cookie, htmx(form({ name: 'Ada L.' }))));
    expect(await res.text()).toContain('✓ Profile updated successfully!');
    const renewed = res.headers.getSetCookie()[0]!.split(';')[0]!.slice('session='.length);
    const session = await (await web.request('/api/session', withCookie(renewed))).json();
    expect((session as any).user.name).toBe('Ada L.');
  });

  test('personas: list, select with a toast, create, delete own', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const page = await (await web.request('/personas', withCookie(cookie))).text();
    expect(page).toContain('id="persona-list"');
    expect(page).toContain('>Current<');
    const created = await web.request(
      '/api/personas',
      withCookie(cookie, htmx(form({ name: 'Guide', description: 'Calm', system_prompt: 'You are calm.' }))),
    );
    expect(await created.text()).toContain('Use Guide');
    const guide = web.gateway.personas.find((p) => p.name === 'Guide')!;
    const sel = await web.request(
      '/api/personas/select',
      withCookie(cookie, htmx(form({ persona_id: guide.id }))),
    );
    expect(JSON.parse(sel.headers.get('hx-trigger')!)['gaia:toast'].message).toBe('Now chatting with Guide');
    const stream = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: 'hi', conversation_id: '' })),
    );
    expect((await ssePayloads(stream))[0]).toContain('"persona": "Guide"');
    const del = await web.request(
      `/api/personas/${guide.id}`,
      withCookie(cookie, htmx({ method: 'DELETE' })),
    );
    expect(del.status).toBe(200);
    expect(web.gateway.personas.some((p) => p.name === 'Guide')).toBe(false);
  });

  test('API keys: the raw key is shown once, never cached, and revoke updates the list', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const page = await web.request('/api-keys', withCookie(cookie));
    const html = await page.text();
    expect(html).toContain('id="api-key-form"');
    expect(html).toContain('hx-history="false"');
    const res = await web.request(
      '/api/keys',
      withCookie(cookie, htmx(form({ name: 'Unity <build>', expires_in_days: '30' }))),
    );
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    const key = web.gateway.keys[0]!;
    expect(body).toContain('id="new-api-key"');
    expect(body).toContain('Copy this key now. It will not be shown again.');
    expect(body).toMatch(/gaia_dev_[0-9a-f]{32}/);
    expect(body).toContain('id="api-key-list" hx-swap-oob="true"');
    expect(body).toContain(`${key.prefix}…`);
    expect(body).toContain('Unity &lt;build&gt;');
    expect(web.logs.join('\n')).not.toMatch(/gaia_dev_[0-9a-f]{32}/);
    const list = await (await web.request('/api-keys', withCookie(cookie))).text();
    expect(list).not.toMatch(/gaia_dev_[0-9a-f]{32}/);
    const revoked = await web.request(`/api/keys/${key.id}`, withCookie(cookie, htmx({ method: 'DELETE' })));
    const after = await revoked.text();
    expect(after).toContain('revoked');
    expect(after).not.toContain('>Revoke<');
  });
});

/** Anything in HTML that could run: a script or image tag, an event attribute, a javascript: link. */
const ACTIVE = /<(script|img|iframe)\b|<[^>]*\son[a-z]+=|href="\s*javascript:/i;

describe('chat replies as Markdown', () => {
  const NASTY =
    '**bold** and `code`\n\n- one\n- two\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```ts\nconst x: number = 1;\n```\n\n<script>window.__xss = 1</script> <img src=x onerror="window.__xss=2"> [bad](javascript:window.__xss=3) [site](https://example.com/)';

  test('the renderer: formatting, highlighted code with a copy button, HTML escaped, unsafe links dropped', () => {
    const out = renderChatMarkdown(NASTY);
    expect(out).toContain('<strong>bold</strong>');
    expect(out).toContain('<code>code</code>');
    expect(out).toContain('<li>one</li>');
    expect(out).toContain('<div class="md-table"><table>');
    expect(out).toContain('<td>1</td>');
    expect(out).toContain('<code class="hljs language-ts"><span class="hljs-keyword">const</span>');
    expect(out).toContain('<button type="button" class="code-copy" data-copy-code>Copy</button>');
    expect(out).toContain('&lt;script&gt;window.__xss = 1&lt;/script&gt;');
    expect(out).not.toMatch(ACTIVE);
    expect(out).toContain('<a>bad</a>');
    expect(out).toContain(
      '<a href="https://example.com/" rel="noopener noreferrer" target="_blank">site</a>',
    );
    // An unknown language is escaped, not guessed; HTML inside code stays text.
    expect(renderChatMarkdown('```klingon\n<b>x</b>\n```')).toContain(
      '<code class="hljs language-klingon">&lt;b&gt;x&lt;/b&gt;\n</code>',
    );
  });

  test('the stream sends rendered HTML beside the text, and its last render is the whole reply', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const res = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: NASTY, conversation_id: '' })),
    );
    const events = (await ssePayloads(res)).filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const renders = events.filter((e) => e.type === 'render');
    expect(renders.length).toBeGreaterThan(0);
    const text = events
      .filter((e) => e.type === 'content')
      .map((e) => e.content)
      .join('');
    expect(text).toBe(`Reply to: ${NASTY}`);
    expect(renders.at(-1).html).toBe(renderChatMarkdown(text));
    // The first render follows the first piece of text at once.
    const firstContent = events.findIndex((e) => e.type === 'content');
    expect(events[firstContent + 1].type).toBe('render');
    for (const r of renders) expect(r.html).not.toMatch(ACTIVE);
  });

  test('renders are spaced out on a fast stream but the last text is always rendered', async () => {
    const web = makeWeb();
    web.gateway.streamDelayMs = 2;
    const cookie = await signIn(web);
    const words = Array.from({ length: 120 }, (_, i) => `w${i}`).join(' ');
    const t0 = performance.now();
    const res = await web.request('/api/chat/stream', withCookie(cookie, form({ message: words })));
    const events = (await ssePayloads(res)).filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const elapsed = performance.now() - t0;
    const contents = events.filter((e) => e.type === 'content').length;
    const renders = events.filter((e) => e.type === 'render');
    expect(contents).toBe(122);
    expect(renders.length).toBeLessThan(contents / 2);
    expect(renders.length).toBeLessThanOrEqual(Math.ceil(elapsed / RENDER_INTERVAL_MS) + 2);
    expect(renders.at(-1).html).toBe(renderChatMarkdown(`Reply to: ${words}`));
  });

  test('stored replies render the same after a reload; partial ones are marked Stopped; tool calls show', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    await (
      await web.request('/api/chat/stream', withCookie(cookie, form({ message: NASTY, conversation_id: '' })))
    ).text();
    const conv = [...web.gateway.conversations.values()][0]!;
    const reply = conv.messages.find((m) => m.role === 'assistant')!;
    (reply as { status: string }).status = 'partial';
    (reply as { finish_reason?: string }).finish_reason = 'client_disconnected';
    (reply as { tool_calls?: unknown }).tool_calls = [
      {
        id: 'call_1',
        name: 'search_knowledge_base',
        arguments: { query: 'dragons' },
        ok: true,
        summary: '3 results',
        duration_ms: 12,
        result: '{"secret":"not shown"}',
      },
    ];
    const page = await (await web.request(`/chat/${conv.id}`, withCookie(cookie))).text();
    expect(page).toContain(renderChatMarkdown(reply.content));
    expect(page).toContain('data-status="partial"');
    expect(page).toContain('data-stopped="true">Stopped</div>');
    // A reply the provider cut short is not "stopped".
    (reply as { finish_reason?: string }).finish_reason = 'provider_error';
    const failed = await (await web.request(`/chat/${conv.id}`, withCookie(cookie))).text();
    expect(failed).toContain('data-stopped="interrupted">(interrupted)</div>');
    expect(failed).not.toContain('>Stopped<');
    expect(page).toContain('<summary class="tool-summary">Searched the knowledge base: 3 results</summary>');
    expect(page).toContain('{&quot;query&quot;:&quot;dragons&quot;}');
    expect(page).not.toContain('not shown');
    // The user's own message stays plain text with its line breaks.
    expect(page).toContain('&lt;script&gt;window.__xss = 1&lt;/script&gt;');
    expect(page).not.toMatch(/<script>window|<img src=x|href="javascript:/i);
  });

  test('the composer is a textarea with Stop; the message reaches the model with its lines', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const page = await (await web.request('/chat', withCookie(cookie))).text();
    expect(page).toMatch(/<textarea id="chat-message-input" name="message" rows="1"/);
    expect(page).toContain('id="chat-stop-button"');
    expect(page).toContain('id="theme-toggle"');
    expect(page).toContain('<script src="/static/js/theme.js"></script>');
    const res = await web.request(
      '/api/chat/stream',
      withCookie(cookie, form({ message: 'line one\nline two\n\nline four', conversation_id: '' })),
    );
    await res.text();
    const sent = web.gateway.requests.find((r) => r.path === '/api/v0.3/chat')!;
    const body = JSON.parse(sent.body);
    expect(body.message).toBe('line one\nline two\n\nline four');
    expect(body.tool_events).toBe(true);
  });
});

describe('tool activity', () => {
  test('stream events fold into one line per turn: KB search, agents consulted, failures', () => {
    const calls: Parameters<typeof applyToolEvent>[0] = [];
    applyToolEvent(calls, {
      type: 'tool_call',
      id: 'a',
      name: 'search_knowledge_base',
      arguments: { query: 'x' },
    });
    expect(String(activityBlock(calls))).toContain('Searched the knowledge base…');
    applyToolEvent(calls, {
      type: 'tool_result',
      id: 'a',
      name: 'search_knowledge_base',
      ok: true,
      duration_ms: 5,
      summary: '3 results',
    });
    expect(String(activityBlock(calls))).toContain(
      '<summary class="tool-summary">Searched the knowledge base: 3 results</summary>',
    );
    const team: typeof calls = [];
    for (const n of ['npc_voice', 'rules_arbiter']) {
      applyToolEvent(team, { type: 'tool_call', id: n, name: `ask_${n}`, arguments: { request: 'r' } });
      applyToolEvent(team, {
        type: 'tool_result',
        id: n,
        name: `ask_${n}`,
        ok: n === 'npc_voice',
        duration_ms: 1,
        summary: 'done',
      });
    }
    const block = String(activityBlock(team));
    expect(block).toContain('data-agents="npc_voice rules_arbiter"');
    expect(block).toContain('Consulted npc voice, rules arbiter');
    expect(block).toContain('data-tool="ask_rules_arbiter" data-state="failed"');
    expect(describeCall('files__read_file')).toBe('Used files: read_file');
    expect(activityBlock([])).toBeNull();
    expect(applyToolEvent(team, { type: 'tool_call', id: 'z' })).toBe(false);
  });
});

describe('stream and page security', () => {
  test('a GET cannot start a reply; a cross-site POST is refused; neither changes anything', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    const get = await web.request('/api/chat/stream?message=pwned&conversation_id=', withCookie(cookie));
    expect(get.status).toBe(404);
    const foreign = await web.request(
      '/api/chat/stream',
      withCookie(cookie, {
        ...form({ message: 'pwned', conversation_id: '' }),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'https://evil.example',
        },
      }),
    );
    expect(foreign.status).toBe(403);
    const fetchMeta = await web.request(
      '/api/chat/stream',
      withCookie(cookie, {
        ...form({ message: 'pwned', conversation_id: '' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      }),
    );
    expect(fetchMeta.status).toBe(403);
    expect(web.gateway.conversations.size).toBe(0);
    expect(web.gateway.requests.some((r) => r.path === '/api/v0.3/chat')).toBe(false);
    // The page's own request (same origin) works.
    const own = await web.request(
      '/api/chat/stream',
      withCookie(cookie, {
        ...form({ message: 'hello', conversation_id: '' }),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'http://localhost:8080',
          'sec-fetch-site': 'same-origin',
        },
      }),
    );
    expect(own.status).toBe(200);
    expect((await ssePayloads(own)).at(-1)).toBe('[DONE]');
    expect(web.gateway.conversations.size).toBe(1);
  });

  test('/chat/a%2Fb and /chat/%00 answer the 404 page without looking for a conversation', async () => {
    const web = makeWeb();
    const cookie = await signIn(web);
    for (const path of ['/chat/a%2Fb', '/chat/%00', '/chat/..%2F..', '/chat/x%20y']) {
      const before = web.gateway.requests.length;
      const res = await web.request(path, withCookie(cookie));
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('404 - Page Not Found');
      const asked = web.gateway.requests.slice(before).map((r) => r.path);
      expect(asked.filter((p) => p.includes('conversations'))).toEqual([]);
    }
  });
});
