import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createKbMcpHandler, linkCandidates } from '../../services/kb/mcp/index.ts';
import type {
  Caller,
  ContextData,
  FileObject,
  KbOps,
  ListResult,
  SearchResult,
  WriteOptions,
} from '../../services/kb/types.ts';
import { HttpError } from '../../src/http/errors.ts';

/**
 * An in-memory stand-in for the operations facade: a map of files, a path-prefix access rule (only
 * `users/<caller>/` of the users folder is readable), and a record of every call so the tests can see
 * what each tool asked for and under which caller.
 */
class FakeOps implements KbOps {
  calls: Array<{ op: string; caller: Caller; args: unknown[] }> = [];
  inFlight = 0;
  maxInFlight = 0;
  searchDelayMs = 0;
  files = new Map<string, string>();

  private note(op: string, caller: Caller, ...args: unknown[]) {
    this.calls.push({ op, caller, args });
  }

  private guard(caller: Caller, path: string, action = 'read') {
    if (path.startsWith('users/') && !path.startsWith(`users/${caller.id}/`))
      throw new HttpError(403, `Forbidden: no ${action} access to ${path}`);
  }

  private fileObject(path: string, raw: boolean): FileObject {
    const content = this.files.get(path)!;
    const links = [...content.matchAll(/\[\[([^\]]+)\]\]/g)].map((m) => m[1]!);
    return {
      path,
      namespace: 'root',
      title: path,
      frontmatter: { title: path },
      content,
      keywords: [],
      wiki_links: links,
      size: content.length,
      modified: '2025-12-01T10:00:00.000Z',
      is_index: path.split('/').at(-1)!.startsWith('+'),
      sha: 'f'.repeat(40),
      ...(raw ? { raw_content: `---\ntitle: ${path}\n---\n${content}` } : {}),
    };
  }

  async read(caller: Caller, path: string, opts?: { raw?: boolean }) {
    this.note('read', caller, path, opts);
    this.guard(caller, path);
    if (path.includes('..')) throw new HttpError(400, 'Invalid path: ..');
    if (!this.files.has(path)) throw new HttpError(404, `File not found: ${path}`);
    return this.fileObject(path, opts?.raw === true);
  }
  async write(caller: Caller, path: string, content: string, opts?: WriteOptions) {
    this.note('write', caller, path, content, opts);
    this.guard(caller, path, 'write');
    const action = this.files.has(path) ? ('update' as const) : ('create' as const);
    this.files.set(path, content);
    return { path, action, commit: 'c'.repeat(40), sha: 'f'.repeat(40), warnings: [] };
  }
  async remove(caller: Caller, path: string, opts?: { message?: string }) {
    this.note('remove', caller, path, opts);
    if (!this.files.delete(path)) throw new HttpError(404, `Source file not found: ${path}`);
    return { path, action: 'delete' as const, commit: 'd'.repeat(40) };
  }
  async move(caller: Caller, from: string, to: string, opts?: { message?: string }) {
    this.note('move', caller, from, to, opts);
    const content = this.files.get(from);
    if (content === undefined) throw new HttpError(404, `Source file not found: ${from}`);
    this.files.delete(from);
    this.files.set(to, content);
    return { from, to, action: 'move' as const, commit: 'e'.repeat(40) };
  }
  async list(caller: Caller, dir: string, opts?: { pattern?: string }): Promise<ListResult> {
    this.note('list', caller, dir, opts);
    const prefix = dir === '/' ? '' : `${dir}/`;
    const files = [...this.files.keys()]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
      .sort()
      .map((p) => ({
        name: p.slice(prefix.length),
        path: p,
        size: 10,
        modified: '2025-12-01T10:00:00.000Z',
        is_index: false,
      }));
    return { path: dir, directories: [], files };
  }
  async search(caller: Caller, q: Parameters<KbOps['search']>[1]): Promise<SearchResult> {
    this.note('search', caller, q);
    if (q.q === 'boom') throw new Error('disk on fire at /secret/place');
    if (!q.q.trim()) throw new HttpError(400, 'Search query must not be empty');
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.searchDelayMs) await Bun.sleep(this.searchDelayMs);
    this.inFlight--;
    const hits = [...this.files.entries()]
      .filter(([path]) => !path.startsWith('users/') || path.startsWith(`users/${caller.id}/`))
      .filter(([, c]) => c.toLowerCase().includes(q.q.toLowerCase()))
      .map(([path, content]) => ({
        path,
        namespace: 'root',
        context: path.includes('/') ? path.split('/')[0]! : null,
        title: path,
        score: 1,
        line_number: 1,
        excerpt: content.split('\n')[0]!,
        matched_terms: [q.q],
        keywords: [],
        modified: '2025-12-01T10:00:00.000Z',
      }));
    return {
      query: q.q,
      match: q.match === 'any' ? 'any' : 'all',
      total: hits.length,
      limit: q.limit ?? 20,
      offset: 0,
      took_ms: 0,
      results: hits,
    };
  }
  async context(caller: Caller, name: string): Promise<ContextData> {
    this.note('context', caller, name);
    const path = `${name}/+${name}.md`;
    if (!this.files.has(path)) throw new HttpError(404, `Context index not found for: ${name}`);
    const index = this.fileObject(path, false);
    const files = [...this.files.keys()].filter((p) => p.startsWith(`${name}/`));
    return {
      name,
      path,
      summary: index.content,
      keywords: ['k'],
      dependencies: index.wiki_links,
      files,
      total_files: files.length,
    };
  }
  async navigate(caller: Caller, path: string, depth: number, keywords?: string[]) {
    this.note('navigate', caller, path, depth, keywords);
    return { path, name: path, has_index: false, children: [] };
  }
  async synthesize(caller: Caller, contexts: string[], focus?: string, maxConnections?: number) {
    this.note('synthesize', caller, contexts, focus, maxConnections);
    return { contexts, common_themes: ['k'], potential_connections: [] };
  }
  async threads(caller: Caller) {
    this.note('threads', caller);
    return { threads: [], total_threads: 0, active_count: 0 };
  }
  async history(caller: Caller, path: string | undefined, limit: number) {
    this.note('history', caller, path, limit);
    return [];
  }
}

