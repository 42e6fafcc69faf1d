import { beforeEach, describe, expect, test } from 'bun:test';
import { KB_TOOLS, KbTools } from '../../services/chat/tools/service.ts';
import { inProcessClient } from '../../src/http/client.ts';
import { type Identity, identityOfRequest } from '../../src/http/identity.ts';
import type { User } from '../../src/http/service.ts';
import { silentLogger } from '../../src/log.ts';

const SECRET = 'test-internal-secret-for-kb-tools-0123456789';

const ANN: User = {
  id: '11111111-1111-4111-8111-111111111111',
  email: 'ann@example.com',
  name: 'Ann',
  admin: false,
  authType: 'api_key',
  sessionId: null,
  keyId: 'key-1',
};

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  identity: Identity | null;
  body: unknown;
}

/**
 * A stand-in for the kb service's JSON API: the routes the tools call, a private namespace per user,
 * and a record of every request with the identity the chat service signed for it.
 */
function fakeKb(state: { seen: Seen[]; down: boolean; files: Map<string, string> }) {
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  return async (req: Request): Promise<Response> => {
    if (state.down) throw new Error('connection refused');
    const url = new URL(req.url);
    const identity = identityOfRequest(SECRET, req);
    const text = await req.text();
    state.seen.push({
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      identity,
      body: text ? JSON.parse(text) : undefined,
    });
    if (url.pathname === '/health') return json({ status: 'healthy' });
    if (!identity?.sub) return json({ detail: 'Not authenticated' }, 401);
    const forbidden = (p: string) =>
      p.startsWith('users/') && !p.startsWith(`users/${identity.sub}/`)
        ? json({ detail: `Forbidden: no read access to ${p}` }, 403)
        : null;
    const api = '/api/v1/kb';
    if (url.pathname === `${api}/search`) {
      const q = url.searchParams.get('q') ?? '';
      if (!q.trim()) return json({ detail: 'Search query must not be empty' }, 400);
      const results = [...state.files.entries()]
        .filter(([p, c]) => !forbidden(p) && c.includes(q.split(' ')[0]!))
        .map(([path, content]) => ({
          path,
          excerpt: content.slice(0, 20),
          ...(url.searchParams.get('include_content') === 'true' ? { content } : {}),
        }));
      return json({
        query: q,
        match: url.searchParams.get('match') === 'any' ? 'any' : 'all',
        total: results.length,
        limit: Number(url.searchParams.get('limit')),
        offset: 0,
        took_ms: 0,
        results,
      });
    }
    if (url.pathname.startsWith(`${api}/files/`)) {
      const p = decodeURIComponent(url.pathname.slice(`${api}/files/`.length));
      const denied = forbidden(p);
      if (denied) return denied;
      const content = state.files.get(p);
      if (content === undefined) return json({ detail: `File not found: ${p}` }, 404);
      return json({ path: p, content, frontmatter: {}, sha: 'f'.repeat(40), raw_content: content });
    }
    if (url.pathname === `${api}/list`) {
      return json({ path: url.searchParams.get('path'), directories: [], files: [] });
    }
    if (url.pathname.startsWith(`${api}/contexts/`)) {
      const name = decodeURIComponent(url.pathname.slice(`${api}/contexts/`.length));
      if (name !== 'gaia' && name !== 'teams/eng')
        return json({ detail: `Context index not found for: ${name}` }, 404);
      return json({
        name,
        path: `${name}/+index.md`,
        summary: 's',
        keywords: [],
        dependencies: [],
        files: [],
        total_files: 0,
      });
    }
    if (url.pathname === `${api}/synthesize` && req.method === 'POST') {
      const b = JSON.parse(text) as { contexts: string[] };
      if (!b.contexts?.length) return json({ detail: 'Invalid request body' }, 422);
      return json({ contexts: b.contexts, common_themes: [], potential_connections: [] });
    }
    if (url.pathname === `${api}/threads`) return json({ threads: [], total_threads: 0, active_count: 0 });
    return json({ detail: 'Not Found' }, 404);
  };
}

const state = { seen: [] as Seen[], down: false, files: new Map<string, string>() };
const tools = new KbTools(
  inProcessClient({ name: 'kb', internalSecret: SECRET, issuer: 'gaia-chat' }, fakeKb(state)),
  silentLogger,
);

