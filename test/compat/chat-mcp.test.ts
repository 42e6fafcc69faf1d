/**
 * MCP servers configured by the operator, as chat tools. Through the gateway: `GET /api/v1/chat/tools` for a
 * user and for an admin, with a server that exits at once (its tools absent, `state: "error"`, one log line
 * per back-off step however many requests come), the official filesystem server (`fs__list_directory`) and
 * a Streamable HTTP server. On the tool source itself: real calls into the filesystem server, a hung tool
 * cut off by its timeout or by the client leaving, a 5 MB result cut to 100 KB, per-user header templates,
 * arguments that are never expanded, a crashed server brought back, a changed tool list, Gaia's own KB MCP
 * server as a configured HTTP server, and shutdown ending every child process.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` in plain strings is the syntax under test.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseMcpServers } from '../../services/chat/mcp/config.ts';
import { McpTools } from '../../services/chat/mcp/tools.ts';
import { MAX_RESULT_BYTES, ToolRegistry, TRUNCATED_MARK } from '../../services/chat/tools/registry.ts';
import type { ToolRunContext } from '../../services/chat/tools/types.ts';
import type { User } from '../../src/http/service.ts';
import { createLogger } from '../../src/log.ts';
import { type FakeMcpHttp, startFakeMcpHttp } from '../fakes/mcp-http-server.ts';
import { eventually } from '../support/eventually.ts';
import { DEV_API_KEY, type StackHandle, startStack } from '../support/stack.ts';

const ROOT = resolve(import.meta.dir, '../..');
const FAKE = join(ROOT, 'test/fakes/mcp-stdio-server.ts');
const FS_SERVER = join(ROOT, 'node_modules/.bin/mcp-server-filesystem');
const work = mkdtempSync(join(tmpdir(), 'gaia-chat-mcp-'));
const files = join(work, 'files');
mkdirSync(join(files, 'lore'), { recursive: true });
writeFileSync(join(files, 'notes.md'), '# Notes\nThe dragon sleeps under the mountain.\n');
writeFileSync(join(files, 'lore', 'griffin.md'), 'Griffins nest on cliffs.\n');

/** `start <pid>` / `cancelled` lines the fake stdio server wrote. */
const eventsOf = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const pidsOf = (file: string) =>
  eventsOf(file)
    .filter((l) => l.startsWith('start '))
    .map((l) => Number(l.slice(6)));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const userA: User = {
  id: crypto.randomUUID(),
  email: 'ada@example.com',
  name: 'Ada',
  admin: false,
  authType: 'jwt',
  sessionId: null,
  keyId: null,
};
const userB: User = { ...userA, id: crypto.randomUUID(), email: 'bob@example.com', name: 'Bob' };
const ctxOf = (user: User, signal = new AbortController().signal): ToolRunContext => ({
  user,
  signal,
  requestId: 'req-mcp-test',
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('MCP servers through the gateway', () => {
  let s: StackHandle;
  let http: FakeMcpHttp;
  let jwt: string;
  const fakeEvents = join(work, 'stack-fake.events');
  const brokenEvents = join(work, 'stack-broken.events');

  beforeAll(async () => {
    http = await startFakeMcpHttp();
    const servers = {
      mcpServers: {
        fake: { command: process.execPath, args: [FAKE], env: { MCP_FAKE_EVENTS: fakeEvents } },
        broken: {
          command: process.execPath,
          args: [FAKE, '--mode=exit'],
          env: { MCP_FAKE_EVENTS: brokenEvents },
        },
        fs: { command: FS_SERVER, args: [files] },
        who: { url: http.url, headers: { 'x-user-id': '{{user_id}}' } },
      },
    };
    s = await startStack({ env: { GAIA_MCP_SERVERS: JSON.stringify(servers) } });
    jwt = await s.mintJwt({ sub: userA.id, email: userA.email });
  });

  afterAll(async () => {
    await s?.stop();
    await http?.stop();
  });

  const toolsAs = async (auth: Record<string, string>) => {
    const r = await s.fetch('/api/v1/chat/tools', { headers: auth });
    expect(r.status).toBe(200);
    return (await r.json()) as {
      tools: Array<{ name: string; server?: string; description: string; source: string }>;
      servers?: Array<{
        name: string;
        transport: string;
        state: string;
        error: string | null;
        tools: number;
      }>;
    };
  };
  const brokenLogLines = () =>
    s.logs.filter((l) => l.includes('MCP server unavailable') && l.includes('"server":"broken"'));

  test('a user sees the tools of every working server, named <server>__<tool>, and no server states', async () => {
    const body = await toolsAs({ authorization: `Bearer ${jwt}` });
    expect(Object.keys(body).sort()).toEqual(['tools']);
    const byName = new Map(body.tools.map((t) => [t.name, t]));
    expect(byName.get('fs__list_directory')).toEqual({
      name: 'fs__list_directory',
      server: 'fs',
      description: expect.any(String),
      source: 'mcp',
    });
    expect(byName.get('fs__read_text_file')?.server).toBe('fs');
    expect(byName.get('fake__echo')).toEqual({
      name: 'fake__echo',
      server: 'fake',
      description: 'Echo the text back unchanged.',
      source: 'mcp',
    });
    expect(byName.get('who__whoami')?.source).toBe('mcp');
    // The KB tools are there too, without a server.
    expect(byName.get('search_knowledge_base')).toEqual({
      name: 'search_knowledge_base',
      description: expect.any(String),
      source: 'kb',
    });
    expect(body.tools.some((t) => t.name.startsWith('broken__'))).toBe(false);
    for (const t of body.tools) expect(t.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });

  test('an admin also sees each server: the one that exits at once is in error with a reason', async () => {
    const body = await toolsAs({ 'x-api-key': DEV_API_KEY });
    expect(body.tools.some((t) => t.name.startsWith('broken__'))).toBe(false);
    const servers = new Map(body.servers!.map((x) => [x.name, x]));
    expect([...servers.keys()].sort()).toEqual(['broken', 'fake', 'fs', 'who']);
    expect(servers.get('broken')).toEqual({
      name: 'broken',
      transport: 'stdio',
      state: 'error',
      error: 'the server process exited during startup',
      tools: 0,
    });
    expect(servers.get('fs')).toMatchObject({ transport: 'stdio', state: 'connected', error: null });
    expect(servers.get('fs')!.tools).toBeGreaterThanOrEqual(10);
    expect(servers.get('fake')).toEqual({
      name: 'fake',
      transport: 'stdio',
      state: 'connected',
      error: null,
      tools: 6,
    });
    expect(servers.get('who')).toMatchObject({ transport: 'http', state: 'connected', tools: 2 });
  });

  test('chat still answers with a broken server configured', async () => {
    const r = await s.fetch('/api/v1/chat', {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'Hello there' }),
    });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(typeof body.choices[0].message.content).toBe('string');
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);
  });

  test('the broken server is retried with doubling pauses; the log says why once per step, not per request', async () => {
    // Attempts at about 0 s, 1 s, 3 s: wait for the third.
    await eventually(async () => (pidsOf(brokenEvents).length >= 3 ? true : undefined), 15_000);
    const before = brokenLogLines().length;
    const starts = pidsOf(brokenEvents).length;
    for (let i = 0; i < 10; i++) await toolsAs({ 'x-api-key': DEV_API_KEY });
    const after = brokenLogLines().length;
    // Ten requests neither start the server again nor log again (a step may have elapsed meanwhile).
    expect(after - before).toBeLessThanOrEqual(1);
    expect(pidsOf(brokenEvents).length - starts).toBeLessThanOrEqual(1);
    // One line per attempt, each naming its reason, the child's stderr and a pause that doubles.
    const lines = brokenLogLines().map((l) => JSON.parse(l));
    expect(lines.length).toBe(pidsOf(brokenEvents).length);
    expect(lines[0].error).toBe('the server process exited during startup');
    expect(lines[0].stderr).toContain('exiting at once on purpose');
    expect(lines.slice(0, 3).map((l) => l.retry_in_ms)).toEqual([1000, 2000, 4000]);
  });

  test('stopping the stack ends every MCP child process', async () => {
    const pids = [...pidsOf(fakeEvents)];
    expect(pids.length).toBe(1);
    expect(alive(pids[0]!)).toBe(true);
    await s.stop();
    await eventually(async () => (pids.every((p) => !alive(p)) ? true : undefined), 10_000);
    // No restart after shutdown.
    const brokenStarts = pidsOf(brokenEvents).length;
    await Bun.sleep(1500);
    expect(pidsOf(brokenEvents).length).toBe(brokenStarts);
    s = undefined as never;
  });
});