const CALLER: Caller = {
  id: 'u-1',
  email: 'ann@example.com',
  name: 'Ann',
  admin: false,
  authType: 'api_key',
  keyId: 'k-1',
  rid: 'rid-1',
};

const ops = new FakeOps();
let server: ReturnType<typeof Bun.serve>;
let url: URL;

beforeAll(() => {
  const handler = createKbMcpHandler({
    ops,
    allowedOrigins: (o) => o === 'http://localhost:3000',
    version: '9.9.9',
  });
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => handler(req, CALLER) });
  url = new URL(`http://127.0.0.1:${server.port}/mcp`);
});

afterAll(() => {
  server.stop(true);
});

async function withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ name: 'kb-mcp-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

type Content = Array<{ type: string; text: string }>;
const textOf = (r: unknown) => (r as { content: Content }).content[0]!.text;
const jsonOf = (r: unknown) => JSON.parse(textOf(r));

const rpc = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });

function reset() {
  ops.calls = [];
  ops.files = new Map([
    ['lore/dragons.md', 'The dragon sleeps under the ridge.'],
    ['lore/castles.md', 'A castle by the sea.'],
    ['users/u-1/notes.md', 'my own dragon notes'],
    ['users/u-2/private/x.md', 'secret dragon'],
    ['gaia/+gaia.md', 'Index. See [[a]] and [[missing]] and [[users/u-2/private/x]].'],
    ['gaia/a.md', 'A links to [[ext/b]].'],
    ['ext/b.md', 'B links to [[c]].'],
    ['ext/c.md', 'C is three hops away.'],
  ]);
  ops.searchDelayMs = 0;
  ops.maxInFlight = 0;
}

