/**
 * The chat service app on its own (no gateway): `createChatApp(deps).handle(request)` with a signed identity,
 * SQLite in memory, the in-process bus, and the provider fakes. Covers the pipeline, every family's shapes
 * and SSE framing, conversations, personas, models, and the edge cases of spec/chat.md §8.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { type Db, openDb } from '../../db/index.ts';
import { createChatApp } from '../../services/chat/app.ts';
import { applyToolsSection, DIRECTIVE_BLOCK, toolsSection } from '../../services/chat/engine/prompt.ts';
import { MemoryBus } from '../../src/bus/index.ts';
import type { BusMessage } from '../../src/bus/types.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { type Identity, signIdentity } from '../../src/http/identity.ts';
import { silentLogger } from '../../src/log.ts';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { createGate, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';

const DEV = '00000000-0000-4000-8000-000000000001';
const MU = '00000000-0000-4000-8000-000000000003';

interface Harness {
  config: Config;
  db: Db;
  bus: MemoryBus;
  events: BusMessage[];
  app: ReturnType<typeof createChatApp>;
  call(
    path: string,
    init?: {
      method?: string;
      body?: unknown;
      raw?: BodyInit;
      user?: string;
      admin?: boolean;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    },
  ): Promise<Response>;
  json(
    path: string,
    init?: Parameters<Harness['call']>[1],
  ): Promise<{ status: number; body: any; res: Response }>;
  close(): Promise<void>;
}

const dirs: string[] = [];

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-chat-unit-'));
  dirs.push(dir);
  const config = loadConfig({ GAIA_ENV: 'test', GAIA_DATA_DIR: dir, ...env });
  const db = await openDb({
    url: 'sqlite::memory:',
    kind: 'sqlite',
    sqlitePath: join(dir, 'chat.db'),
    poolMax: 1,
    autoMigrate: true,
    seedDev: true,
    isProduction: false,
  });
  const bus = new MemoryBus();
  const events: BusMessage[] = [];
  bus.subscribe('gaia.chat.>', (m) => {
    events.push(m);
  });
  const app = createChatApp({ config, db, bus, log: silentLogger, clients: {} });
  const call: Harness['call'] = async (path, init = {}) => {
    const identity: Identity = {
      auth_type: 'jwt',
      sub: init.user ?? DEV,
      email: 'someone@example.com',
      name: 'Someone',
      admin: init.admin ?? false,
      rid: 'req-12345678',
      ip: '127.0.0.1',
    };
    const headers = new Headers(init.headers);
    headers.set('x-gaia-identity', await signIdentity(config.internalSecret, identity));
    const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
    if (body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return app.handle(
      new Request(`http://chat.internal${path}`, {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
        signal: init.signal,
      }),
    );
  };
  return {
    config,
    db,
    bus,
    events,
    app,
    call,
    async json(path, init) {
      const res = await call(path, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, res };
    },
    async close() {
      await db.close();
    },
  };
}

async function addUser(db: Db, id = crypto.randomUUID()): Promise<string> {
  const now = new Date();
  await db.orm
    .insert(db.t.users)
    .values({ id, email: `${id}@example.com`, name: 'U', createdAt: now, updatedAt: now });
  return id;
}

/** Splits an SSE body into its `data:` payloads and comment lines, asserting the framing on the way. */
function events(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      expect(e.includes('\n')).toBe(false);
      return e;
    });
}