describe('the MCP tool source', () => {
  let http: FakeMcpHttp;
  let mcp: McpTools;
  let registry: ToolRegistry;
  const events = join(work, 'direct.events');
  const logs: string[] = [];
  const log = createLogger({ service: 'chat', level: 'debug', json: true, sink: (l) => logs.push(l) });

  beforeAll(async () => {
    http = await startFakeMcpHttp();
    const servers = parseMcpServers(
      {
        mcpServers: {
          fake: {
            command: process.execPath,
            args: [FAKE],
            env: { MCP_FAKE_EVENTS: events },
            timeout_ms: 1500,
          },
          patient: { command: process.execPath, args: [FAKE], env: { MCP_FAKE_EVENTS: events } },
          fs: { command: FS_SERVER, args: [files] },
          who: {
            url: http.url,
            headers: {
              'x-user-id': '{{user_id}}',
              'x-user-email': '{{user_email}}',
              authorization: 'Bearer ${WHO_TOKEN}',
            },
          },
        },
      },
      { WHO_TOKEN: 'who-token-1' },
    );
    mcp = new McpTools(servers, log);
    registry = new ToolRegistry(log).add(mcp);
    await registry.all(userA);
  });

  afterAll(async () => {
    await mcp?.close();
    await http?.stop();
  });

  const run = (name: string, args: unknown, user = userA, signal?: AbortSignal) =>
    registry.run(name, JSON.stringify(args), ctxOf(user, signal));

  test('the filesystem server lists and reads files of its folder', async () => {
    const list = await run('fs__list_directory', { path: files });
    expect(list.ok).toBe(true);
    expect(list.content.split('\n').sort()).toEqual(['[DIR] lore', '[FILE] notes.md']);
    const read = await run('fs__read_text_file', { path: join(files, 'notes.md') });
    expect(read).toEqual({
      ok: true,
      content: '# Notes\nThe dragon sleeps under the mountain.\n',
      summary: 'fs__read_text_file returned 46 bytes',
    });
    // Outside its folder the server refuses: an error outcome, not an exception.
    const outside = await run('fs__read_text_file', { path: '/etc/hostname' });
    expect(outside.ok).toBe(false);
    expect(JSON.parse(outside.content).error).toMatch(/denied|outside|not allowed/i);
  });

  test('an isError result goes back as {"error": text}', async () => {
    const r = await run('fake__fail', {});
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.content)).toEqual({ error: 'the fake failed on purpose' });
    expect(r.summary).not.toContain('on purpose');
  });

  test('a hung tool ends as an error outcome after timeout_ms, and the server is told to cancel', async () => {
    const t0 = Date.now();
    const r = await run('fake__hang', {});
    const took = Date.now() - t0;
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.content)).toEqual({ error: 'The tool did not answer within 1500 ms.' });
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(5000);
    await eventually(async () => (eventsOf(events).includes('cancelled') ? true : undefined), 5000);
    // The connection survives a timeout.
    expect((await run('fake__echo', { text: 'still here' })).content).toBe('still here');
  });

  test('the client leaving cancels a hung call at once, long before its 30 s timeout', async () => {
    const cancelledBefore = eventsOf(events).filter((l) => l === 'cancelled').length;
    const ac = new AbortController();
    const t0 = Date.now();
    const pending = run('patient__hang', {}, userA, ac.signal);
    setTimeout(() => ac.abort(), 200);
    const r = await pending;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.content)).toEqual({ error: 'The call was cancelled.' });
    await eventually(
      async () =>
        eventsOf(events).filter((l) => l === 'cancelled').length > cancelledBefore ? true : undefined,
      5000,
    );
  });

  test('a 5 MB result reaches the model cut to 100 KB with …[truncated]', async () => {
    const r = await run('fake__big', {});
    expect(r.ok).toBe(true);
    expect(r.content.endsWith(TRUNCATED_MARK)).toBe(true);
    expect(new TextEncoder().encode(r.content).length).toBeLessThanOrEqual(MAX_RESULT_BYTES);
    expect(new TextEncoder().encode(r.content).length).toBeGreaterThan(MAX_RESULT_BYTES - 100);
    expect(r.summary).toBe('fake__big returned 5.0 MB');
  });

  test('{{user_id}} and ${VAR} in arguments reach the server literally', async () => {
    const text = 'id={{user_id}} key=${OPENAI_API_KEY} home=${HOME} mail={{user_email}}';
    expect((await run('fake__echo', { text })).content).toBe(text);
    expect((await run('who__echo', { text })).content).toBe(text);
  });

  test("each user's calls carry that user's identity in the header templates", async () => {
    const a = await run('who__whoami', {}, userA);
    const b = await run('who__whoami', {}, userB);
    expect(JSON.parse(a.content)).toEqual({ user_id: userA.id, user_email: userA.email });
    expect(JSON.parse(b.content)).toEqual({ user_id: userB.id, user_email: userB.email });
    const calls = http.requests.filter((r) => r.rpc === 'tools/call' && r.tool === 'whoami');
    expect(calls.map((r) => r.headers['x-user-id'])).toEqual([userA.id, userB.id]);
    // Every request of a session, from initialize on, carries one identity, and ${WHO_TOKEN} was expanded.
    const bySession = new Map<string, Set<string>>();
    for (const r of http.requests) {
      expect(r.headers.authorization).toBe('Bearer who-token-1');
      const sid = r.session ?? `init-${r.headers['x-user-id']}`;
      if (!bySession.has(sid)) bySession.set(sid, new Set());
      bySession.get(sid)!.add(r.headers['x-user-id']!);
    }
    for (const ids of bySession.values()) expect(ids.size).toBe(1);
    expect(http.sessions()).toBe(2);
  });

  test('a changed tool list is picked up (notifications/tools/list_changed)', async () => {
    expect((await mcp.tools(userA)).some((t) => t.name === 'fake__late')).toBe(false);
    expect((await run('fake__add_tool', {})).content).toBe('added');
    await eventually(async () =>
      (await mcp.tools(userA)).some((t) => t.name === 'fake__late') ? true : undefined,
    );
    await registry.all(userA);
    expect(await run('fake__late', {})).toMatchObject({ ok: true, content: 'late tool ran' });
  });

  test('a crashed server: its tools vanish, the call is an outcome, and it is started again after 1 s', async () => {
    const startsBefore = pidsOf(events).length;
    const r = await run('fake__crash', {});
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.content).error).toContain('Connection closed');
    const crashedAt = Date.now();
    expect(mcp.status().find((x) => x.name === 'fake')).toEqual({
      name: 'fake',
      transport: 'stdio',
      state: 'error',
      error: 'the server process exited',
      tools: 0,
    });
    expect((await mcp.tools(userA)).some((t) => t.server === 'fake')).toBe(false);
    const down = await run('fake__echo', { text: 'x' });
    expect(down.ok).toBe(false);
    expect(JSON.parse(down.content).error).toContain('unavailable');
    // Restarted by itself, without anyone asking, after the first pause.
    await eventually(
      async () => (mcp.status().find((x) => x.name === 'fake')?.state === 'connected' ? true : undefined),
      10_000,
    );
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(900);
    expect(pidsOf(events).length).toBe(startsBefore + 1);
    const line = logs
      .map((l) => JSON.parse(l))
      .find((l) => l.server === 'fake' && l.msg === 'MCP server unavailable');
    expect(line).toMatchObject({ error: 'the server process exited', retry_in_ms: 1000 });
    await registry.all(userA);
    expect((await run('fake__echo', { text: 'back' })).content).toBe('back');
  });

  test('close() ends every child process', async () => {
    const extra = new McpTools(
      parseMcpServers(
        {
          mcpServers: {
            one: {
              command: process.execPath,
              args: [FAKE],
              env: { MCP_FAKE_EVENTS: join(work, 'close.events') },
            },
          },
        },
        {},
      ),
      log,
    );
    expect((await extra.tools(userA)).length).toBe(6);
    const [pid] = pidsOf(join(work, 'close.events'));
    expect(alive(pid!)).toBe(true);
    await extra.close();
    await eventually(async () => (!alive(pid!) ? true : undefined), 5000);
    expect(await extra.tools(userA)).toEqual([]);
  });
});

