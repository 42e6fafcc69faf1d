/**
 * A persona's `tools` list and the tool calls stored with assistant messages, through the chat service's
 * routes (`createChatApp(deps).handle(request)` with a signed identity) on every configured database:
 * create, update, validation that changes nothing, the JSON every persona route returns, and
 * `GET /api/v1/conversations/{id}/messages` showing `tool_calls` only where some ran.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { type Db, openDb } from '../../db/index.ts';
import { createChatApp } from '../../services/chat/app.ts';
import { ConversationStore, type StoredToolCall } from '../../services/chat/conversations/service.ts';
import { PersonaStore } from '../../services/chat/personas/service.ts';
import { MemoryBus } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config.ts';
import { type Identity, signIdentity } from '../../src/http/identity.ts';
import { silentLogger } from '../../src/log.ts';
import { dbOptions, dropTestDatabases, testBackends } from '../support/backends.ts';

const DEV = '00000000-0000-4000-8000-000000000001';
const MU = '00000000-0000-4000-8000-000000000003';

const dirs: string[] = [];
afterAll(async () => {
  await dropTestDatabases();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface CallInit {
  method?: string;
  body?: unknown;
  user?: string;
  admin?: boolean;
}

async function harness(url: string) {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-persona-tools-'));
  dirs.push(dir);
  const config = loadConfig({ GAIA_ENV: 'test', GAIA_DATA_DIR: dir });
  const db = await openDb(dbOptions(url, { seedDev: true }));
  const app = createChatApp({ config, db, bus: new MemoryBus(), log: silentLogger, clients: {} });
  const json = async (path: string, init: CallInit = {}) => {
    const identity: Identity = {
      auth_type: 'jwt',
      sub: init.user ?? DEV,
      email: 'someone@example.com',
      name: 'Someone',
      admin: init.admin ?? false,
      rid: 'req-12345678',
      ip: '127.0.0.1',
    };
    const headers = new Headers({ 'x-gaia-identity': await signIdentity(config.internalSecret, identity) });
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    if (body !== undefined) headers.set('content-type', 'application/json');
    const res = await app.handle(
      new Request(`http://chat.internal${path}`, {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
      }),
    );
    const text = await res.text();
    return { status: res.status, text, body: text ? JSON.parse(text) : null };
  };
  return { db, json };
}

type H = Awaited<ReturnType<typeof harness>>;

const base = (name: string) => ({ name, description: 'd', system_prompt: 'You help.\n\n{tools_section}' });

async function allPersonas(h: H): Promise<any[]> {
  return (await h.json('/api/v0.2/personas?active_only=false')).body.personas;
}

async function storedTools(db: Db, id: string): Promise<unknown> {
  return (await new PersonaStore(db).require(id)).tools;
}

for (const backend of testBackends()) {
  describe(`persona tools on ${backend.name}`, () => {
    let h: H;
    const ready = (async () => {
      h = await harness(await backend.databaseUrl());
    })();
    afterAll(async () => {
      await ready;
      await h.db.close();
    });

    test('create keeps the list, [] and null apart, and every persona route shows `tools`', async () => {
      await ready;
      const list = ['kb:*', 'github__*', 'asset:generate', 'agent:*', 'search_knowledge_base', 'a-b_c'];
      const withList = await h.json('/api/v0.2/personas', { body: { ...base('Toolful'), tools: list } });
      expect(withList.status).toBe(200);
      expect(withList.body.message).toBe('Persona created successfully');
      expect(withList.body.persona.tools).toEqual(list);
      // `tools` sits with the other editable fields, before the bookkeeping ones.
      const keys = Object.keys(withList.body.persona);
      expect(keys.indexOf('tools')).toBe(keys.indexOf('preferred_model') + 1);

      const none = await h.json('/api/v1/chat/personas', { body: { ...base('Toolless'), tools: [] } });
      expect(none.status).toBe(200);
      expect(none.body.persona.tools).toEqual([]);
      const absent = await h.json('/api/v0.2/personas', { body: base('Default tools') });
      expect(absent.body.persona.tools).toBeNull();
      expect(Object.hasOwn(absent.body.persona, 'tools')).toBe(true);
      const explicitNull = await h.json('/api/v0.2/personas', {
        body: { ...base('Null tools'), tools: null },
      });
      expect(explicitNull.body.persona.tools).toBeNull();

      // Read back from the database, through each route that returns personas.
      expect(await storedTools(h.db, withList.body.persona.id)).toEqual(list);
      expect(await storedTools(h.db, none.body.persona.id)).toEqual([]);
      expect(await storedTools(h.db, absent.body.persona.id)).toBeNull();
      const one = await h.json(`/api/v0.2/personas/${none.body.persona.id}`);
      expect(one.body.persona.tools).toEqual([]);
      for (const path of ['/api/v0.2/personas', '/api/v1/chat/personas']) {
        const personas = (await h.json(path)).body.personas as any[];
        for (const p of personas) expect(Object.hasOwn(p, 'tools')).toBe(true);
        const byName = Object.fromEntries(personas.map((p) => [p.name, p.tools]));
        expect(byName.Toolful).toEqual(list);
        expect(byName.Toolless).toEqual([]);
        expect(byName['Default tools']).toBeNull();
        expect(byName.Mu).toBeNull();
      }
      const set = await h.json('/api/v0.2/personas/set', { body: { persona_id: withList.body.persona.id } });
      expect(set.status).toBe(200);
      expect((await h.json('/api/v0.2/personas/current')).body.persona.tools).toEqual(list);
      // What the chat engine reads for the turn.
      expect((await new PersonaStore(h.db).forChat(DEV, undefined)).tools).toEqual(list);
      expect((await new PersonaStore(h.db).forChat(DEV, none.body.persona.id)).tools).toEqual([]);
    });

    test('the seeded Mu and the default persona have no list', async () => {
      await ready;
      const user = crypto.randomUUID();
      const current = await h.json('/api/v0.2/personas/current', { user });
      expect(current.body.persona.id).toBe(MU);
      expect(current.body.persona.tools).toBeNull();
      const init = await h.json('/api/v0.2/personas/initialize-default', { method: 'POST', user });
      expect(init.body.was_created).toBe(false);
      expect(init.body.persona.tools).toBeNull();
      expect(await storedTools(h.db, MU)).toBeNull();
    });

    test('PUT replaces the list, clears it to [] or null, and leaves it alone when absent', async () => {
      await ready;
      const created = await h.json('/api/v0.2/personas', { body: { ...base('Editable'), tools: ['kb:*'] } });
      const id = created.body.persona.id as string;
      const put = (body: unknown) => h.json(`/api/v0.2/personas/${id}`, { method: 'PUT', body });

      const replaced = await put({ tools: ['github__*', 'kb:*'] });
      expect(replaced.status).toBe(200);
      expect(replaced.body.message).toBe('Persona updated successfully');
      expect(replaced.body.persona.tools).toEqual(['github__*', 'kb:*']);
      expect(await storedTools(h.db, id)).toEqual(['github__*', 'kb:*']);

      const untouched = await put({ description: 'new words' });
      expect(untouched.body.persona.tools).toEqual(['github__*', 'kb:*']);
      expect(await storedTools(h.db, id)).toEqual(['github__*', 'kb:*']);

      expect((await put({ tools: [] })).body.persona.tools).toEqual([]);
      expect(await storedTools(h.db, id)).toEqual([]);
      expect((await put({ tools: null })).body.persona.tools).toBeNull();
      expect(await storedTools(h.db, id)).toBeNull();
      expect((await h.json(`/api/v0.2/personas/${id}`)).body.persona.tools).toBeNull();

      // Only the creator or an admin may change a persona's tools; Mu only an admin.
      const stranger = await h.json(`/api/v0.2/personas/${id}`, {
        method: 'PUT',
        user: crypto.randomUUID(),
        body: { tools: ['agent:*'] },
      });
      expect(stranger.status).toBe(403);
      expect(await storedTools(h.db, id)).toBeNull();
      const muByUser = await h.json(`/api/v0.2/personas/${MU}`, { method: 'PUT', body: { tools: [] } });
      expect(muByUser.status).toBe(403);
      const muByAdmin = await h.json(`/api/v0.2/personas/${MU}`, {
        method: 'PUT',
        admin: true,
        body: { tools: ['kb:*'] },
      });
      expect(muByAdmin.body.persona.tools).toEqual(['kb:*']);
      const back = await h.json(`/api/v0.2/personas/${MU}`, {
        method: 'PUT',
        admin: true,
        body: { tools: null },
      });
      expect(back.body.persona.tools).toBeNull();
    });

    const tooLong = 'x'.repeat(129);
    const bad: Array<[string, unknown, string, string]> = [
      ['a string', 'kb:*', 'tools', 'Expected an array of strings or null'],
      ['an object', { kb: true }, 'tools', 'Expected an array of strings or null'],
      [
        '65 entries',
        Array.from({ length: 65 }, (_, i) => `tool_${i}`),
        'tools',
        'Must have at most 64 entries',
      ],
      ['a number entry', ['kb:*', 5], 'tools.1', 'Expected a string'],
      ['a null entry', [null], 'tools.0', 'Expected a string'],
      ['an empty entry', ['kb:*', 'asset:generate', ''], 'tools.2', 'Must be 1 to 128 characters'],
      ['a 129-character entry', [tooLong], 'tools.0', 'Must be 1 to 128 characters'],
      ['a slash', ['kb/*'], 'tools.0', 'May only contain letters, digits, "_", ":", "*" and "-"'],
      ['a space', ['kb :*'], 'tools.0', 'May only contain letters, digits, "_", ":", "*" and "-"'],
      [
        'markup',
        ['<script>alert(1)</script>'],
        'tools.0',
        'May only contain letters, digits, "_", ":", "*" and "-"',
      ],
      ['a non-ASCII letter', ['café'], 'tools.0', 'May only contain letters, digits, "_", ":", "*" and "-"'],
    ];

    test('64 entries of 128 characters are accepted', async () => {
      await ready;
      const most = Array.from({ length: 64 }, (_, i) => `${String(i).padStart(2, '0')}${'y'.repeat(126)}`);
      const res = await h.json('/api/v0.2/personas', { body: { ...base('Maximal'), tools: most } });
      expect(res.status).toBe(200);
      expect(res.body.persona.tools).toEqual(most);
      expect(await storedTools(h.db, res.body.persona.id)).toEqual(most);
    });

    test('bad `tools` on create is a 422 naming the entry, without echoing it, and creates nothing', async () => {
      await ready;
      for (const [what, tools, path, message] of bad) {
        const before = (await allPersonas(h)).length;
        const name = `Bad ${what}`;
        for (const route of ['/api/v0.2/personas', '/api/v1/chat/personas']) {
          const res = await h.json(route, { body: { ...base(name), tools } });
          expect(res.status, `${what} on ${route}`).toBe(422);
          expect(res.body).toEqual({ detail: 'Invalid request body', errors: [{ path, message }] });
          expect(res.text).not.toContain('script');
          expect(res.text).not.toContain(tooLong);
        }
        const after = await allPersonas(h);
        expect(after.length, what).toBe(before);
        expect(after.some((p) => p.name === name)).toBe(false);
      }
    });

    test('bad `tools` on update is a 422 and changes no field of the persona', async () => {
      await ready;
      const created = await h.json('/api/v0.2/personas', { body: { ...base('Guarded'), tools: ['kb:*'] } });
      const id = created.body.persona.id as string;
      const stored = await new PersonaStore(h.db).require(id);
      for (const [what, tools, path, message] of bad) {
        const res = await h.json(`/api/v0.2/personas/${id}`, {
          method: 'PUT',
          body: { name: 'Renamed', description: 'changed', tools },
        });
        expect(res.status, what).toBe(422);
        expect(res.body.errors).toEqual([{ path, message }]);
      }
      expect(await new PersonaStore(h.db).require(id)).toEqual(stored);
    });
  });

  describe(`stored tool calls on ${backend.name}`, () => {
    let h: H;
    const ready = (async () => {
      h = await harness(await backend.databaseUrl());
    })();
    afterAll(async () => {
      await ready;
      await h.db.close();
    });

    const calls: StoredToolCall[] = [
      {
        id: 'call_abc123',
        name: 'search_knowledge_base',
        arguments: { query: 'dragons', limit: 3 },
        ok: true,
        summary: '3 results',
        duration_ms: 12,
        result: '1. dragons.md\n2. lore/wyrms.md\n3. maps/caves.md',
      },
      {
        id: 'call_def456',
        name: 'github__get_issue',
        arguments: 'not json {',
        ok: false,
        summary: 'error: timed out',
        duration_ms: 30000,
        result: 'Error: the tool did not answer in time',
      },
    ];

    const messagesOf = async (conv: string) => {
      const res = await h.json(`/api/v1/conversations/${conv}/messages`);
      expect(res.status).toBe(200);
      return res.body.messages as any[];
    };

    const base = (conversationId: string) => ({
      conversationId,
      userId: DEV,
      status: 'complete' as const,
      finishReason: 'stop',
      model: 'gpt-4o-mini',
      provider: 'openai',
      personaId: null,
      inputTokens: 10,
      outputTokens: 5,
      tokensUsed: 15,
      costUsd: 0.0001,
    });

    test('an assistant message shows its calls in order; other messages keep their usual shape', async () => {
      await ready;
      const store = new ConversationStore(h.db);
      const { conversation } = await store.startConversation(DEV, 'Dragons', {
        ...base(''),
        role: 'user',
        content: 'Tell me about dragons',
        finishReason: null,
        model: null,
        provider: null,
        inputTokens: null,
        outputTokens: null,
        tokensUsed: null,
        costUsd: null,
      });
      await store.insertMessage(
        { ...base(conversation.id), role: 'assistant', content: 'Here.', toolCalls: calls },
        2,
      );
      await store.insertMessage(
        { ...base(conversation.id), role: 'assistant', content: 'Plain.', toolCalls: null },
        3,
      );
      await store.insertMessage(
        { ...base(conversation.id), role: 'assistant', content: 'Empty.', toolCalls: [] },
        4,
      );

      const msgs = await messagesOf(conversation.id);
      expect(msgs.map((m) => m.content)).toEqual(['Tell me about dragons', 'Here.', 'Plain.', 'Empty.']);
      expect(msgs[1].tool_calls).toEqual(calls);
      const usual = ['id', 'role', 'content', 'model', 'provider', 'tokens_used', 'created_at', 'status'];
      expect(Object.keys(msgs[1])).toEqual([...usual, 'tool_calls']);
      for (const i of [0, 2, 3]) expect(Object.keys(msgs[i])).toEqual(usual);

      // Messages without calls hold SQL NULL, not the JSON text `null`, so the column means one thing.
      const nulls = await h.db.all<{ n: number | string }>(
        sql`SELECT count(*) AS n FROM chat_messages WHERE conversation_id = ${conversation.id} AND tool_calls IS NULL`,
      );
      expect(Number(nulls[0]!.n)).toBe(3);
    });

    test('a message that lost its seq to another writer keeps its calls', async () => {
      await ready;
      const store = new ConversationStore(h.db);
      const conv = await store.create(DEV, 'Race');
      await store.insertMessage(
        { ...base(conv.id), role: 'assistant', content: 'first', toolCalls: null },
        1,
      );
      // Seq 1 is taken, so this goes through the fallback that picks the next free number.
      const row = await store.insertMessage(
        { ...base(conv.id), role: 'assistant', content: 'second', toolCalls: [calls[0]!] },
        1,
      );
      expect(row.seq).toBe(2);
      expect(row.toolCalls).toEqual([calls[0]!]);
      const msgs = await messagesOf(conv.id);
      expect(msgs.map((m) => m.content)).toEqual(['first', 'second']);
      expect(msgs[1].tool_calls).toEqual([calls[0]]);
      expect(Object.hasOwn(msgs[0], 'tool_calls')).toBe(false);
    });

    test("another user's conversation stays 404, calls included", async () => {
      await ready;
      const store = new ConversationStore(h.db);
      const conv = await store.create(DEV, 'Mine');
      await store.insertMessage(
        { ...base(conv.id), role: 'assistant', content: 'secret', toolCalls: calls },
        1,
      );
      const other = await h.json(`/api/v1/conversations/${conv.id}/messages`, { user: crypto.randomUUID() });
      expect(other.status).toBe(404);
      expect(other.text).not.toContain('call_abc123');
    });
  });
}