describe('kb MCP server', () => {
  test('initialize names the server; tools/list offers every tool with its defaults', async () => {
    reset();
    await withClient(async (c) => {
      expect(c.getServerVersion()).toEqual({ name: 'Gaia KB', version: '9.9.9' });
      const { tools } = await c.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(
        [
          'delegate_tasks',
          'delete_file',
          'get_active_threads',
          'list_directory',
          'load_context',
          'move_file',
          'navigate_index',
          'read_file',
          'search_kb',
          'search_semantic',
          'synthesize_contexts',
          'write_file',
        ].sort(),
      );
      const search = tools.find((t) => t.name === 'search_kb')!;
      const props = search.inputSchema.properties as Record<string, Record<string, unknown>>;
      expect(search.inputSchema.required).toEqual(['query']);
      expect(props.limit).toMatchObject({ default: 20, minimum: 1, maximum: 100 });
      expect(props.match).toMatchObject({ default: 'auto', enum: ['auto', 'all', 'any', 'phrase'] });
    });
  });

  test('search_kb runs under the caller with the documented defaults and returns the JSON result', async () => {
    reset();
    await withClient(async (c) => {
      const r = await c.callTool({ name: 'search_kb', arguments: { query: 'dragon' } });
      expect(r.isError).toBeFalsy();
      const body = jsonOf(r);
      expect(body.query).toBe('dragon');
      expect(body.results.map((h: { path: string }) => h.path)).toContain('lore/dragons.md');
      const call = ops.calls.find((x) => x.op === 'search')!;
      expect(call.caller).toEqual(CALLER);
      expect(call.args[0]).toMatchObject({ q: 'dragon', limit: 20, match: 'auto', includeContent: false });
    });
  });

  test('search_semantic is an any-term search scoped to the namespace (root = everything)', async () => {
    reset();
    await withClient(async (c) => {
      await c.callTool({ name: 'search_semantic', arguments: { query: 'sea dragon' } });
      await c.callTool({
        name: 'search_semantic',
        arguments: { query: 'sea', namespace: 'teams/eng', limit: 3 },
      });
      const [a, b] = ops.calls.filter((x) => x.op === 'search').map((x) => x.args[0]);
      expect(a).toMatchObject({ q: 'sea dragon', match: 'any', limit: 10, contexts: undefined });
      expect(b).toMatchObject({ q: 'sea', match: 'any', limit: 3, contexts: ['teams/eng'] });
    });
  });

  test('a forbidden read is a tool error carrying the detail; a missing file likewise', async () => {
    reset();
    await withClient(async (c) => {
      const r = await c.callTool({ name: 'read_file', arguments: { path: 'users/u-2/private/x.md' } });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe('Forbidden: no read access to users/u-2/private/x.md');
      const m = await c.callTool({ name: 'read_file', arguments: { path: 'nope.md' } });
      expect(m.isError).toBe(true);
      expect(textOf(m)).toBe('File not found: nope.md');
    });
  });

  test('read_file returns the file object; parse_frontmatter false gives the stored text', async () => {
    reset();
    await withClient(async (c) => {
      const parsed = jsonOf(await c.callTool({ name: 'read_file', arguments: { path: 'lore/dragons.md' } }));
      expect(parsed).toMatchObject({
        path: 'lore/dragons.md',
        content: 'The dragon sleeps under the ridge.',
      });
      expect(parsed.frontmatter).toEqual({ title: 'lore/dragons.md' });
      const raw = jsonOf(
        await c.callTool({
          name: 'read_file',
          arguments: { path: 'lore/dragons.md', parse_frontmatter: false },
        }),
      );
      expect(raw.content).toBe('---\ntitle: lore/dragons.md\n---\nThe dragon sleeps under the ridge.');
      expect(raw.frontmatter).toEqual({});
      expect(raw.raw_content).toBeUndefined();
    });
  });

  test('an unexpected failure is a generic tool error, never the internal message', async () => {
    reset();
    await withClient(async (c) => {
      const r = await c.callTool({ name: 'search_kb', arguments: { query: 'boom' } });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe('KB search_kb failed');
    });
  });

  test('invalid arguments are a tool error naming the field', async () => {
    reset();
    await withClient(async (c) => {
      const r = await c.callTool({ name: 'search_kb', arguments: { query: 'x', limit: 101 } });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain('limit');
      const missing = await c.callTool({ name: 'read_file', arguments: {} });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toContain('path');
      expect(ops.calls).toHaveLength(0);
    });
  });

  test('an unknown tool is JSON-RPC error -32602 (SDK client and plain JSON)', async () => {
    reset();
    await withClient(async (c) => {
      const err = await c.callTool({ name: 'format_disk', arguments: {} }).catch((e) => e);
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32602);
    });
    const res = await rpc({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'nope', arguments: {} },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: number; error: { code: number } };
    expect(body.id).toBe(7);
    expect(body.error.code).toBe(-32602);
  });

  test('plain JSON clients: application/json answers, no session id; ping and tools/list work without a session', async () => {
    reset();
    const init = await rpc({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
    });
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toContain('application/json');
    expect(init.headers.get('mcp-session-id')).toBeNull();
    const initBody = (await init.json()) as { result: { serverInfo: { name: string } } };
    expect(initBody.result.serverInfo.name).toBe('Gaia KB');

    const ping = await rpc({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(((await ping.json()) as { result: unknown }).result).toEqual({});

    const list = await rpc({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    const listBody = (await list.json()) as { result: { tools: unknown[] } };
    expect(listBody.result.tools).toHaveLength(12);

    const call = await rpc({
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'get_active_threads', arguments: {} },
    });
    const callBody = (await call.json()) as { result: { content: Content } };
    expect(JSON.parse(callBody.result.content[0]!.text)).toEqual({
      threads: [],
      total_threads: 0,
      active_count: 0,
    });
  });

  test('a foreign Origin is refused before the protocol; an allowed one is served', async () => {
    reset();
    const evil = await rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toEqual({ detail: 'Forbidden origin' });
    const good = await rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }, { origin: 'http://localhost:3000' });
    expect(good.status).toBe(200);
  });

  test('GET (no server stream in stateless mode) is 405; bad JSON is a parse error', async () => {
    const get = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
  });

  test('load_context follows wiki links `depth` hops; include_dependencies false drops them', async () => {
    reset();
    await withClient(async (c) => {
      const two = jsonOf(await c.callTool({ name: 'load_context', arguments: { context_name: 'gaia' } }));
      expect(two.dependencies).toEqual(['a', 'missing', 'users/u-2/private/x']);
      // hop 1: gaia/a.md (already listed); hop 2: ext/b.md. ext/c.md is a third hop; the forbidden
      // and missing links are skipped alike.
      expect(two.files).toEqual(['gaia/+gaia.md', 'gaia/a.md', 'ext/b.md']);
      expect(two.total_files).toBe(3);
      const three = jsonOf(
        await c.callTool({ name: 'load_context', arguments: { context_name: 'gaia', depth: 3 } }),
      );
      expect(three.files).toEqual(['gaia/+gaia.md', 'gaia/a.md', 'ext/b.md', 'ext/c.md']);
      const zero = jsonOf(
        await c.callTool({ name: 'load_context', arguments: { context_name: 'gaia', depth: 0 } }),
      );
      expect(zero.files).toEqual(['gaia/+gaia.md', 'gaia/a.md']);
      const none = jsonOf(
        await c.callTool({
          name: 'load_context',
          arguments: { context_name: 'gaia', include_dependencies: false },
        }),
      );
      expect(none.dependencies).toEqual([]);
      expect(none.files).toEqual(['gaia/+gaia.md', 'gaia/a.md']);
      const missing = await c.callTool({ name: 'load_context', arguments: { context_name: 'nope' } });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toBe('Context index not found for: nope');
    });
  });

  test('writes, moves and deletes go through the ops with source mcp', async () => {
    reset();
    await withClient(async (c) => {
      const w = jsonOf(
        await c.callTool({
          name: 'write_file',
          arguments: { path: 'notes/n.md', content: '# N', message: 'add n' },
        }),
      );
      expect(w).toMatchObject({ path: 'notes/n.md', action: 'create' });
      const writeCall = ops.calls.find((x) => x.op === 'write')!;
      expect(writeCall.args).toEqual([
        'notes/n.md',
        '# N',
        { message: 'add n', validate: true, source: 'mcp' },
      ]);

      const m = jsonOf(
        await c.callTool({
          name: 'move_file',
          arguments: { old_path: 'notes/n.md', new_path: 'notes/m.md', message: 'rename' },
        }),
      );
      expect(m).toMatchObject({ from: 'notes/n.md', to: 'notes/m.md', action: 'move' });
      const d = jsonOf(
        await c.callTool({ name: 'delete_file', arguments: { path: 'notes/m.md', message: 'bye' } }),
      );
      expect(d).toMatchObject({ path: 'notes/m.md', action: 'delete' });
      expect(ops.files.has('notes/m.md')).toBe(false);
      expect(ops.calls.find((x) => x.op === 'remove')!.args[1]).toEqual({ message: 'bye', source: 'mcp' });

      const denied = await c.callTool({
        name: 'write_file',
        arguments: { path: 'users/u-2/x.md', content: 'x', message: 'm' },
      });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toBe('Forbidden: no write access to users/u-2/x.md');
    });
  });

  test('list_directory, navigate_index and synthesize_contexts pass their parameters', async () => {
    reset();
    await withClient(async (c) => {
      const l = jsonOf(
        await c.callTool({ name: 'list_directory', arguments: { path: 'lore', include_metadata: false } }),
      );
      expect(l.files[0]).toEqual({ name: 'castles.md', path: 'lore/castles.md', is_index: false });
      expect(ops.calls.find((x) => x.op === 'list')!.args).toEqual(['lore', { pattern: '*.md' }]);
      await c.callTool({ name: 'navigate_index', arguments: { filter_keywords: ['k'] } });
      expect(ops.calls.find((x) => x.op === 'navigate')!.args).toEqual(['/', 3, ['k']]);
      const bad = await c.callTool({ name: 'navigate_index', arguments: { max_depth: 7 } });
      expect(bad.isError).toBe(true);
      await c.callTool({
        name: 'synthesize_contexts',
        arguments: { source_contexts: ['a', 'b'], focus: 'f' },
      });
      expect(ops.calls.find((x) => x.op === 'synthesize')!.args).toEqual([['a', 'b'], 'f', 10]);
    });
  });

  test('delegate_tasks: summary with findings and per-task errors, bounded parallelism', async () => {
    reset();
    ops.searchDelayMs = 20;
    await withClient(async (c) => {
      const r = jsonOf(
        await c.callTool({
          name: 'delegate_tasks',
          arguments: {
            max_workers: 2,
            tasks: [
              { type: 'search', query: 'dragon' },
              { type: 'search', query: 'castle' },
              { type: 'search', query: 'sea' },
              { type: 'search', query: 'ridge' },
              { type: 'load_context', name: 'gaia', depth: 0 },
              { type: 'read_file', path: 'users/u-2/private/x.md' },
              { type: 'read_file' },
            ],
          },
        }),
      );
      expect(r.total_tasks).toBe(7);
      expect(r.execution_mode).toBe('parallel');
      expect(r.results.summary).toEqual({
        total_tasks: 7,
        successful: 5,
        failed: 2,
        error_summary: [
          'Forbidden: no read access to users/u-2/private/x.md',
          expect.stringContaining('Invalid read_file task: path'),
        ],
      });
      expect(r.results.key_findings).toEqual([
        "Found 2 matches for 'dragon'",
        "Found 1 matches for 'castle'",
        "Found 1 matches for 'sea'",
        "Found 1 matches for 'ridge'",
        "Loaded context 'gaia' with 2 files",
      ]);
      expect(ops.maxInFlight).toBe(2);
    });
  });

  test('delegate_tasks: sequential, merge and raw strategies; more than 20 tasks is refused', async () => {
    reset();
    ops.searchDelayMs = 5;
    await withClient(async (c) => {
      const merged = jsonOf(
        await c.callTool({
          name: 'delegate_tasks',
          arguments: {
            parallel: false,
            compression_strategy: 'merge',
            tasks: [
              { type: 'search', query: 'dragon' },
              { type: 'search', query: 'castle' },
              { type: 'read_file', path: 'lore/castles.md' },
              { type: 'synthesize', contexts: ['gaia'] },
              { type: 'navigate_index', start_path: 'lore', max_depth: 1 },
              { type: 'load_context', name: 'nope' },
            ],
          },
        }),
      );
      expect(merged.execution_mode).toBe('sequential');
      expect(ops.maxInFlight).toBe(1);
      expect(merged.results.search_results).toHaveLength(3);
      expect(merged.results.file_contents[0].path).toBe('lore/castles.md');
      expect(merged.results.syntheses[0].contexts).toEqual(['gaia']);
      expect(merged.results.navigation[0].path).toBe('lore');
      expect(merged.results.errors).toEqual([
        { task: { type: 'load_context', name: 'nope' }, error: 'Context index not found for: nope' },
      ]);

      const raw = jsonOf(
        await c.callTool({
          name: 'delegate_tasks',
          arguments: { compression_strategy: 'raw', tasks: [{ type: 'search', query: 'sea' }] },
        }),
      );
      expect(raw.results.raw_results[0]).toMatchObject({ ok: true, task: { type: 'search', query: 'sea' } });
      expect(raw.results.raw_results[0].result.total).toBe(1);

      const tooMany = await c.callTool({
        name: 'delegate_tasks',
        arguments: { tasks: Array.from({ length: 21 }, () => ({ type: 'search', query: 'x' })) },
      });
      expect(tooMany.isError).toBe(true);
      const badType = await c.callTool({ name: 'delegate_tasks', arguments: { tasks: [{ type: 'rm' }] } });
      expect(badType.isError).toBe(true);
    });
  });
});

describe('linkCandidates', () => {
  test('relative to the linking file, then the root; .md added; namespace prefixes; label and heading cut', () => {
    expect(linkCandidates('gaia/+gaia.md', 'architecture')).toEqual([
      'gaia/architecture.md',
      'architecture.md',
    ]);
    expect(linkCandidates('gaia/+gaia.md', 'gaia/arch|the architecture')).toEqual([
      'gaia/gaia/arch.md',
      'gaia/arch.md',
    ]);
    expect(linkCandidates('README.md', 'notes/a.txt#top')).toEqual(['notes/a.txt']);
    expect(linkCandidates('x/y.md', 'user:u-9/notes')).toEqual(['users/u-9/notes.md']);
    expect(linkCandidates('x/y.md', 'team:eng/plan')).toEqual(['teams/eng/plan.md']);
    expect(linkCandidates('x/y.md', 'workspace:q4/brief')).toEqual(['workspaces/q4/brief.md']);
    expect(linkCandidates('x/y.md', 'shared:policy')).toEqual(['shared/policy.md']);
    expect(linkCandidates('x/y.md', '#only-heading')).toEqual([]);
  });
});