describe('an HTTP server that answers with errors', () => {
  test('its tools are absent, its state is error, and chats during the pause do not hit it again', async () => {
    let hits = 0;
    const down = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch() {
        hits++;
        return new Response('maintenance', { status: 503 });
      },
    });
    const lines: string[] = [];
    const mcp = new McpTools(
      parseMcpServers({ mcpServers: { down: { url: `http://127.0.0.1:${down.port}/mcp` } } }, {}),
      createLogger({ service: 'chat', level: 'debug', json: true, sink: (l) => lines.push(l) }),
    );
    try {
      expect(await mcp.tools(userA)).toEqual([]);
      const [st] = mcp.status();
      expect(st).toMatchObject({ name: 'down', transport: 'http', state: 'error', tools: 0 });
      expect(st!.error).toContain('503');
      const afterFirst = hits;
      expect(afterFirst).toBeGreaterThan(0);
      for (let i = 0; i < 5; i++) expect(await mcp.tools(userA)).toEqual([]);
      const r = await mcp.run('down__anything', '{}', ctxOf(userA));
      expect(r.ok).toBe(false);
      expect(JSON.parse(r.content).error).toContain('unavailable');
      expect(hits).toBe(afterFirst);
      expect(lines.filter((l) => l.includes('MCP server unavailable')).length).toBe(1);
      // After the first pause the next chat tries again, and the pause doubles.
      await Bun.sleep(1100);
      expect(await mcp.tools(userA)).toEqual([]);
      expect(hits).toBeGreaterThan(afterFirst);
      const logged = lines.filter((l) => l.includes('MCP server unavailable')).map((l) => JSON.parse(l));
      expect(logged.map((l) => l.retry_in_ms)).toEqual([1000, 2000]);
    } finally {
      await mcp.close();
      down.stop(true);
    }
  });
});