const run = async (name: string, a: Record<string, unknown>, user = ANN) =>
  JSON.parse(
    (
      await tools.run(name, JSON.stringify(a), {
        user,
        signal: new AbortController().signal,
        requestId: 'r1',
      })
    ).content,
  );

beforeEach(() => {
  state.seen = [];
  state.down = false;
  state.files = new Map([
    ['lore/dragons.md', 'dragon lore here'],
    [`users/${ANN.id}/kos/today.md`, 'daily-plan: write tests'],
    ['users/22222222-2222-4222-8222-222222222222/private/x.md', 'dragon secret'],
    ['big/huge.md', 'x'.repeat(60_000)],
  ]);
});

describe('chat KB tools', () => {
  test('offers the six tools while kb is healthy', async () => {
    const offered = await tools.tools();
    expect(offered.map((t) => t.name)).toEqual([
      'search_knowledge_base',
      'load_kos_context',
      'read_kb_file',
      'list_kb_directory',
      'load_kb_context',
      'synthesize_kb_information',
    ]);
    expect(offered.map((t) => t.selector)).toEqual(KB_TOOLS.map((t) => `kb:${t.name}`));
    expect(offered.every((t) => t.source === 'kb')).toBe(true);
  });

  test('search_knowledge_base: JSON API search under the user, limit honoured and clamped', async () => {
    const r = await run('search_knowledge_base', { query: 'dragon', limit: 3 });
    expect(r).toMatchObject({ query: 'dragon', total: 1, limit: 3 });
    expect(r.results.map((h: { path: string }) => h.path)).toEqual(['lore/dragons.md']);
    const s = state.seen.at(-1)!;
    expect(s.path).toBe('/api/v1/kb/search');
    expect(Object.fromEntries(s.query)).toEqual({ q: 'dragon', limit: '3', match: 'auto' });
    expect(s.identity).toMatchObject({
      sub: ANN.id,
      email: ANN.email,
      auth_type: 'api_key',
      key_id: 'key-1',
    });

    await run('search_knowledge_base', { query: 'dragon', limit: 500 });
    expect(state.seen.at(-1)!.query.get('limit')).toBe('50');
    await run('search_knowledge_base', { query: 'dragon' });
    expect(state.seen.at(-1)!.query.get('limit')).toBe('10');
    await run('search_knowledge_base', { query: 'dragon', limit: '0' });
    expect(state.seen.at(-1)!.query.get('limit')).toBe('1');
  });

  test('errors come back as {"error": detail}', async () => {
    expect(await run('search_knowledge_base', { query: '  ' })).toEqual({
      error: 'Search query must not be empty',
    });
    const other = 'users/22222222-2222-4222-8222-222222222222/private/x.md';
    expect(await run('read_kb_file', { path: other })).toEqual({
      error: `Forbidden: no read access to ${other}`,
    });
    expect(await run('read_kb_file', { path: 'nope.md' })).toEqual({ error: 'File not found: nope.md' });
    expect(await run('no_such_tool', {})).toEqual({ error: 'Unknown tool: no_such_tool' });
  });

  test('read_kb_file: path per segment in the URL; absolute forms reduced; dot segments refused locally', async () => {
    const r = await run('read_kb_file', { path: '/kb/lore/dragons.md' });
    expect(r).toMatchObject({ path: 'lore/dragons.md', content: 'dragon lore here' });
    expect(r.raw_content).toBeUndefined();
    expect(state.seen.at(-1)!.path).toBe('/api/v1/kb/files/lore/dragons.md');

    state.files.set('notes/a b#?.md', 'odd name');
    expect((await run('read_kb_file', { path: 'notes/a b#?.md' })).content).toBe('odd name');
    expect(state.seen.at(-1)!.path).toBe('/api/v1/kb/files/notes/a%20b%23%3F.md');

    state.seen = [];
    expect(await run('read_kb_file', { path: 'lore/../../etc/passwd' })).toEqual({
      error: 'Invalid path: ..',
    });
    expect(await run('read_kb_file', { path: '/' })).toEqual({
      error: 'Invalid path: a file path is required',
    });
    expect(state.seen).toHaveLength(0);
  });

  test('a very long file is cut for the model and flagged', async () => {
    const r = await run('read_kb_file', { path: 'big/huge.md' });
    expect(r.content).toHaveLength(50_000);
    expect(r.truncated).toBe(true);
    expect(r.content_chars).toBe(60_000);
  });

  test('list_kb_directory defaults to the root', async () => {
    expect(await run('list_kb_directory', {})).toEqual({ path: '/', directories: [], files: [] });
    await run('list_kb_directory', { path: 'lore' });
    expect(state.seen.at(-1)!.query.get('path')).toBe('lore');
  });

  test('load_kb_context: the context, or a top-10 search when it does not exist', async () => {
    expect(await run('load_kb_context', { topic: 'teams/eng' })).toMatchObject({ name: 'teams/eng' });
    expect(state.seen.at(-1)!.path).toBe('/api/v1/kb/contexts/teams/eng');
    const fallback = await run('load_kb_context', { topic: 'dragon' });
    expect(fallback).toMatchObject({ query: 'dragon', total: 1, limit: 10 });
    expect(state.seen.map((s) => s.path).slice(-2)).toEqual([
      '/api/v1/kb/contexts/dragon',
      '/api/v1/kb/search',
    ]);
  });

  test('synthesize_kb_information posts the sources and focus', async () => {
    expect(
      await run('synthesize_kb_information', { sources: ['gaia', 'lore/dragons.md'], focus: 'magic' }),
    ).toEqual({
      contexts: ['gaia', 'lore/dragons.md'],
      common_themes: [],
      potential_connections: [],
    });
    expect(state.seen.at(-1)!.body).toEqual({ contexts: ['gaia', 'lore/dragons.md'], focus: 'magic' });
    expect(await run('synthesize_kb_information', {})).toEqual({ error: 'Invalid request body' });
  });

  test('load_kos_context: threads, project context (or search), and KOS searches in kos and my own kos', async () => {
    expect(await run('load_kos_context', { context_type: 'active-threads' })).toEqual({
      threads: [],
      total_threads: 0,
      active_count: 0,
    });
    expect(state.seen.at(-1)!.path).toBe('/api/v1/kb/threads');

    expect(await run('load_kos_context', { context_type: 'project-context', project: 'gaia' })).toMatchObject(
      {
        name: 'gaia',
      },
    );
    const missing = await run('load_kos_context', { context_type: 'project-context', project: 'dragon' });
    expect(missing).toMatchObject({ query: 'dragon', limit: 10 });

    const plan = await run('load_kos_context', { context_type: 'daily-plan' });
    const q = state.seen.at(-1)!.query;
    expect(Object.fromEntries(q)).toEqual({
      q: 'daily-plan today priorities schedule',
      limit: '5',
      match: 'any',
      contexts: `kos,users/${ANN.id}/kos`,
      include_content: 'true',
    });
    expect(plan.results[0]).toMatchObject({
      path: `users/${ANN.id}/kos/today.md`,
      content: 'daily-plan: write tests',
    });

    expect(await run('load_kos_context', { context_type: 'bogus' })).toEqual({
      error:
        'Unknown context_type: bogus (expected one of current-session, active-threads, daily-plan, chat-instructions, project-context)',
    });
  });

  test('kb unreachable: a short error for the model, and no tools offered after the next health check', async () => {
    state.down = true;
    expect(await run('search_knowledge_base', { query: 'dragon' })).toEqual({
      error: 'The knowledge base is not reachable right now.',
    });
    const fresh = new KbTools(
      inProcessClient({ name: 'kb', internalSecret: SECRET, issuer: 'gaia-chat' }, fakeKb(state)),
      silentLogger,
    );
    expect(await fresh.tools()).toEqual([]);
  });
});

describe('prompt merging', () => {
  test('a plain assistant turn followed by one with tool calls keeps the calls', async () => {
    const { mergeSameRole } = await import('../../services/chat/engine/prompt.ts');
    const merged = mergeSameRole([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Let me look.' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'c1', name: 'search_knowledge_base', arguments: '{}' }],
      },
      { role: 'tool', toolCallId: 'c1', name: 'search_knowledge_base', content: '{}' },
    ]);
    expect(merged).toHaveLength(3);
    expect(merged[1]).toEqual({
      role: 'assistant',
      content: 'Let me look.\n\n',
      toolCalls: [{ id: 'c1', name: 'search_knowledge_base', arguments: '{}' }],
    });
  });
});
