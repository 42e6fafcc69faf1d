/**
 * Client-compatibility specs for chat through the gateway (spec/chat.md), once per database backend:
 * exact JSON fields, exact SSE framing, event order and terminators, headers; the official OpenAI SDK against
 * `/v1`; a Unity-style 256-byte reader; incremental streaming; disconnects; ownership; restart persistence.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import OpenAI from 'openai';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { createGate, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { payloads, readUntil } from '../support/chat-streams.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

const MU = '00000000-0000-4000-8000-000000000003';

afterAll(async () => {
  await dropTestDatabases();
});

for (const backend of testBackends()) {
  describe(`chat compat (${backend.name})`, () => {
    let s: StackHandle;
    let oa: FakeOpenAI;
    let an: FakeAnthropic;
    let jwtA: string;
    let jwtB: string;

    beforeAll(async () => {
      oa = await startFakeOpenAI();
      an = await startFakeAnthropic();
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        env: {
          ANTHROPIC_API_KEY: 'sk-ant-compat',
          ANTHROPIC_BASE_URL: an.url,
          OPENAI_API_KEY: 'sk-compat',
          OPENAI_BASE_URL: oa.url,
          LOCAL_LLM_ENABLED: 'true',
          LOCAL_LLM_DELAY_MS: '5',
          LLM_IDLE_TIMEOUT_MS: '2000',
          CHAT_HEARTBEAT_MS: '200',
        },
      });
      jwtA = await s.mintJwt({ sub: crypto.randomUUID(), email: `a-${crypto.randomUUID()}@example.com` });
      jwtB = await s.mintJwt({ sub: crypto.randomUUID(), email: `b-${crypto.randomUUID()}@example.com` });
    });

    afterAll(async () => {
      await s?.stop();
      await oa?.stop();
      await an?.stop();
    });

    const asA = (path: string, init: RequestInit = {}) =>
      s.fetch(path, { ...init, headers: { authorization: `Bearer ${jwtA}`, ...(init.headers as object) } });
    const asB = (path: string, init: RequestInit = {}) =>
      s.fetch(path, { ...init, headers: { authorization: `Bearer ${jwtB}`, ...(init.headers as object) } });
    const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

    test('the official OpenAI SDK completes a chat and a streamed chat through /v1', async () => {
      const client = new OpenAI({ apiKey: s.devKey, baseURL: `${s.url}/v1`, maxRetries: 0 });
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toContain('gpt-4o-mini');
      oa.enqueue({ chunks: ['Hi!'] });
      const done = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Say hi' },
        ],
      });
      expect(done.choices[0]!.message.content).toBe('Hi!');
      expect(done.object).toBe('chat.completion');
      oa.enqueue({ chunks: ['Hel', 'lo'], usage: { prompt_tokens: 9, completion_tokens: 2 } });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Stream hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe('Hello');
      expect(usage).toEqual({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 });
      // A provider failure surfaces as the SDK's APIError.
      oa.enqueue({ status: 500 });
      const err = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
        .catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(502);
    });

    test('a Unity-style reader finds conversation_id in the first 256 bytes of /api/v0.3/chat', async () => {
      const res = await s.dev('/api/v0.3/chat', post({ message: 'Hello, guardian', stream: true }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      expect(res.headers.get('x-request-id')).toBeTruthy();
      const reader = res.body!.getReader();
      const bytes: number[] = [];
      while (bytes.length < 256) {
        const r = await reader.read();
        if (r.done) break;
        bytes.push(...r.value);
      }
      await reader.cancel();
      const head = new TextDecoder().decode(new Uint8Array(bytes.slice(0, 256)));
      const after = head.slice(head.indexOf('data: ') + 6);
      const m = /"conversation_id": "([0-9a-f-]{36})"/.exec(after);
      expect(head.startsWith('data: {"type": "metadata", "conversation_id": "')).toBe(true);
      expect(m).not.toBeNull();
    });

    test('/api/v1/chat: JSON shape and the exact SSE sequence', async () => {
      an.enqueue({ chunks: ['2 + 2 = 4.'], usage: { input_tokens: 812, output_tokens: 3 } });
      const res = await s.dev('/api/v1/chat', post({ message: 'What is 2+2?' }));
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(Object.keys(body)).toEqual([
        'id',
        'object',
        'created',
        'model',
        'choices',
        'usage',
        '_metadata',
      ]);
      expect(body.choices).toEqual([
        { index: 0, message: { role: 'assistant', content: '2 + 2 = 4.' }, finish_reason: 'stop' },
      ]);
      expect(body._metadata).toMatchObject({
        provider: 'claude',
        model: 'claude-haiku-4-5',
        persona_id: MU,
        cost_usd: 0.000827,
      });

      an.enqueue({
        chunks: ['The capital', ' of France is Paris.'],
        usage: { input_tokens: 14, output_tokens: 8 },
      });
      const text = await (await s.dev('/api/v1/chat', post({ message: 'Capital?', stream: true }))).text();
      const p = payloads(text);
      expect(p).toHaveLength(6);
      expect(p[0]).toMatch(
        /^\{"type": "metadata", "conversation_id": "[0-9a-f-]{36}", "model": "claude-haiku-4-5", "timestamp": \d+\}$/,
      );
      expect(p[1]).toMatch(
        /^\{"id": "chat-[0-9a-f-]{36}", "object": "chat.completion.chunk", "created": \d+, "model": "claude-haiku-4-5", "choices": \[\{"index": 0, "delta": \{"content": "The capital"\}, "finish_reason": null\}\]\}$/,
      );
      expect(JSON.parse(p[2]!).choices[0].delta.content).toBe(' of France is Paris.');
      expect(p[3]).toContain(
        '"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22, "input_tokens": 14, "output_tokens": 8}, "_metadata": {"route_type": "direct", "routing_time_ms": 0, ',
      );
      expect(JSON.parse(p[3]!)._metadata.cost_usd).toBe(0.000054);
      expect(p[4]).toBe('{"type": "done", "finish_reason": "stop"}');
      expect(p[5]).toBe('[DONE]');
    });

    test('/api/v0.3/chat error after content: content, error, done, [DONE]; partial stored', async () => {
      an.enqueue({ chunks: ['The old oak', ' remembers'], errorAfter: 1 });
      const text = await (await s.dev('/api/v0.3/chat', post({ message: 'story', stream: true }))).text();
      const p = payloads(text);
      expect(p.slice(1)).toEqual([
        '{"type": "content", "content": "The old oak"}',
        '{"type": "error", "error": {"message": "The language model provider failed.", "type": "provider_error"}}',
        '{"type": "done", "finish_reason": "error"}',
        '[DONE]',
      ]);
      const conv = JSON.parse(p[0]!).conversation_id;
      const msgs = await (await s.dev(`/api/v1/conversations/${conv}/messages`)).json();
      expect(msgs.messages[1]).toMatchObject({
        role: 'assistant',
        content: 'The old oak',
        status: 'partial',
      });
    });

    test('/api/v0.2/chat and /stream: ChatResponse and one stop chunk, one [DONE]', async () => {
      oa.enqueue({
        chunks: ['Hello there! How can I help?'],
        usage: { prompt_tokens: 10, completion_tokens: 8 },
      });
      const r = await s.dev(
        '/api/v0.2/chat',
        post({ message: 'Hello!', provider: 'openai', model: 'gpt-4o-mini' }),
      );
      const body = await r.json();
      expect(body).toEqual({
        response: 'Hello there! How can I help?',
        provider: 'openai',
        model: 'gpt-4o-mini',
        usage: {
          prompt_tokens: 10,
          completion_tokens: 8,
          total_tokens: 18,
          input_tokens: 10,
          output_tokens: 8,
        },
        response_time_ms: body.response_time_ms,
        reasoning: 'Explicit model selection: gpt-4o-mini',
        fallback_used: false,
        cost_usd: 0.0000063,
      });
      oa.enqueue({ chunks: ['Hel', 'lo there'], usage: { prompt_tokens: 10, completion_tokens: 3 } });
      const text = await (
        await s.dev('/api/v0.2/chat/stream', post({ message: 'Hello!', provider: 'openai' }))
      ).text();
      const p = payloads(text);
      expect(p).toHaveLength(4);
      expect(p[0]).toMatch(
        /^\{"id": "chatcmpl-[0-9a-f]{32}", "object": "chat.completion.chunk", "created": \d+, "model": "gpt-4o-mini", "choices": \[\{"index": 0, "delta": \{"content": "Hel"\}, "finish_reason": null\}\]\}$/,
      );
      expect(p[2]).toContain(
        '"finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13, "input_tokens": 10, "output_tokens": 3}}',
      );
      expect(p[3]).toBe('[DONE]');
    });

    test('/v1/chat/completions stream framing and error envelopes', async () => {
      oa.enqueue({ chunks: ['Hi!'], usage: { prompt_tokens: 9, completion_tokens: 2 } });
      const text = await (
        await s.dev(
          '/v1/chat/completions',
          post({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'Say hi' }],
            stream: true,
            stream_options: { include_usage: true },
          }),
        )
      ).text();
      const p = payloads(text);
      expect(p).toHaveLength(5);
      expect(p[0]).toContain(
        '"delta": {"role": "assistant", "content": ""}, "finish_reason": null}], "usage": null}',
      );
      expect(p[3]).toContain(
        '"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}',
      );
      expect(p[4]).toBe('[DONE]');
      const bad = await s.dev(
        '/v1/chat/completions',
        post({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }),
      );
      expect(bad.status).toBe(404);
      expect(await bad.json()).toEqual({
        detail: "The model 'gpt-9' does not exist or is not available",
        error: {
          message: "The model 'gpt-9' does not exist or is not available",
          type: 'invalid_request_error',
          param: 'model',
          code: 'model_not_found',
        },
      });
      oa.enqueue({ chunks: ['a', 'b'], errorAfter: 1 });
      const failing = payloads(
        await (
          await s.dev(
            '/v1/chat/completions',
            post({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], stream: true }),
          )
        ).text(),
      );
      expect(failing.slice(-2)).toEqual([
        '{"error": {"message": "The language model provider failed.", "type": "api_error", "param": null, "code": "provider_error"}}',
        '[DONE]',
      ]);
    });

    test('streaming is incremental through the gateway', async () => {
      const gate = createGate();
      an.enqueue({ chunks: ['first ', 'rest'], gate, holdAfter: 1 });
      const res = await s.dev('/api/v1/chat', post({ message: 'incremental', stream: true }));
      const reader = res.body!.getReader();
      const seen = await readUntil(reader, '"content": "first "');
      expect(seen).toContain('"content": "first "');
      expect(gate.released).toBe(false);
      gate.release();
      const all = await readUntil(reader, '[DONE]', seen);
      expect(all).toContain('"content": "rest"');
    });

    test('client disconnect mid-stream aborts the provider and stores the partial answer', async () => {
      const gate = createGate();
      an.reset();
      an.enqueue({ chunks: ['Partial words', ' never sent'], gate, holdAfter: 1 });
      const ctl = new AbortController();
      const res = await asA('/api/v1/chat', {
        ...post({ message: 'disconnect me', stream: true }),
        signal: ctl.signal,
      });
      const reader = res.body!.getReader();
      const seen = await readUntil(reader, 'Partial words');
      const conv = /"conversation_id": "([0-9a-f-]{36})"/.exec(seen)![1]!;
      ctl.abort();
      await reader.cancel().catch(() => {});
      await an.messages[0]!.done;
      expect(an.messages[0]!.aborted).toBe(true);
      gate.release();
      let assistant: any;
      for (let i = 0; i < 100 && !assistant; i++) {
        await Bun.sleep(20);
        const body = await (await asA(`/api/v1/conversations/${conv}/messages`)).json();
        assistant = body.messages.find((m: any) => m.role === 'assistant');
      }
      expect(assistant).toMatchObject({ content: 'Partial words', status: 'partial' });
      const db = s.stack.db;
      const rows = await db.orm
        .select()
        .from(db.t.chatMessages)
        .where(eq(db.t.chatMessages.id, assistant.id));
      expect(rows[0]!.finishReason).toBe('client_disconnected');
    });

    test("user B gets 404 for user A's conversation on every route", async () => {
      const created = await (await asA('/api/v1/conversations', post({ title: 'A private' }))).json();
      const id = created.id;
      const expect404 = async (res: Response) => {
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual({ detail: `Conversation ${id} not found` });
      };
      await expect404(await asB(`/api/v1/conversations/${id}`));
      await expect404(await asB(`/api/v1/conversations/${id}/messages`));
      await expect404(await asB(`/api/v1/conversations/${id}`, { ...post({ title: 'x' }), method: 'PUT' }));
      await expect404(await asB(`/api/v1/conversations/${id}`, { method: 'DELETE' }));
      for (const path of [
        '/api/v1/chat',
        '/api/v0.3/chat',
        '/api/v0.2/chat',
        '/api/v0.2/chat/stream',
        '/api/v1/chat/completions',
        '/api/v1/chat/direct-db',
      ])
        for (const stream of [false, true])
          await expect404(await asB(path, post({ message: 'steal', conversation_id: id, stream })));
      const listB = await (await asB('/api/v1/conversations')).json();
      expect(listB.conversations.map((c: any) => c.id)).not.toContain(id);
      const v03 = await (await asB('/api/v0.3/conversations')).json();
      expect(v03.conversations.map((c: any) => c.conversation_id)).not.toContain(id);
      // Still intact for A.
      expect((await asA(`/api/v1/conversations/${id}`)).status).toBe(200);
    });

    test('conversations persist across a restart', async () => {
      const chat = await (
        await s.dev('/api/v1/chat', post({ message: 'Remember me', model: 'gaia-local', provider: 'local' }))
      ).json();
      const conv = chat._metadata.conversation_id;
      await s.restart();
      const msgs = await (await s.dev(`/api/v1/conversations/${conv}/messages`)).json();
      expect(msgs.messages.map((m: any) => m.content)[0]).toBe('Remember me');
      const again = await (
        await s.dev(
          '/api/v1/chat',
          post({ message: 'Still there?', conversation_id: conv, model: 'gaia-local' }),
        )
      ).json();
      expect(again.choices[0].message.content).toContain('Turn 2.');
    });

    test('conversation and persona endpoints answer their exact shapes', async () => {
      const c = await s.dev('/api/v1/conversations', post({ title: 'Trip ideas' }));
      expect(c.status).toBe(201);
      const obj = await c.json();
      expect(Object.keys(obj)).toEqual(['id', 'title', 'preview', 'created_at', 'updated_at']);
      expect(obj.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const list = await s.dev('/api/v1/conversations?limit=1');
      expect(list.headers.get('x-total-count')).toMatch(/^\d+$/);
      const del = await s.dev(`/api/v1/conversations/${obj.id}`, { method: 'DELETE' });
      expect(del.status).toBe(204);
      expect(await del.text()).toBe('');
      const v03 = await s.dev('/api/v0.3/conversations', { method: 'POST' });
      expect(v03.status).toBe(201);
      expect((await v03.json()).title).toBe('New Conversation');
      const personas = await (await s.dev('/api/v0.2/personas')).json();
      expect(personas).toMatchObject({ success: true, message: `Found ${personas.total} personas` });
      const current = await (await s.dev('/api/v0.2/personas/current')).json();
      expect(current.persona.id).toBe(MU);
      expect(current.persona.system_prompt.endsWith('{tools_section}')).toBe(true);
    });

    test('search is a literal, case-insensitive substring over titles, previews and messages; stats count', async () => {
      const jwt = await s.mintJwt({ sub: crypto.randomUUID() });
      const as = (path: string, init: RequestInit = {}) =>
        s.fetch(path, { ...init, headers: { authorization: `Bearer ${jwt}`, ...(init.headers as object) } });
      const chat = await (
        await as('/api/v1/chat', post({ message: 'Paris 100% sure_thing', model: 'gaia-local' }))
      ).json();
      await as('/api/v1/conversations', post({ title: 'Other' }));
      const ids = async (q: string) =>
        (await (await as(`/api/v1/conversations?q=${encodeURIComponent(q)}`)).json()).conversations.map(
          (c: any) => c.id,
        );
      expect(await ids('PARIS')).toEqual([chat._metadata.conversation_id]);
      expect(await ids('100%')).toHaveLength(1);
      expect(await ids('s_r')).toHaveLength(0);
      expect(await ids('%')).toHaveLength(1);
      expect(await ids('oth')).toHaveLength(1);
      expect(await (await as('/api/v1/conversations/stats')).json()).toEqual({
        total_conversations: 2,
        total_messages: 2,
      });
    });

    test('provider and model endpoints list only configured providers', async () => {
      const p = await (await s.dev('/api/v0.2/providers')).json();
      expect(p.providers.map((x: any) => x.id)).toEqual(['claude', 'openai', 'local']);
      expect(Object.keys(p.providers[0])).toEqual([
        'id',
        'name',
        'status',
        'health',
        'models',
        'capabilities',
        'default_model',
        'last_health_check',
      ]);
      expect(Object.keys(p)).toEqual(['providers', 'total_providers', 'health_status', 'timestamp']);
      const m = await (await s.dev('/api/v0.2/models?provider=claude&capability=vision')).json();
      expect(m.total).toBe(2);
      expect(m.filters).toEqual({ provider: 'claude', capability: 'vision' });
      const one = await (await s.dev('/api/v0.2/models/claude-haiku-4-5')).json();
      expect(Object.keys(one)).toEqual([
        'id',
        'name',
        'provider',
        'capabilities',
        'max_tokens',
        'context_window',
        'cost_per_input_token',
        'cost_per_output_token',
        'pricing',
        'avg_response_time_ms',
        'quality_score',
        'speed_score',
        'description',
        'is_deprecated',
        'is_default',
        'supports_system_prompt',
        'supports_temperature',
        'supports_streaming',
      ]);
      expect((await s.dev('/api/v1/models')).status).toBe(200);
    });
  });
}