const payloads = (text: string) =>
  events(text)
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('offline (local provider)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ LOCAL_LLM_FAULTS: 'true' });
  });
  afterAll(() => h.close());

  test('unified chat creates a conversation, stores both messages, answers the OpenAI shape', async () => {
    const { status, body } = await h.json('/api/v1/chat', { body: { message: 'What is 2+2?' } });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', '_metadata']);
    expect(body.id).toMatch(/^chat-[0-9a-f-]{36}$/);
    expect(body.model).toBe('gaia-local');
    expect(body.choices[0].message.content).toBe(
      '[gaia-local] Offline reply from Mu (no language model is configured). Turn 1. You said: "What is 2+2?"',
    );
    expect(body.choices[0].finish_reason).toBe('stop');
    expect(Object.keys(body.usage)).toEqual([
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'input_tokens',
      'output_tokens',
    ]);
    const meta = body._metadata;
    expect(Object.keys(meta)).toEqual([
      'route_type',
      'routing_time_ms',
      'llm_time_ms',
      'total_time_ms',
      'request_id',
      'conversation_id',
      'message_id',
      'provider',
      'model',
      'persona_id',
      'fallback_used',
      'cost_usd',
    ]);
    expect(meta).toMatchObject({
      route_type: 'direct',
      routing_time_ms: 0,
      provider: 'local',
      persona_id: MU,
      fallback_used: false,
      cost_usd: 0,
    });
    expect(meta.request_id).toBe(body.id);

    const conv = await h.json(`/api/v1/conversations/${meta.conversation_id}`);
    expect(conv.body.title).toBe('What is 2+2?');
    expect(conv.body.preview).toBe(body.choices[0].message.content.slice(0, 100));
    const msgs = await h.json(`/api/v1/conversations/${meta.conversation_id}/messages`);
    expect(msgs.body.messages.map((m: any) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(msgs.body.messages[1].id).toBe(meta.message_id);
    expect(msgs.body.messages[1].tokens_used).toBe(body.usage.total_tokens);

    // Second turn carries history: Turn 2.
    const second = await h.json('/api/v1/chat', {
      body: { message: 'And 3+3?', conversation_id: meta.conversation_id },
    });
    expect(second.body.choices[0].message.content).toContain('Turn 2. You said: "And 3+3?"');

    const created = h.events.filter((e) => e.subject === 'gaia.chat.message.created');
    expect(created.length).toBeGreaterThanOrEqual(4);
    expect(Object.keys(created[0]!.data).sort()).toEqual(
      [
        'conversation_id',
        'message_id',
        'model',
        'provider',
        'role',
        'status',
        'timestamp',
        'tokens_used',
        'user_id',
      ].sort(),
    );
    expect(JSON.stringify(created)).not.toContain('What is 2+2?');
  });

  test('v0.3 format by header or body field', async () => {
    const byHeader = await h.json('/api/v1/chat', {
      body: { message: 'hi' },
      headers: { 'X-Response-Format': 'V0.3' },
    });
    expect(Object.keys(byHeader.body)).toEqual(['response', 'message', 'conversation_id', '_metadata']);
    const byBody = await h.json('/api/v1/chat', { body: { message: 'hi', response_format: 'v0.3' } });
    expect(byBody.body.response).toContain('[gaia-local]');
    const xml = await h.json('/api/v1/chat', {
      body: { message: 'hi' },
      headers: { 'X-Response-Format': 'xml' },
    });
    expect(xml.body.object).toBe('chat.completion');
    const objectFormat = await h.json('/api/v1/chat', {
      body: { message: 'hi', response_format: { type: 'json_object' } },
    });
    expect(objectFormat.body.object).toBe('chat.completion');
  });

  test('messages form: the last user entry wins, text parts are joined', async () => {
    const { body } = await h.json('/api/v1/chat', {
      body: {
        message: 'ignored',
        messages: [
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'x' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'last ' },
              { type: 'text', text: 'one' },
            ],
          },
        ],
      },
    });
    expect(body.choices[0].message.content).toContain('You said: "last one"');
  });

  test('v0.3 clean chat answers exactly {response, conversation_id}', async () => {
    const { status, body } = await h.json('/api/v0.3/chat', {
      body: { message: 'Hello, guardian', conversation_id: 'new' },
    });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['response', 'conversation_id']);
    expect(body.conversation_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('unified SSE: metadata first, chunks without a role chunk, final chunk, done, [DONE]', async () => {
    const res = await h.call('/api/v1/chat', { body: { message: 'Stream it', stream: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const text = await res.text();
    expect(text.startsWith('data: {"type": "metadata", "conversation_id": "')).toBe(true);
    const p = payloads(text);
    const meta = JSON.parse(p[0]!);
    expect(Object.keys(meta)).toEqual(['type', 'conversation_id', 'model', 'timestamp']);
    expect(meta.model).toBe('gaia-local');
    const chunks = p.slice(1, -3).map((x) => JSON.parse(x));
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(Object.keys(c)).toEqual(['id', 'object', 'created', 'model', 'choices']);
      expect(c.object).toBe('chat.completion.chunk');
      expect(Object.keys(c.choices[0].delta)).toEqual(['content']);
      expect(c.choices[0].finish_reason).toBeNull();
    }
    const final = JSON.parse(p.at(-3)!);
    expect(Object.keys(final)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', '_metadata']);
    expect(final.choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'stop' });
    expect(p.at(-2)).toBe('{"type": "done", "finish_reason": "stop"}');
    expect(p.at(-1)).toBe('[DONE]');
    // Python json.dumps separators.
    expect(p[1]).toContain('", "object": "chat.completion.chunk", "created": ');
    const answer = chunks.map((c) => c.choices[0].delta.content).join('');
    const msgs = await h.json(`/api/v1/conversations/${meta.conversation_id}/messages`);
    expect(msgs.body.messages[1].content).toBe(answer);
  });

  test('v0.3 SSE: metadata model is unified-chat; content events only carry type and content', async () => {
    const res = await h.call('/api/v0.3/chat', { body: { message: 'Café 😀', stream: true } });
    const text = await res.text();
    // Unity scans the first 256 bytes for conversation_id.
    const head = new TextDecoder().decode(new TextEncoder().encode(text).slice(0, 256));
    expect(head).toMatch(/^data: \{"type": "metadata", "conversation_id": "[0-9a-f-]{36}"/);
    const p = payloads(text);
    expect(JSON.parse(p[0]!).model).toBe('unified-chat');
    const contents = p.slice(1, -2);
    for (const c of contents) expect(Object.keys(JSON.parse(c))).toEqual(['type', 'content']);
    expect(text).toContain('Caf\\u00e9 ');
    expect(text).toContain('\\ud83d\\ude00');
    expect(/[^\x00-\x7f]/.test(text)).toBe(false);
    expect(p.at(-2)).toBe('{"type": "done", "finish_reason": "stop"}');
    expect(p.at(-1)).toBe('[DONE]');
  });

  test('v0.2 SSE: chunks, one stop chunk with usage, one [DONE]', async () => {
    for (const [path, body] of [
      ['/api/v0.2/chat', { message: 'hey', stream: true }],
      ['/api/v0.2/chat/stream', { message: 'hey' }],
    ] as const) {
      const text = await (await h.call(path, { body })).text();
      const p = payloads(text);
      expect(p.filter((x) => x === '[DONE]').length).toBe(1);
      expect(p.at(-1)).toBe('[DONE]');
      const stop = JSON.parse(p.at(-2)!);
      expect(stop.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
      expect(stop.choices[0].finish_reason).toBe('stop');
      expect(Object.keys(stop.usage)).toEqual([
        'prompt_tokens',
        'completion_tokens',
        'total_tokens',
        'input_tokens',
        'output_tokens',
      ]);
      const stops = p.filter((x) => x.includes('"finish_reason": "stop"'));
      expect(stops.length).toBe(1);
    }
  });

  test('v0.2 ChatResponse shape and session history', async () => {
    const user = await addUser(h.db);
    const { body } = await h.json('/api/v0.2/chat', { body: { message: 'Hello!' }, user });
    expect(Object.keys(body)).toEqual([
      'response',
      'provider',
      'model',
      'usage',
      'response_time_ms',
      'reasoning',
      'fallback_used',
      'cost_usd',
    ]);
    expect(body.reasoning).toBe('Default model: gaia-local');
    const second = await h.json('/api/v0.2/chat', { body: { message: 'Again' }, user });
    expect(second.body.response).toContain('Turn 2.');
    expect((await h.json('/api/v0.2/chat/status', { user })).body).toEqual({
      message_count: 4,
      has_history: true,
      api_version: '0.2',
    });
    expect((await h.json('/api/v1/chat/status', { user })).body).toEqual({
      message_count: 4,
      has_history: true,
    });
    expect((await h.json('/api/v1/chat/history', { method: 'DELETE', user })).body).toEqual({
      status: 'success',
      cleared: ['memory'],
    });
    expect((await h.json('/api/v0.2/chat/status', { user })).body.message_count).toBe(0);
    expect((await h.json('/api/v0.2/chat/reload-prompt', { method: 'POST', user })).body).toEqual({
      status: 'success',
      message: 'System prompt reloaded successfully',
      api_version: '0.2',
    });
    // Session history never touches the conversation tables.
    const convs = await h.json('/api/v1/conversations', { user });
    expect(convs.body.conversations).toEqual([]);
  });

  test('legacy variants answer their shapes', async () => {
    const user = await addUser(h.db);
    const direct = await h.json('/api/v1/chat/direct', { body: { message: 'a' }, user });
    expect(Object.keys(direct.body)).toEqual([
      'id',
      'object',
      'created',
      'model',
      'choices',
      'usage',
      '_response_time_ms',
    ]);
    const agent = await h.json('/api/v1/chat/mcp-agent', { body: { message: 'b' }, user });
    expect(Object.keys(agent.body)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    const orch = await h.json('/api/v1/chat/orchestrated', { body: { message: 'c' }, user });
    expect(orch.body._metadata.conversation_id).toBeUndefined();
    expect(orch.body._metadata.route_type).toBe('direct');
    const db1 = await h.json('/api/v1/chat/direct-db', { body: { message: 'd' }, user });
    expect(db1.body.conversation_id).toMatch(/^[0-9a-f-]{36}$/);
    const db2 = await h.json(`/api/v1/chat/direct-db?conversation_id=${db1.body.conversation_id}`, {
      body: { message: 'e' },
      user,
    });
    expect(db2.body.choices[0].message.content).toContain('Turn 2.');
    const gm = await h.json('/api/v1/chat/gamemaster', { body: { message: 'f' }, user });
    expect(gm.body._scenario).toEqual({ scenario_type: 'gamemaster', mode: 'single_model' });
    const uf = await h.json('/api/v1/chat/ultrafast', { body: { message: 'g' }, user });
    expect(Object.keys(uf.body)).toEqual(['response', 'model', 'response_time_ms']);
    const ufr = await h.json('/api/v1/chat/ultrafast-redis-v2', { body: { message: 'h' }, user });
    expect(Object.keys(ufr.body)).toEqual([
      'response',
      'model',
      'response_time_ms',
      'api_time_ms',
      'context_messages',
      'history_length',
    ]);
    expect(ufr.body.context_messages).toBeLessThanOrEqual(10);
    const missing = await h.json('/api/v1/chat/direct', { body: {}, user });
    expect(missing.status).toBe(422);
  });

  test('legacy /api/v1/chat/completions: message form and OpenAI messages form', async () => {
    const legacy = await h.json('/api/v1/chat/completions', { body: { message: 'hello' } });
    expect(legacy.body.provider).toBe('local');
    const oa = await h.json('/api/v1/chat/completions', {
      body: { messages: [{ role: 'user', content: 'Say hi' }] },
    });
    expect(oa.status).toBe(200);
    expect(oa.body.object).toBe('chat.completion');
    expect(oa.body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(oa.body.choices[0].logprobs).toBeNull();
    expect(Object.keys(oa.body.usage)).toEqual(['prompt_tokens', 'completion_tokens', 'total_tokens']);
  });

  test('/v1 models and completions, stream with include_usage', async () => {
    const models = await h.json('/v1/models');
    expect(models.body).toEqual({
      object: 'list',
      data: [{ id: 'gaia-local', object: 'model', created: 1764547200, owned_by: 'gaia' }],
    });
    expect((await h.json('/v1/models/gaia-local')).body.id).toBe('gaia-local');
    const missing = await h.json('/v1/models/gpt-9');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('model_not_found');
    const text = await (
      await h.call('/v1/chat/completions', {
        body: {
          model: 'gaia-local',
          messages: [{ role: 'user', content: 'Hi' }],
          stream: true,
          stream_options: { include_usage: true },
        },
      })
    ).text();
    const p = payloads(text);
    expect(JSON.parse(p[0]!).choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(p[0]).toContain('"usage": null');
    const usage = JSON.parse(p.at(-2)!);
    expect(usage.choices).toEqual([]);
    expect(Object.keys(usage.usage)).toEqual(['prompt_tokens', 'completion_tokens', 'total_tokens']);
    expect(JSON.parse(p.at(-3)!).choices[0].finish_reason).toBe('stop');
    expect(p.at(-1)).toBe('[DONE]');
  });

  test('/v1 validation: dual envelopes, 400s, unsupported parameters', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }, 404, 'model_not_found'],
      [{ model: 'gaia-local', messages: [] }, 400, 'invalid_value'],
      [
        { model: 'gaia-local', messages: [{ role: 'user', content: 'x' }], n: 2 },
        400,
        'unsupported_parameter',
      ],
      [
        {
          model: 'gaia-local',
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ type: 'function', function: { name: 'get_weather' } }],
        },
        400,
        'unsupported_parameter',
      ],
      [
        {
          model: 'gaia-local',
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }],
        },
        400,
        'unsupported_parameter',
      ],
      [{ model: 'gaia-local', messages: [{ role: 'tool', content: 'x' }] }, 400, 'invalid_value'],
      [{ messages: [{ role: 'user', content: 'x' }] }, 400, 'invalid_value'],
    ];
    for (const [body, status, code] of cases) {
      const r = await h.json('/v1/chat/completions', { body });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(r.body.detail).toBe(r.body.error.message);
      expect(r.body.error.type).toBe('invalid_request_error');
    }
  });

  test('/v1 sends the persona prompt only when persona_id is given, before the caller system', async () => {
    const without = await h.json('/v1/chat/completions', {
      body: {
        model: 'gaia-local',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'x' },
        ],
      },
    });
    expect(without.status).toBe(200);
    const unknown = await h.json('/v1/chat/completions', {
      body: {
        model: 'gaia-local',
        persona_id: crypto.randomUUID(),
        messages: [{ role: 'user', content: 'x' }],
      },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBeDefined();
  });

  test('§8 #1–#8 validation of chat bodies', async () => {
    const r1 = await h.json('/api/v1/chat', { body: {} });
    expect(r1.status).toBe(422);
    expect(r1.body).toEqual({
      detail: 'message is required',
      errors: [{ path: 'message', message: 'Required' }],
    });
    const r1b = await h.json('/api/v1/chat', { body: { messages: [{ role: 'assistant', content: 'x' }] } });
    expect(r1b.body.detail).toBe('message is required');
    for (const m of [undefined, null, '', '   ']) {
      const r = await h.json('/api/v0.3/chat', { body: m === undefined ? {} : { message: m } });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: 'Missing required field: message' });
    }
    expect((await h.json('/api/v0.3/chat', { body: { message: 42 } })).status).toBe(422);
    for (const path of [
      '/api/v1/chat',
      '/api/v0.2/chat',
      '/api/v1/chat/completions',
      '/api/v1/chat/direct',
    ]) {
      const blank = await h.json(path, { body: { message: '  ' } });
      expect(blank.status).toBe(422);
      expect(blank.body.detail).toBe('message must not be empty');
      expect((await h.json(path, { body: { message: 7 } })).status).toBe(422);
    }
    const small = await harness({ CHAT_MAX_MESSAGE_CHARS: '10' });
    const long = await small.json('/api/v1/chat', { body: { message: 'x'.repeat(11) } });
    expect(long.status).toBe(422);
    expect(long.body.detail).toBe('message is too long (max 10 characters)');
    await small.close();
    const bad = await h.json('/api/v1/chat', { raw: '{"message": ' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ detail: 'Invalid JSON body' });
    const arr = await h.json('/api/v1/chat', { raw: '[1]' });
    expect(arr.status).toBe(422);
    expect(arr.body.errors).toEqual([{ path: '', message: 'Expected a JSON object' }]);
    const notUtf8 = await h.json('/api/v1/chat', { raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) });
    expect(notUtf8.status).toBe(400);
    expect((await h.json('/api/v1/chat', { body: { message: 'a\u0000b' } })).status).toBe(422);
    expect((await h.json('/api/v1/chat', { body: { message: 'x', stream: 'false' } })).status).toBe(422);
    // No content-type at all: still JSON.
    const plain = await h.json('/api/v1/chat', {
      raw: '{"message":"hi"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(200);
  });

  test('§8 #7 lone surrogates become U+FFFD before storage', async () => {
    const { body } = await h.json('/api/v1/chat', { raw: '{"message":"a\\ud800b"}' });
    const msgs = await h.json(`/api/v1/conversations/${body._metadata.conversation_id}/messages`);
    expect(msgs.body.messages[0].content).toBe('a\ufffdb');
  });

  test('§8 #9 unknown, malformed, deleted and foreign conversations are 404 everywhere, nothing stored', async () => {
    const other = await addUser(h.db);
    const { body } = await h.json('/api/v1/chat', { body: { message: 'mine' } });
    const mine = body._metadata.conversation_id;
    const before = (await h.db.orm.select().from(h.db.t.chatMessages)).length;
    for (const id of [mine, 'not-a-uuid', crypto.randomUUID()]) {
      for (const [path, b] of [
        ['/api/v1/chat', { message: 'x', conversation_id: id }],
        ['/api/v1/chat', { message: 'x', conversation_id: id, stream: true }],
        ['/api/v0.3/chat', { message: 'x', conversation_id: id, stream: true }],
        ['/api/v0.2/chat', { message: 'x', conversation_id: id }],
        ['/api/v1/chat/direct-db', { message: 'x', conversation_id: id }],
      ] as const) {
        const r = await h.json(path, { body: b, user: other });
        expect(r.status).toBe(404);
        expect(r.body).toEqual({ detail: `Conversation ${id} not found` });
        expect(r.res.headers.get('content-type')).toContain('application/json');
      }
      for (const [method, suffix] of [
        ['GET', ''],
        ['GET', '/messages'],
        ['PUT', ''],
        ['DELETE', ''],
      ] as const) {
        const r = await h.json(`/api/v1/conversations/${id}${suffix}`, {
          method,
          user: other,
          ...(method === 'PUT' ? { body: { title: 'hijack' } } : {}),
        });
        expect(r.status).toBe(404);
      }
    }
    expect((await h.db.orm.select().from(h.db.t.chatMessages)).length).toBe(before);
    // Deleted: 404 for the owner too.
    expect((await h.call(`/api/v1/conversations/${mine}`, { method: 'DELETE' })).status).toBe(204);
    expect((await h.json('/api/v1/chat', { body: { message: 'x', conversation_id: mine } })).status).toBe(
      404,
    );
    expect((await h.call(`/api/v1/conversations/${mine}`, { method: 'DELETE' })).status).toBe(404);
  });

  test('§8 #10–#11 unknown model/provider per family', async () => {
    const v1 = await h.json('/api/v1/chat', { body: { message: 'x', model: 'gpt-9', provider: 'nope' } });
    expect(v1.status).toBe(200);
    expect(v1.body._metadata.warnings.length).toBe(2);
    const v03 = await h.json('/api/v0.3/chat', { body: { message: 'x', model: 'gpt-9' } });
    expect(v03.status).toBe(200);
    const v02 = await h.json('/api/v0.2/chat', { body: { message: 'x', model: 'gpt-9' } });
    expect(v02.status).toBe(400);
    expect(v02.body).toEqual({ detail: "Model 'gpt-9' is not available" });
    expect((await h.json('/api/v0.2/chat', { body: { message: 'x', provider: 'nope' } })).status).toBe(422);
    const gem = await h.json('/api/v0.2/chat', { body: { message: 'x', provider: 'gemini' } });
    expect(gem.body).toEqual({ detail: 'Provider gemini is not configured' });
    const soft = await h.json('/api/v0.2/chat', {
      body: { message: 'x', provider: 'gemini', force_provider: false },
    });
    expect(soft.status).toBe(200);
    const mismatch = await h.json('/api/v0.2/chat', {
      body: { message: 'x', provider: 'claude', model: 'gaia-local' },
    });
    expect(mismatch.status).toBe(400);
    const caps = await h.json('/api/v0.2/chat', {
      body: { message: 'x', required_capabilities: ['vision'] },
    });
    expect(caps.body).toEqual({ detail: 'No configured model has capabilities: vision' });
    expect((await h.json('/api/v0.2/chat', { body: { message: 'x', priority: 'fastest' } })).status).toBe(
      422,
    );
    const explicit = await h.json('/api/v0.2/chat', { body: { message: 'x', model: 'gaia-local' } });
    expect(explicit.body.reasoning).toBe('Explicit model selection: gaia-local');
    const prov = await h.json('/api/v0.2/chat', { body: { message: 'x', provider: 'local' } });
    expect(prov.body.reasoning).toBe('Provider default for local: gaia-local');
  });

  test('§8 #13 provider error before the first token: 502, user message kept, no assistant message', async () => {
    const { body } = await h.json('/api/v1/chat', { body: { message: 'start' } });
    const conv = body._metadata.conversation_id;
    const r = await h.json('/api/v1/chat', {
      body: { message: 'boom [[local:error]]', conversation_id: conv },
    });
    expect(r.status).toBe(502);
    expect(r.body).toEqual({ detail: 'Chat completion failed: provider returned HTTP 500' });
    const msgs = await h.json(`/api/v1/conversations/${conv}/messages`);
    expect(msgs.body.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    const usage = await h.db.orm
      .select()
      .from(h.db.t.llmUsage)
      .where(eq(h.db.t.llmUsage.conversationId, conv));
    expect(usage.map((u) => u.status).sort()).toEqual(['error', 'ok']);
    // Streaming: the family's error event and terminators.
    const text = await (
      await h.call('/api/v1/chat', {
        body: { message: '[[local:error]]', conversation_id: conv, stream: true },
      })
    ).text();
    const p = payloads(text);
    const err = JSON.parse(p.at(-3)!);
    expect(err.choices[0].finish_reason).toBe('error');
    expect(err.error).toEqual({
      message: 'The language model provider failed (HTTP 500).',
      type: 'provider_error',
    });
    expect(p.at(-2)).toBe('{"type": "done", "finish_reason": "error"}');
  });

  test('§8 #14 provider error mid-stream: error event, partial stored with provider_error', async () => {
    const text = await (
      await h.call('/api/v0.3/chat', { body: { message: 'x [[local:error-after-3]]', stream: true } })
    ).text();
    const p = payloads(text);
    const convId = JSON.parse(p[0]!).conversation_id;
    expect(p.slice(1, 4).every((x) => JSON.parse(x).type === 'content')).toBe(true);
    expect(JSON.parse(p.at(-3)!)).toEqual({
      type: 'error',
      error: { message: 'The language model provider failed (HTTP 500).', type: 'provider_error' },
    });
    expect(p.at(-2)).toBe('{"type": "done", "finish_reason": "error"}');
    const rows = await h.db.orm
      .select()
      .from(h.db.t.chatMessages)
      .where(eq(h.db.t.chatMessages.conversationId, convId));
    const assistant = rows.find((r) => r.role === 'assistant')!;
    expect(assistant.status).toBe('partial');
    expect(assistant.finishReason).toBe('provider_error');
    expect(assistant.content).toBe('[gaia-local] Offline reply ');
  });

  test('§8 #19 max_tokens reached: finish_reason length, stored complete', async () => {
    const { body } = await h.json('/api/v1/chat', { body: { message: 'long answer please', max_tokens: 3 } });
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.choices[0].message.content).toBe('[gaia-local]');
    const rows = await h.db.orm
      .select()
      .from(h.db.t.chatMessages)
      .where(eq(h.db.t.chatMessages.id, body._metadata.message_id));
    expect(rows[0]!.status).toBe('complete');
    expect(rows[0]!.finishReason).toBe('length');
  });

  test('§8 #20 two messages to one conversation are serialized in arrival order', async () => {
    const { body } = await h.json('/api/v1/chat', { body: { message: 'one' } });
    const conv = body._metadata.conversation_id;
    const [a, b] = await Promise.all([
      h.json('/api/v1/chat', { body: { message: 'two', conversation_id: conv } }),
      h.json('/api/v1/chat', { body: { message: 'three', conversation_id: conv } }),
    ]);
    expect(a.body.choices[0].message.content).toContain('Turn 2.');
    expect(b.body.choices[0].message.content).toContain('Turn 3.');
    const msgs = await h.json(`/api/v1/conversations/${conv}/messages`);
    expect(msgs.body.messages.map((m: any) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
  });

  test('§8 #20 lock timeout is a 409 before any stream starts', async () => {
    const slow = await harness({ LOCAL_LLM_FAULTS: 'true', CHAT_CONVERSATION_LOCK_TIMEOUT_MS: '50' });
    const { body } = await slow.json('/api/v1/chat', { body: { message: 'one' } });
    const conv = body._metadata.conversation_id;
    const ctl = new AbortController();
    const hanging = slow.call('/api/v1/chat', {
      body: { message: '[[local:hang]]', conversation_id: conv, stream: true },
      signal: ctl.signal,
    });
    const res = await hanging;
    const reader = res.body!.getReader();
    await reader.read();
    const busy = await slow.json('/api/v1/chat', {
      body: { message: 'two', conversation_id: conv, stream: true },
    });
    expect(busy.status).toBe(409);
    expect(busy.body).toEqual({ detail: `Conversation ${conv} is busy` });
    await reader.cancel();
    await slow.close();
  });

  test('§8 #16 client disconnect mid-stream: partial stored as client_disconnected, usage aborted', async () => {
    const slow = await harness({ LOCAL_LLM_DELAY_MS: '30' });
    const res = await slow.call('/api/v1/chat', { body: { message: 'please talk slowly', stream: true } });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let seen = '';
    while (!seen.includes('chat.completion.chunk')) seen += dec.decode((await reader.read()).value);
    const convId = /"conversation_id": "([0-9a-f-]{36})"/.exec(seen)![1]!;
    await reader.cancel();
    let assistant: any;
    for (let i = 0; i < 50 && !assistant; i++) {
      await Bun.sleep(20);
      const rows = await slow.db.orm
        .select()
        .from(slow.db.t.chatMessages)
        .where(eq(slow.db.t.chatMessages.conversationId, convId));
      assistant = rows.find((r) => r.role === 'assistant');
    }
    expect(assistant.status).toBe('partial');
    expect(assistant.finishReason).toBe('client_disconnected');
    expect(assistant.content.startsWith('[gaia-local]')).toBe(true);
    const usage = await slow.db.orm
      .select()
      .from(slow.db.t.llmUsage)
      .where(eq(slow.db.t.llmUsage.conversationId, convId));
    expect(usage.map((u) => u.status)).toEqual(['aborted']);
    await slow.close();
  });

  test('§8 #18 heartbeats after silence, never before the v0.3 metadata event', async () => {
    const slow = await harness({ LOCAL_LLM_DELAY_MS: '50', CHAT_HEARTBEAT_MS: '15' });
    const text = await (
      await slow.call('/api/v0.3/chat', { body: { message: 'a b c', stream: true } })
    ).text();
    expect(text.startsWith('data: {"type": "metadata"')).toBe(true);
    expect(text).toContain(': ping\n\n');
    await slow.close();
  });

  test('§8 #26 conversation list parameters and empty-body creates', async () => {
    const user = await addUser(h.db);
    for (const q of ['limit=0', 'offset=-1', 'limit=abc'])
      expect((await h.json(`/api/v1/conversations?${q}`, { user })).status).toBe(422);
    const clamp = await h.json('/api/v1/conversations?limit=9999', { user });
    expect(clamp.status).toBe(200);
    const created = await h.json('/api/v1/conversations', { method: 'POST', user });
    expect(created.status).toBe(201);
    expect(created.body.title).toBe('New Conversation');
    expect(Object.keys(created.body)).toEqual(['id', 'title', 'preview', 'created_at', 'updated_at']);
    const v03 = await h.json('/api/v0.3/conversations', { method: 'POST', user });
    expect(v03.status).toBe(201);
    expect(v03.body).toEqual({ conversation_id: v03.body.conversation_id, title: 'New Conversation' });
    // The untitled conversation takes its title from its first chat message.
    const chat = await h.json('/api/v0.3/chat', {
      body: { message: '  Tell me\n about   oaks  ', conversation_id: v03.body.conversation_id },
      user,
    });
    expect(chat.status).toBe(200);
    expect((await h.json(`/api/v1/conversations/${v03.body.conversation_id}`, { user })).body.title).toBe(
      'Tell me about oaks',
    );
  });

  test('conversations: rename locks the title, search is literal, stats, order', async () => {
    const user = await addUser(h.db);
    const a = (await h.json('/api/v1/conversations', { body: { title: ' Trip ideas ' }, user })).body;
    expect(a.title).toBe('Trip ideas');
    await h.json('/api/v1/chat', { body: { message: 'Paris 100% sure_thing', conversation_id: a.id }, user });
    expect((await h.json(`/api/v1/conversations/${a.id}`, { user })).body.title).toBe('Trip ideas');
    const renamed = await h.json(`/api/v1/conversations/${a.id}`, {
      method: 'PUT',
      body: { title: 'Renamed' },
      user,
    });
    expect(renamed.body.title).toBe('Renamed');
    expect(
      (await h.json(`/api/v1/conversations/${a.id}`, { method: 'PUT', body: { title: '  ' }, user })).status,
    ).toBe(422);
    expect(
      (
        await h.json(`/api/v1/conversations/${a.id}`, {
          method: 'PUT',
          body: { title: 'x'.repeat(256) },
          user,
        })
      ).status,
    ).toBe(422);
    // Lists order by updated_at, then id: a later millisecond makes the order certain.
    await Bun.sleep(3);
    const b = (await h.json('/api/v1/conversations', { body: {}, user })).body;
    const list = await h.json('/api/v1/conversations', { user });
    expect(list.res.headers.get('x-total-count')).toBe('2');
    expect(list.body.conversations.map((c: any) => c.id)).toEqual([b.id, a.id]);
    expect(
      (await h.json('/api/v1/conversations?q=PARIS', { user })).body.conversations.map((c: any) => c.id),
    ).toEqual([a.id]);
    expect((await h.json('/api/v1/conversations?q=100%25', { user })).body.conversations.length).toBe(1);
    expect((await h.json('/api/v1/conversations?q=0%25', { user })).body.conversations.length).toBe(1);
    expect((await h.json('/api/v1/conversations?q=s_r', { user })).body.conversations.length).toBe(0);
    expect((await h.json('/api/v1/conversations?q=%25', { user })).body.conversations.length).toBe(1);
    expect((await h.json('/api/v1/conversations/stats', { user })).body).toEqual({
      total_conversations: 2,
      total_messages: 2,
    });
    const v03 = await h.json('/api/v0.3/conversations', { user });
    expect(Object.keys(v03.body.conversations[0])).toEqual(['conversation_id', 'title', 'created_at']);
  });

  test('§8 #24 non-ASCII is stored as sent; title truncation counts code points', async () => {
    const msg = `${'😀'.repeat(60)} ok`;
    const { body } = await h.json('/api/v1/chat', { body: { message: msg } });
    const conv = await h.json(`/api/v1/conversations/${body._metadata.conversation_id}`);
    expect(conv.body.title).toBe(`${'😀'.repeat(50)}...`);
    const msgs = await h.json(`/api/v1/conversations/${body._metadata.conversation_id}/messages`);
    expect(msgs.body.messages[0].content).toBe(msg);
  });

  test('§8 #21 conversation deleted while its stream runs: answer stored, conversation stays deleted', async () => {
    const slow = await harness({ LOCAL_LLM_DELAY_MS: '20' });
    const res = await slow.call('/api/v1/chat', { body: { message: 'a b c d e', stream: true } });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const convId = /"conversation_id": "([0-9a-f-]{36})"/.exec(first)![1]!;
    expect((await slow.call(`/api/v1/conversations/${convId}`, { method: 'DELETE' })).status).toBe(204);
    let rest = '';
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    expect(rest).toContain('"finish_reason": "stop"');
    const rows = await slow.db.orm
      .select()
      .from(slow.db.t.chatMessages)
      .where(eq(slow.db.t.chatMessages.conversationId, convId));
    expect(rows.find((r) => r.role === 'assistant')!.status).toBe('complete');
    expect((await slow.json(`/api/v1/conversations/${convId}`)).status).toBe(404);
    await slow.close();
  });

  test('personas: list, create, duplicate, set, current, permissions, soft delete and fallback', async () => {
    const alice = await addUser(h.db);
    const bob = await addUser(h.db);
    const list = await h.json('/api/v0.2/personas', { user: alice });
    expect(list.body.success).toBe(true);
    expect(list.body.personas.some((p: any) => p.id === MU)).toBe(true);
    expect(list.body.message).toBe(`Found ${list.body.total} personas`);
    const v1list = await h.json('/api/v1/chat/personas', { user: alice });
    expect(v1list.body.message).toBe('Personas retrieved successfully');
    const name = `Guide-${crypto.randomUUID().slice(0, 6)}`;
    const created = await h.json('/api/v0.2/personas', {
      user: alice,
      body: {
        name,
        description: 'Calm trail guide',
        system_prompt: 'You are a calm guide.\n\n{tools_section}',
        personality_traits: { calm: true },
      },
    });
    expect(created.status).toBe(200);
    expect(created.body.message).toBe('Persona created successfully');
    const persona = created.body.persona;
    expect(Object.keys(persona)).toEqual([
      'id',
      'name',
      'description',
      'system_prompt',
      'personality_traits',
      'capabilities',
      'preferred_model',
      'tools',
      'is_active',
      'created_by',
      'created_at',
      'updated_at',
    ]);
    expect(persona.created_by).toBe(alice);
    const dup = await h.json('/api/v1/chat/personas', {
      user: bob,
      body: { name: name.toUpperCase(), system_prompt: 'x' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.detail).toBe(`Persona name already exists: ${name.toUpperCase()}`);
    expect(
      (
        await h.json(`/api/v0.2/personas/${persona.id}`, {
          method: 'PUT',
          user: bob,
          body: { description: 'x' },
        })
      ).status,
    ).toBe(403);
    expect(
      (await h.json(`/api/v0.2/personas/${MU}`, { method: 'PUT', user: alice, body: { description: 'x' } }))
        .body,
    ).toEqual({
      detail: 'Not allowed to modify this persona',
    });
    const upd = await h.json(`/api/v0.2/personas/${persona.id}`, {
      method: 'PUT',
      user: alice,
      body: { description: 'Updated' },
    });
    expect(upd.body.persona.description).toBe('Updated');
    const set = await h.json('/api/v0.2/personas/set', { user: alice, body: { persona_id: persona.id } });
    expect(set.body).toEqual({
      success: true,
      message: `Active persona set to ${name}`,
      persona_id: persona.id,
      persona_name: name,
    });
    expect((await h.json('/api/v0.2/personas/current', { user: alice })).body.persona.id).toBe(persona.id);
    const chat = await h.json('/api/v1/chat', { user: alice, body: { message: 'hi' } });
    expect(chat.body._metadata.persona_id).toBe(persona.id);
    expect(chat.body.choices[0].message.content).toContain(`Offline reply from ${name}`);
    const del = await h.json(`/api/v0.2/personas/${persona.id}`, { method: 'DELETE', user: alice });
    expect(del.body).toEqual({
      success: true,
      message: 'Persona deleted successfully',
      persona_id: persona.id,
    });
    // §8 #22: the deleted active persona falls back to Mu.
    expect((await h.json('/api/v0.2/personas/current', { user: alice })).body.persona.id).toBe(MU);
    expect((await h.json(`/api/v0.2/personas/${persona.id}`, { user: alice })).body.persona.is_active).toBe(
      false,
    );
    expect(
      (await h.json('/api/v0.2/personas?active_only=false', { user: alice })).body.personas.some(
        (p: any) => p.id === persona.id,
      ),
    ).toBe(true);
    expect(
      (await h.json('/api/v0.2/personas/set', { user: alice, body: { persona_id: persona.id } })).body,
    ).toEqual({
      detail: `Persona is not active: ${persona.id}`,
    });
    const unknown = crypto.randomUUID();
    expect(
      (await h.json('/api/v1/chat', { user: alice, body: { message: 'x', persona_id: unknown } })).body,
    ).toEqual({
      detail: `Persona not found: ${unknown}`,
    });
    const init = await h.json('/api/v0.2/personas/initialize-default', { method: 'POST', user: alice });
    expect(init.body).toMatchObject({
      success: true,
      message: 'Default persona already exists',
      was_created: false,
    });
    // Admins may edit seeded personas.
    const admin = await h.json(`/api/v0.2/personas/${MU}`, {
      method: 'PUT',
      user: alice,
      admin: true,
      body: { description: 'Admin edit' },
    });
    expect(admin.status).toBe(200);
  });

  test('providers and models endpoints (offline)', async () => {
    const providers = await h.json('/api/v0.2/providers');
    expect(providers.body.providers.map((p: any) => p.id)).toEqual(['local']);
    expect(providers.body.health_status).toBe('all_healthy');
    expect((await h.json('/api/v0.2/providers/claude')).body).toEqual({
      detail: 'Provider claude not found',
    });
    expect((await h.json('/api/v0.2/providers/health')).body).toEqual({
      detail: 'Provider health not found',
    });
    const models = await h.json('/api/v0.2/models');
    expect(models.body.total).toBe(1);
    expect(models.body.filters).toEqual({ provider: null, capability: null });
    expect((await h.json('/api/v1/models')).body.total).toBe(1);
    const one = await h.json('/api/v0.2/models/gaia-local');
    expect(one.body.is_default).toBe(true);
    expect((await h.json('/api/v0.2/models/capabilities')).body).toEqual({
      detail: 'Model not found: capabilities',
    });
    const health = await h.json('/api/v0.2/providers/local/health?refresh=true');
    expect(health.body.status).toBe('healthy');
  });

  test('§8 #5 a message that alone exceeds the model context is 422; nothing stored', async () => {
    const big = await harness({ CHAT_MAX_MESSAGE_CHARS: '200000' });
    const before = (await big.db.orm.select().from(big.db.t.chatMessages)).length;
    const r = await big.json('/api/v1/chat', { body: { message: 'x'.repeat(120_000) } });
    expect(r.status).toBe(422);
    expect(r.body.detail).toBe('Message too long for model gaia-local');
    expect((await big.db.orm.select().from(big.db.t.chatMessages)).length).toBe(before);
    await big.close();
  });

  test('§8 #22 / §5.4 tools section: replaced where the placeholder is, appended otherwise, trimmed when empty', () => {
    const section = toolsSection([], true);
    expect(section).toBe(DIRECTIVE_BLOCK);
    expect(applyToolsSection('A {x} {tools_section} B', 'T')).toBe('A {x} T B');
    expect(applyToolsSection('No placeholder', 'T')).toBe('No placeholder\n\nT');
    expect(applyToolsSection('Hi\n\n{tools_section}', '')).toBe('Hi');
    expect(applyToolsSection('Hi  ', '')).toBe('Hi');
  });

  test('a missing identity is 401', async () => {
    const res = await h.app.handle(
      new Request('http://chat.internal/api/v1/chat', { method: 'POST', body: '{}' }),
    );
    expect(res.status).toBe(401);
  });
});

describe('with provider fakes (claude + openai)', () => {
  let h: Harness;
  let oa: FakeOpenAI;
  let an: FakeAnthropic;
  beforeAll(async () => {
    oa = await startFakeOpenAI();
    an = await startFakeAnthropic();
    h = await harness({
      ANTHROPIC_API_KEY: 'sk-ant-unit',
      ANTHROPIC_BASE_URL: an.url,
      OPENAI_API_KEY: 'sk-unit',
      OPENAI_BASE_URL: oa.url,
      LLM_FIRST_TOKEN_TIMEOUT_MS: '300',
      LLM_IDLE_TIMEOUT_MS: '300',
      CHAT_HEARTBEAT_MS: '50',
    });
  });
  afterAll(async () => {
    await h.close();
    await oa.stop();
    await an.stop();
  });

  test('default model is claude-haiku-4-5; the persona prompt is really sent as `system`; cost from prices', async () => {
    an.reset();
    an.enqueue({ chunks: ['2 + 2', ' = 4.'], usage: { input_tokens: 812, output_tokens: 3 } });
    const { body } = await h.json('/api/v1/chat', { body: { message: 'What is 2+2?' } });
    expect(body.model).toBe('claude-haiku-4-5');
    expect(body.choices[0].message.content).toBe('2 + 2 = 4.');
    expect(body.usage).toEqual({
      prompt_tokens: 812,
      completion_tokens: 3,
      total_tokens: 815,
      input_tokens: 812,
      output_tokens: 3,
    });
    expect(body._metadata.cost_usd).toBe(0.000827);
    const sent = an.messages[0]!.body;
    expect(sent.system.startsWith('You are Mu, a cheerful little robot companion.')).toBe(true);
    expect(sent.system).not.toContain('{tools_section}');
    expect(sent.messages).toEqual([{ role: 'user', content: 'What is 2+2?' }]);
    const rows = await h.db.orm
      .select()
      .from(h.db.t.chatMessages)
      .where(eq(h.db.t.chatMessages.id, body._metadata.message_id));
    expect(rows[0]).toMatchObject({
      model: 'claude-haiku-4-5',
      provider: 'claude',
      inputTokens: 812,
      outputTokens: 3,
      tokensUsed: 815,
      costUsd: 0.000827,
    });
  });

  test('v0.3 requests get the directive block; history goes to the provider', async () => {
    an.reset();
    const first = await h.json('/api/v0.3/chat', { body: { message: 'Hello' } });
    an.enqueue({ chunks: ['ok'] });
    await h.json('/api/v0.3/chat', {
      body: { message: 'Again', conversation_id: first.body.conversation_id },
    });
    const sent = an.messages[1]!.body;
    expect(sent.system).toContain('{"m":"<name>","p":{...}}');
    expect(sent.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  test('OpenAI: persona prompt is the leading system message; explicit model and v0.2 cost', async () => {
    oa.reset();
    oa.enqueue({
      chunks: ['Hello there!', ' How can I help?'],
      usage: { prompt_tokens: 10, completion_tokens: 8 },
    });
    const { body } = await h.json('/api/v0.2/chat', {
      body: { message: 'Hello!', provider: 'openai', model: 'gpt-4o-mini' },
    });
    expect(body).toMatchObject({
      response: 'Hello there! How can I help?',
      provider: 'openai',
      model: 'gpt-4o-mini',
      reasoning: 'Explicit model selection: gpt-4o-mini',
      fallback_used: false,
    });
    expect(body.cost_usd).toBe(0.0000063);
    const sent = oa.completions[0]!.body;
    expect(sent.messages[0].role).toBe('system');
    expect(sent.messages[0].content.startsWith('You are Mu')).toBe(true);
    expect(sent.model).toBe('gpt-4o-mini');
  });

  test('aliases resolve and responses name the model that answered', async () => {
    an.reset();
    const { body } = await h.json('/api/v0.2/chat', {
      body: { message: 'x', model: 'claude-3-5-sonnet-20241022' },
    });
    expect(body.model).toBe('claude-sonnet-4-5');
    expect(an.messages[0]!.body.model).toBe('claude-sonnet-4-5');
  });

  test('§6.4 fallback on 529 before content: openai answers, reasoning says so, both attempts in the ledger', async () => {
    an.reset();
    oa.reset();
    an.enqueue({ status: 529 });
    oa.enqueue({ chunks: ['from openai'] });
    const { status, body } = await h.json('/api/v0.2/chat', { body: { message: 'fallback please' } });
    expect(status).toBe(200);
    expect(body.fallback_used).toBe(true);
    expect(body.provider).toBe('openai');
    expect(body.reasoning).toBe('Fallback from claude-haiku-4-5 (HTTP 529): gpt-4o-mini');
    const ledger = await h.db.orm
      .select()
      .from(h.db.t.llmUsage)
      .where(eq(h.db.t.llmUsage.endpoint, '/api/v0.2/chat'));
    expect(ledger.slice(-2).map((u) => [u.provider, u.status])).toEqual([
      ['claude', 'error'],
      ['openai', 'ok'],
    ]);
    // The provider's health reflects the failure.
    const prov = await h.json('/api/v0.2/providers/claude');
    expect(prov.body.health).toBe('unhealthy');
    const all = await h.json('/api/v0.2/providers');
    expect(all.body.health_status).toBe('degraded');
  });

  test('no fallback when disabled, on /v1, or for provider 400s', async () => {
    an.reset();
    an.enqueue({ status: 529 });
    const off = await h.json('/api/v0.2/chat', { body: { message: 'x', enable_fallback: false } });
    expect(off.status).toBe(502);
    expect(off.body).toEqual({ detail: 'Chat completion failed: provider returned HTTP 529' });
    an.enqueue({ status: 400, errorMessage: 'messages: text content blocks must be non-empty' });
    const rejected = await h.json('/api/v1/chat', { body: { message: 'x' } });
    expect(rejected.status).toBe(400);
    expect(rejected.body.detail).toBe('messages: text content blocks must be non-empty');
    an.enqueue({ status: 503 });
    const v1 = await h.json('/v1/chat/completions', {
      body: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] },
    });
    expect(v1.status).toBe(502);
    expect(v1.body.error).toEqual({
      message: v1.body.detail,
      type: 'api_error',
      param: null,
      code: 'provider_error',
    });
  });

  test('all providers fail in a stream: error event + terminators, no assistant message', async () => {
    an.reset();
    oa.reset();
    an.enqueue({ status: 500 });
    oa.enqueue({ status: 502 });
    const res = await h.call('/api/v0.2/chat/stream', { body: { message: 'x', conversation_id: 'new' } });
    const p = payloads(await res.text());
    expect(p).toHaveLength(2);
    const err = JSON.parse(p[0]!);
    expect(err.choices[0].finish_reason).toBe('error');
    expect(err.error).toEqual({
      message: 'The language model provider failed (HTTP 502).',
      type: 'provider_error',
    });
    expect(p[1]).toBe('[DONE]');
  });

  test('streaming is incremental: the first chunk arrives while the provider still holds the rest', async () => {
    oa.reset();
    const gate = createGate();
    oa.enqueue({ chunks: ['first ', 'second'], gate, holdAfter: 1 });
    const res = await h.call('/api/v1/chat', { body: { message: 'x', model: 'gpt-4o-mini', stream: true } });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let seen = '';
    while (!seen.includes('"content": "first "')) seen += dec.decode((await reader.read()).value);
    expect(gate.released).toBe(false);
    expect(seen).not.toContain('second');
    gate.release();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      seen += dec.decode(r.value);
    }
    expect(seen).toContain('"content": "second"');
    expect(seen.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  test('client disconnect aborts the provider request and stores the partial answer', async () => {
    an.reset();
    const gate = createGate();
    an.enqueue({ chunks: ['The old oak', ' remembers'], gate, holdAfter: 1 });
    const res = await h.call('/api/v0.3/chat', { body: { message: 'story', stream: true } });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let seen = '';
    while (!seen.includes('The old oak')) seen += dec.decode((await reader.read()).value);
    const convId = /"conversation_id": "([0-9a-f-]{36})"/.exec(seen)![1]!;
    const t0 = performance.now();
    await reader.cancel();
    await an.messages[0]!.done;
    expect(an.messages[0]!.aborted).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    let assistant: any;
    for (let i = 0; i < 50 && !assistant; i++) {
      await Bun.sleep(10);
      const rows = await h.db.orm
        .select()
        .from(h.db.t.chatMessages)
        .where(eq(h.db.t.chatMessages.conversationId, convId));
      assistant = rows.find((r) => r.role === 'assistant');
    }
    expect(assistant).toMatchObject({
      content: 'The old oak',
      status: 'partial',
      finishReason: 'client_disconnected',
    });
    gate.release();
  });

  test('§8 #15 provider silent mid-stream past LLM_IDLE_TIMEOUT_MS: provider_timeout, partial stored', async () => {
    an.reset();
    const gate = createGate();
    an.enqueue({ chunks: ['partial', ' never'], gate, holdAfter: 1 });
    const text = await (await h.call('/api/v1/chat', { body: { message: 'x', stream: true } })).text();
    gate.release();
    const p = payloads(text);
    const err = JSON.parse(p.at(-3)!);
    expect(err.error).toEqual({
      message: 'The language model provider timed out.',
      type: 'provider_timeout',
    });
    const convId = JSON.parse(p[0]!).conversation_id;
    const rows = await h.db.orm
      .select()
      .from(h.db.t.chatMessages)
      .where(eq(h.db.t.chatMessages.conversationId, convId));
    expect(rows.find((r) => r.role === 'assistant')).toMatchObject({
      content: 'partial',
      status: 'partial',
      finishReason: 'provider_timeout',
    });
    // Heartbeats kept the stream alive during the silence, after the first event.
    expect(text).toContain(': ping\n\n');
    expect(text.startsWith('data: ')).toBe(true);
  });

  test('a provider that keeps sending, each chunk within LLM_IDLE_TIMEOUT_MS, is never cut however long it runs', async () => {
    an.reset();
    // Eight chunks 100 ms apart: 700 ms in all, more than twice the 300 ms idle timeout.
    const chunks = Array.from({ length: 8 }, (_, i) => `c${i} `);
    an.enqueue({ chunks, chunkDelayMs: 100 });
    const text = await (
      await h.call('/api/v1/chat', { body: { message: 'x', stream: true, enable_fallback: false } })
    ).text();
    expect(text).not.toContain('provider_timeout');
    const content = payloads(text)
      .filter((d) => d.startsWith('{'))
      .map((d) => JSON.parse(d) as { choices?: Array<{ delta?: { content?: string } }> })
      .map((e) => e.choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe(chunks.join(''));
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  test('first-token timeout falls back; when everything times out non-streaming gives 504', async () => {
    an.reset();
    oa.reset();
    an.enqueue({ hang: true });
    oa.enqueue({ chunks: ['rescued'] });
    const ok = await h.json('/api/v0.2/chat', { body: { message: 'x' } });
    expect(ok.body.reasoning).toBe('Fallback from claude-haiku-4-5 (timeout): gpt-4o-mini');
    an.enqueue({ hang: true });
    oa.enqueue({ hang: true });
    const timeout = await h.json('/api/v1/chat', { body: { message: 'x' } });
    expect(timeout.status).toBe(504);
    expect(timeout.body).toEqual({ detail: 'Chat completion failed: provider timed out' });
  });

  test('max_response_time_ms caps the total time: 504', async () => {
    an.reset();
    an.enqueue({ chunks: ['a', 'b', 'c'], chunkDelayMs: 100 });
    const r = await h.json('/api/v0.2/chat', {
      body: { message: 'x', max_response_time_ms: 120, enable_fallback: false },
    });
    expect(r.status).toBe(504);
  });

  test('§8 #17 client gone during a non-streaming request: the answer is still stored complete', async () => {
    an.reset();
    an.enqueue({ chunks: ['slow', ' answer'], chunkDelayMs: 50 });
    const ctl = new AbortController();
    const conv = (await h.json('/api/v1/conversations', { body: {} })).body.id;
    const pending = h.call('/api/v1/chat', {
      body: { message: 'x', conversation_id: conv },
      signal: ctl.signal,
    });
    await Bun.sleep(20);
    ctl.abort();
    await pending.catch(() => {});
    let assistant: any;
    for (let i = 0; i < 50 && !assistant; i++) {
      await Bun.sleep(20);
      const rows = await h.db.orm
        .select()
        .from(h.db.t.chatMessages)
        .where(eq(h.db.t.chatMessages.conversationId, conv));
      assistant = rows.find((r) => r.role === 'assistant');
    }
    expect(assistant).toMatchObject({ content: 'slow answer', status: 'complete' });
  });

  test('§8 #19 empty provider text: 200 with "", stored complete and left out of later history', async () => {
    an.reset();
    an.enqueue({ chunks: [] });
    const { body } = await h.json('/api/v1/chat', { body: { message: 'say nothing' } });
    expect(body.choices[0].message.content).toBe('');
    an.enqueue({ chunks: ['ok'] });
    await h.json('/api/v1/chat', {
      body: { message: 'next', conversation_id: body._metadata.conversation_id },
    });
    expect(an.messages[1]!.body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'say nothing' },
          { type: 'text', text: 'next' },
        ],
      },
    ]);
  });

  test('v0.2 auto selection by priority and /v1 models of configured providers', async () => {
    an.reset();
    oa.reset();
    const cheap = await h.json('/api/v0.2/chat', {
      body: { message: 'x', auto_select_model: true, priority: 'cost' },
    });
    expect(cheap.body.reasoning).toBe('Auto-selected for priority cost: gpt-4o-mini');
    const quality = await h.json('/api/v0.2/chat', {
      body: { message: 'x', auto_select_model: true, priority: 'quality' },
    });
    expect(quality.body.reasoning).toBe('Auto-selected for priority quality: claude-sonnet-4-5');
    const models = await h.json('/v1/models');
    expect(models.body.data.map((m: any) => m.id)).toEqual([
      'claude-haiku-4-5',
      'claude-sonnet-4-5',
      'gpt-4o-mini',
      'gpt-4o',
      'gpt-4.1-mini',
      'gpt-4.1',
    ]);
    expect(models.body.data[0]).toEqual({
      id: 'claude-haiku-4-5',
      object: 'model',
      created: 1760486400,
      owned_by: 'anthropic',
    });
    const detail = await h.json('/api/v0.2/models/claude-3-haiku-20240307');
    expect(detail.body).toMatchObject({
      id: 'claude-haiku-4-5',
      cost_per_input_token: 0.000001,
      cost_per_output_token: 0.000005,
      is_default: true,
    });
    const pm = await h.json('/api/v0.2/providers/claude/models');
    expect(pm.body.models[0]).toEqual({
      id: 'claude-haiku-4-5',
      name: 'Claude Haiku 4.5',
      capabilities: ['chat', 'streaming', 'tool_calling', 'vision'],
      max_tokens: 64000,
      context_window: 200000,
      pricing: { input_tokens_per_million: 1, output_tokens_per_million: 5 },
    });
    expect((await h.json('/api/v0.2/models?provider=openai&capability=vision')).body.total).toBe(4);
    const health = await h.json('/api/v0.2/providers/openai/health?refresh=true');
    expect(health.body).toMatchObject({ provider: 'openai', status: 'healthy', error: null });
  });

  test('/v1 against OpenAI passes parameters through and streams with usage from the provider', async () => {
    oa.reset();
    oa.enqueue({ chunks: ['Hi', '!'], usage: { prompt_tokens: 9, completion_tokens: 2 } });
    const text = await (
      await h.call('/v1/chat/completions', {
        body: {
          model: 'gpt-4o-mini',
          messages: [
            { role: 'developer', content: 'Be brief.' },
            { role: 'user', content: 'Say hi' },
          ],
          stream: true,
          stream_options: { include_usage: true },
          seed: 7,
          user: 'u1',
          api_base: 'http://evil.example',
        },
      })
    ).text();
    const p = payloads(text);
    expect(JSON.parse(p.at(-2)!).usage).toEqual({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 });
    const sent = oa.completions[0]!.body;
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Say hi' },
    ]);
    expect(sent.seed).toBe(7);
    expect(sent.user).toBe('u1');
    expect(sent.api_base).toBeUndefined();
  });
});
