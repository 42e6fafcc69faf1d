/**
 * The KB's MCP server through the gateway, driven by the MCP SDK's own client: every tool is listed and
 * callable under the caller's permissions; no credentials → 401; a foreign Origin → 403.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const TOOLS = [
  'search_kb',
  'search_semantic',
  'read_file',
  'load_context',
  'list_directory',
  'navigate_index',
  'synthesize_contexts',
  'delegate_tasks',
  'get_active_threads',
  'write_file',
  'move_file',
  'delete_file',
];

type ToolResult = { isError?: boolean; content: Array<{ type: string; text: string }> };

for (const backend of testBackends()) {
  describe(`kb MCP server through the gateway (${backend.name})`, () => {
    let s: StackHandle;
    let client: Client;
    const idA = crypto.randomUUID();
    let jwtA: string;

    beforeAll(async () => {
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        // PostgreSQL runs go with NATS, as a production deployment does.
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
      });
      jwtA = await s.mintJwt({ sub: idA, email: `m-${idA.slice(0, 8)}@example.com` });
      await s.dev('/api/v0.2/kb/write', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          path: 'lore/+lore.md',
          content: '# Lore\nThe griffin nests here. #myth\n',
          message: 'seed',
        }),
      });
      client = new Client({ name: 'kb-compat', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${s.url}/api/v1/kb/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${jwtA}` } },
        }),
      );
    });

    afterAll(async () => {
      await client?.close().catch(() => {});
      await s?.stop();
    });

    const call = async (name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })) as ToolResult;

    test('lists every tool and names itself Gaia KB', async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
      expect(client.getServerVersion()?.name).toBe('Gaia KB');
    });

    test('every tool runs under the caller', async () => {
      const mine = `users/${idA}/mcp.md`;
      const w = await call('write_file', {
        path: mine,
        content: '# MCP\nbasilisk notes\n',
        message: 'via mcp',
      });
      expect(w.isError).toBeFalsy();
      expect(JSON.parse(w.content[0]!.text)).toMatchObject({ path: mine, action: 'create' });
      const found = JSON.parse((await call('search_kb', { query: 'basilisk' })).content[0]!.text);
      expect(found.results.map((r: { path: string }) => r.path)).toEqual([mine]);
      const sem = JSON.parse((await call('search_semantic', { query: 'griffin basilisk' })).content[0]!.text);
      expect(sem.match).toBe('any');
      expect(sem.total).toBe(2);
      const read = JSON.parse((await call('read_file', { path: mine })).content[0]!.text);
      expect(read.content).toBe('# MCP\nbasilisk notes\n');
      const ctx = JSON.parse((await call('load_context', { context_name: 'lore' })).content[0]!.text);
      expect(ctx.keywords).toContain('myth');
      const list = JSON.parse((await call('list_directory', { path: `users/${idA}` })).content[0]!.text);
      expect(JSON.stringify(list)).toContain('mcp.md');
      expect((await call('navigate_index', { start_path: '/' })).isError).toBeFalsy();
      expect((await call('synthesize_contexts', { source_contexts: ['lore'] })).isError).toBeFalsy();
      const threads = JSON.parse((await call('get_active_threads', {})).content[0]!.text);
      expect(threads.total_threads).toBe(0);
      const tasks = await call('delegate_tasks', {
        tasks: [
          { type: 'search', query: 'griffin' },
          { type: 'read_file', path: mine },
        ],
      });
      expect(tasks.isError).toBeFalsy();
      const moved = await call('move_file', {
        old_path: mine,
        new_path: `users/${idA}/mcp2.md`,
        message: 'mv',
      });
      expect(moved.isError).toBeFalsy();
      const del = await call('delete_file', { path: `users/${idA}/mcp2.md`, message: 'rm' });
      expect(del.isError).toBeFalsy();
    });

    test('#28 forbidden paths are tool errors; unknown tools are JSON-RPC -32602', async () => {
      const other = crypto.randomUUID();
      const r = await call('read_file', { path: `users/${other}/x.md` });
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toStartWith('Forbidden: ');
      const err = await client.callTool({ name: 'no_such_tool', arguments: {} }).catch((e) => e);
      expect(err?.code).toBe(-32602);
    });

    test('#28 no credentials → 401; a foreign Origin → 403', async () => {
      const init = {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      };
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const anon = await s.fetch('/api/v1/kb/mcp', { method: 'POST', headers, body: JSON.stringify(init) });
      expect(anon.status).toBe(401);
      const evil = await s.fetch('/api/v1/kb/mcp', {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${jwtA}`, origin: 'https://evil.example' },
        body: JSON.stringify(init),
      });
      expect(evil.status).toBe(403);
    });
  });
}
