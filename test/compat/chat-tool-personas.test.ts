/**
 * A persona's `tools` list decides what a chat's model may use, end to end through the gateway: `fs__*` reaches
 * the official filesystem MCP server (a real third-party stdio server over a temporary folder), `[]` offers
 * nothing, no list means the KB tools, and `asset:generate` makes an asset as the chatting user (the offline
 * `local` asset provider), whose link then works and which no other user can see.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

const ROOT = resolve(import.meta.dir, '../..');
const FS_SERVER = join(ROOT, 'node_modules/.bin/mcp-server-filesystem');
const FAKE = join(ROOT, 'test/fakes/mcp-stdio-server.ts');

const offered = (body: any): string[] => ((body.tools ?? []) as any[]).map((t) => t.function.name).sort();
const toolResults = (body: any): string[] =>
  (body.messages as any[]).filter((m) => m.role === 'tool').map((m) => String(m.content));

describe('persona tool lists', () => {
  let s: StackHandle;
  let oa: FakeOpenAI;
  const work = mkdtempSync(join(tmpdir(), 'gaia-persona-tools-'));
  const files = join(work, 'files');
  const idA = crypto.randomUUID();
  const idB = crypto.randomUUID();
  let jwtA: string;
  let jwtB: string;

  beforeAll(async () => {
    mkdirSync(join(files, 'lore'), { recursive: true });
    writeFileSync(join(files, 'notes.md'), '# Notes\nThe dragon sleeps under the mountain.\n');
    writeFileSync(join(files, 'lore', 'griffin.md'), 'Griffins nest on cliffs.\n');
    oa = await startFakeOpenAI();
    s = await startStack({
      env: {
        OPENAI_API_KEY: 'sk-personas',
        OPENAI_BASE_URL: oa.url,
        GAIA_MCP_SERVERS: JSON.stringify({
          mcpServers: {
            fs: { command: FS_SERVER, args: [files] },
            fake: { command: process.execPath, args: [FAKE], timeout_ms: 1000 },
            broken: { command: process.execPath, args: [FAKE, '--mode=exit'] },
          },
        }),
        // The OpenAI fake here speaks chat only: textures come from the offline provider.
        ASSET_PROVIDER_ORDER_TEXTURE: 'local',
      },
    });
    jwtA = await s.mintJwt({ sub: idA, email: `a-${idA.slice(0, 8)}@example.com` });
    jwtB = await s.mintJwt({ sub: idB, email: `b-${idB.slice(0, 8)}@example.com` });
  });

  afterAll(async () => {
    await s?.stop();
    await oa?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const as = (jwt: string, path: string, body?: unknown) =>
    s.fetch(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const persona = async (name: string, tools: string[] | null): Promise<string> => {
    const r = await as(jwtA, '/api/v1/chat/personas', {
      name: `${name}-${crypto.randomUUID().slice(0, 6)}`,
      description: name,
      system_prompt: `You are ${name}.`,
      tools,
    });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body.persona.tools).toEqual(tools);
    return body.persona.id;
  };

  test('fs__* lets the model list and read files of the folder through the filesystem MCP server', async () => {
    const p = await persona('librarian', ['fs__*']);
    // The tool names the server offers (the package has renamed tools across versions).
    const listed = await (await as(jwtA, '/api/v1/chat/tools')).json();
    const fsTools = (listed.tools as any[]).filter((t) => t.source === 'mcp').map((t) => t.name);
    const list = fsTools.find((n: string) => n === 'fs__list_directory')!;
    const read = ['fs__read_text_file', 'fs__read_file'].find((n) => fsTools.includes(n))!;
    expect(list).toBeDefined();
    expect(read).toBeDefined();

    oa.reset();
    oa.enqueue(
      { chunks: [], toolCalls: [{ name: list, arguments: JSON.stringify({ path: files }) }] },
      {
        chunks: [],
        toolCalls: [{ name: read, arguments: JSON.stringify({ path: join(files, 'notes.md') }) }],
      },
      { chunks: ['The dragon sleeps under the mountain.'] },
    );
    const r = await as(jwtA, '/api/v1/chat', {
      message: 'What is in my notes?',
      model: 'gpt-4o-mini',
      persona_id: p,
    });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body._metadata.route_type).toBe('tools');
    expect(body._metadata.tools_used).toEqual([list, read]);
    // Only the filesystem server's tools were offered: no KB tools, no asset tool.
    const names = offered(oa.completions[0]!.body);
    expect(names.length).toBeGreaterThan(2);
    expect(names.every((n) => n.startsWith('fs__'))).toBe(true);
    // The server that exits at once costs this chat nothing.
    expect(names.some((n) => n.startsWith('broken__'))).toBe(false);
    expect(toolResults(oa.completions[1]!.body).at(-1)).toContain('notes.md');
    expect(toolResults(oa.completions[1]!.body).at(-1)).toContain('lore');
    expect(toolResults(oa.completions[2]!.body).at(-1)).toContain('The dragon sleeps under the mountain.');
    // The calls are stored with the answer.
    const msgs = await (
      await as(jwtA, `/api/v1/conversations/${body._metadata.conversation_id}/messages`)
    ).json();
    const assistant = ((msgs.messages ?? msgs) as any[]).find((m) => m.role === 'assistant');
    expect(assistant.tool_calls.map((c: any) => c.name)).toEqual([list, read]);
    expect(assistant.tool_calls[1]).toMatchObject({ ok: true, arguments: { path: join(files, 'notes.md') } });
  });

  test('[] offers no tools at all; no list offers the KB tools only', async () => {
    const none = await persona('quiet', []);
    oa.reset();
    oa.enqueue({ chunks: ['Plain answer.'] });
    const r = await as(jwtA, '/api/v1/chat', { message: 'Hi', model: 'gpt-4o-mini', persona_id: none });
    expect(r.status).toBe(200);
    expect(oa.completions[0]!.body.tools).toBeUndefined();

    const dflt = await persona('default-tools', null);
    oa.reset();
    oa.enqueue({ chunks: ['Plain answer.'] });
    await as(jwtA, '/api/v1/chat', { message: 'Hi', model: 'gpt-4o-mini', persona_id: dflt });
    const names = offered(oa.completions[0]!.body);
    expect(names).toContain('search_knowledge_base');
    expect(names.some((n) => n.startsWith('fs__') || n === 'generate_asset')).toBe(false);
  });

  test('asset:generate makes the asset as the chatting user; its link works and others cannot see it', async () => {
    const p = await persona('artist', ['asset:generate']);
    oa.reset();
    oa.enqueue(
      {
        chunks: [],
        toolCalls: [
          {
            name: 'generate_asset',
            arguments: JSON.stringify({ category: 'texture', description: 'mossy cobblestone {{user_id}}' }),
          },
        ],
      },
      { chunks: ['Here is your texture.'] },
    );
    const r = await as(jwtA, '/api/v1/chat', {
      message: 'Make a texture',
      model: 'gpt-4o-mini',
      persona_id: p,
    });
    expect(r.status).toBe(200);
    expect(offered(oa.completions[0]!.body)).toEqual(['generate_asset']);
    const result = JSON.parse(toolResults(oa.completions[1]!.body).at(-1)!);
    expect(typeof result.asset_id).toBe('string');
    expect(result.source).toBe('generated');
    const link = new URL(result.asset_data.download_url);
    // The signed link works with no credentials at all.
    const file = await s.fetch(link.pathname + link.search);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    // The asset is A's: listed for A, invisible to B.
    const mine = await (await as(jwtA, `/api/v1/assets/${result.asset_id}`)).json();
    expect(mine.asset_id).toBe(result.asset_id);
    // Template text in arguments is passed on as written, never filled in.
    expect(JSON.stringify(mine)).toContain('mossy cobblestone {{user_id}}');
    expect((await as(jwtB, `/api/v1/assets/${result.asset_id}`)).status).toBe(404);
  });

  test('an MCP tool that hangs: the chat answers after the timeout with the error passed to the model', async () => {
    const p = await persona('waiter', ['fake__hang']);
    oa.reset();
    oa.enqueue(
      { chunks: [], toolCalls: [{ name: 'fake__hang', arguments: '{}' }] },
      { chunks: ['It timed out.'] },
    );
    const started = Date.now();
    const r = await as(jwtA, '/api/v1/chat', { message: 'Wait', model: 'gpt-4o-mini', persona_id: p });
    expect(r.status).toBe(200);
    expect((await r.json()).choices[0].message.content).toBe('It timed out.');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(10_000);
    const result = JSON.parse(toolResults(oa.completions[1]!.body).at(-1)!);
    expect(typeof result.error).toBe('string');
  });

  test('a 5 MB MCP result reaches the model cut to 100 KB, ending in …[truncated]', async () => {
    const p = await persona('hoarder', ['fake__big']);
    oa.reset();
    oa.enqueue(
      { chunks: [], toolCalls: [{ name: 'fake__big', arguments: '{}' }] },
      { chunks: ['Too much.'] },
    );
    const r = await as(jwtA, '/api/v1/chat', { message: 'Get it all', model: 'gpt-4o-mini', persona_id: p });
    expect(r.status).toBe(200);
    const content = toolResults(oa.completions[1]!.body).at(-1)!;
    expect(content.endsWith('…[truncated]')).toBe(true);
    expect(new TextEncoder().encode(content).length).toBeLessThanOrEqual(100 * 1024);
    expect(new TextEncoder().encode(content).length).toBeGreaterThan(99 * 1024);
  });

  test('GET /api/v1/chat/tools lists every source the caller can use', async () => {
    const body = await (await as(jwtA, '/api/v1/chat/tools')).json();
    const sources = new Set((body.tools as any[]).map((t) => t.source));
    expect(sources).toEqual(new Set(['kb', 'mcp', 'asset']));
    const asset = (body.tools as any[]).find((t) => t.source === 'asset');
    expect(asset.name).toBe('generate_asset');
    expect(body.servers).toBeUndefined();
  });
});