describe("Gaia's own KB MCP server as a configured HTTP server", () => {
  let s: StackHandle;
  let mcp: McpTools;

  beforeAll(async () => {
    s = await startStack();
    const w = await s.dev('/api/v0.2/kb/write', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        path: 'lore/+lore.md',
        content: '# Lore\nThe griffin nests here.\n',
        message: 'seed',
      }),
    });
    expect(w.status).toBeLessThan(300);
    mcp = new McpTools(
      parseMcpServers(
        { mcpServers: { kb: { url: `${s.url}/api/v1/kb/mcp`, headers: { 'x-api-key': '${GAIA_KEY}' } } } },
        { GAIA_KEY: DEV_API_KEY },
      ),
      createLogger({ service: 'chat', level: 'error', json: true, sink: () => {} }),
    );
  });

  afterAll(async () => {
    await mcp?.close();
    await s?.stop();
  });

  test('its tools are listed as kb__* and a call reads a file', async () => {
    const tools = await mcp.tools(userA);
    const names = tools.map((t) => t.name);
    expect(names).toContain('kb__search_kb');
    expect(names).toContain('kb__read_file');
    expect(tools.every((t) => t.server === 'kb' && t.source === 'mcp')).toBe(true);
    const r = await mcp.run('kb__read_file', JSON.stringify({ path: 'lore/+lore.md' }), ctxOf(userA));
    expect(r.ok).toBe(true);
    expect(r.content).toContain('The griffin nests here.');
    const miss = await mcp.run('kb__read_file', JSON.stringify({ path: 'lore/none.md' }), ctxOf(userA));
    expect(miss.ok).toBe(false);
    expect(mcp.status()).toEqual([
      { name: 'kb', transport: 'http', state: 'connected', error: null, tools: names.length },
    ]);
  });
});
