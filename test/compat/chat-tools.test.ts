/**
 * The chat engine's tool loop as clients see it: parallel calls per round, tool events in `/api/v1/chat` streams
 * (and in `/api/v0.3/chat` streams only on request), the forced last answer when the rounds run out, scenario
 * teams with parallel specialists and per-agent usage, and a client that leaves during a tool round.
 * The model is the wire-true OpenAI fake; the tools are the real kb service's.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { TEAMS } from '../../services/chat/scenarios/teams.ts';
import { createGate, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

/** The `data:` payloads of an SSE body, JSON-decoded except the `[DONE]` terminator. */
function events(text: string): any[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => l !== undefined)
    .map((l) => l.slice(6))
    .map((d) => (d === '[DONE]' ? '[DONE]' : JSON.parse(d)));
}

const kindOf = (e: any): string =>
  e === '[DONE]'
    ? '[DONE]'
    : typeof e.type === 'string'
      ? e.type
      : e.choices?.[0]?.finish_reason
        ? 'final'
        : e.choices
          ? 'chunk'
          : 'other';

/** Consecutive duplicates collapsed: the order of event kinds. */
const shape = (evs: any[]) => evs.map(kindOf).filter((k, i, all) => i === 0 || all[i - 1] !== k);

/** Retries `check` until it stops throwing (things that happen asynchronously by design). */
async function until(check: () => unknown, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await Bun.sleep(25);
    }
  }
}

const toolMessages = (body: any) => (body.messages as any[]).filter((m) => m.role === 'tool');

for (const backend of testBackends()) {
  describe(`chat tool loop (${backend.name})`, () => {
    let s: StackHandle;
    let oa: FakeOpenAI;
    const id = crypto.randomUUID();
    let jwt: string;

    beforeAll(async () => {
      oa = await startFakeOpenAI();
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
        env: {
          OPENAI_API_KEY: 'sk-tools',
          OPENAI_BASE_URL: oa.url,
          CHAT_MAX_TOOL_ROUNDS: '2',
          CHAT_AGENT_TIMEOUT_MS: '1500',
        },
      });
      jwt = await s.mintJwt({ sub: id, email: `t-${id.slice(0, 8)}@example.com` });
      for (const [path, content] of [
        [`users/${id}/notes/dragons.md`, '# Dragons\nDragons hoard gold under the mountain.\n'],
        [`users/${id}/notes/elves.md`, '# Elves\nElves sing in the forest.\n'],
      ] as const) {
        const w = await s.fetch(`/api/v1/kb/files/${path}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
          body: JSON.stringify({ content }),
        });
        expect(w.status).toBe(201);
      }
    });

    afterAll(async () => {
      await s?.stop();
      await oa?.stop();
    });

    const call = (path: string, body: unknown, init: RequestInit = {}) =>
      s.fetch(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        ...init,
      });

    test('/api/v1/chat stream: both calls of a round run, tool events come before the answer, metadata names the tools', async () => {
      oa.reset();
      oa.enqueue(
        {
          chunks: [],
          toolCalls: [
            { id: 'call_a', name: 'search_knowledge_base', arguments: '{"query":"dragons"}' },
            { id: 'call_b', name: 'list_kb_directory', arguments: `{"path":"users/${id}/notes"}` },
          ],
        },
        { chunks: ['Dragons ', 'hoard gold.'] },
      );
      const r = await call('/api/v1/chat', {
        message: 'What do dragons do?',
        model: 'gpt-4o-mini',
        stream: true,
      });
      expect(r.status).toBe(200);
      const evs = events(await r.text());
      expect(shape(evs)).toEqual([
        'metadata',
        'tool_call',
        'tool_result',
        'chunk',
        'final',
        'done',
        '[DONE]',
      ]);
      const calls = evs.filter((e) => e.type === 'tool_call');
      expect(calls).toEqual([
        { type: 'tool_call', id: 'call_a', name: 'search_knowledge_base', arguments: { query: 'dragons' } },
        {
          type: 'tool_call',
          id: 'call_b',
          name: 'list_kb_directory',
          arguments: { path: `users/${id}/notes` },
        },
      ]);
      const results = evs.filter((e) => e.type === 'tool_result');
      expect(results.map((e) => e.id).sort()).toEqual(['call_a', 'call_b']);
      const byId = Object.fromEntries(results.map((e) => [e.id, e]));
      expect(byId.call_a).toMatchObject({ name: 'search_knowledge_base', ok: true, summary: '1 result' });
      expect(byId.call_b).toMatchObject({ name: 'list_kb_directory', ok: true, summary: '2 entries' });
      for (const e of results) {
        expect(typeof e.duration_ms).toBe('number');
        expect(Object.keys(e).sort()).toEqual(['duration_ms', 'id', 'name', 'ok', 'summary', 'type']);
      }
      const final = evs.find((e) => kindOf(e) === 'final');
      expect(final._metadata.route_type).toBe('kb_tools');
      expect(final._metadata.tools_used).toEqual(['search_knowledge_base', 'list_kb_directory']);
      expect(final._metadata.tool_rounds_exhausted).toBeUndefined();
      // Both results went back to the model in one request, in the order it asked.
      expect(oa.completions.length).toBe(2);
      expect(toolMessages(oa.completions[1]!.body).map((m) => m.tool_call_id)).toEqual(['call_a', 'call_b']);
      expect(JSON.parse(toolMessages(oa.completions[1]!.body)[0].content).results[0].path).toBe(
        `users/${id}/notes/dragons.md`,
      );
    });

    test('/api/v0.3/chat streams show tool events only with tool_events: true', async () => {
      const script = () =>
        oa.enqueue(
          {
            chunks: [],
            toolCalls: [{ id: 'call_s', name: 'search_knowledge_base', arguments: '{"query":"elves"}' }],
          },
          { chunks: ['Elves sing.'] },
        );
      oa.reset();
      script();
      const plain = events(await (await call('/api/v0.3/chat', { message: 'Elves?', stream: true })).text());
      expect(shape(plain)).toEqual(['metadata', 'content', 'done', '[DONE]']);
      expect(oa.completions.length).toBe(2);

      oa.reset();
      script();
      const opted = events(
        await (await call('/api/v0.3/chat', { message: 'Elves?', stream: true, tool_events: true })).text(),
      );
      expect(shape(opted)).toEqual(['metadata', 'tool_call', 'tool_result', 'content', 'done', '[DONE]']);
      expect(opted.find((e) => e.type === 'tool_result')).toMatchObject({
        id: 'call_s',
        name: 'search_knowledge_base',
        ok: true,
        summary: '1 result',
      });
    });

    test('/api/v0.2/chat runs the tools too, and its stream never shows tool events', async () => {
      oa.reset();
      oa.enqueue(
        {
          chunks: [],
          toolCalls: [{ id: 'call_v', name: 'search_knowledge_base', arguments: '{"query":"gold"}' }],
        },
        { chunks: ['Gold.'] },
      );
      const r = await call('/api/v0.2/chat/stream', { message: 'Gold?', model: 'gpt-4o-mini' });
      const evs = events(await r.text());
      expect(evs.some((e) => e.type === 'tool_call' || e.type === 'tool_result')).toBe(false);
      expect(toolMessages(oa.completions[1]!.body)).toHaveLength(1);
    });

    test('a model that keeps calling tools is made to answer after CHAT_MAX_TOOL_ROUNDS (tool_choice none)', async () => {
      oa.reset();
      const again = () => ({
        chunks: [],
        toolCalls: [{ name: 'search_knowledge_base', arguments: '{"query":"more"}' }],
      });
      oa.enqueue(again(), again(), { chunks: ['Here is what I found.'] });
      const r = await call('/api/v1/chat', { message: 'Dig deep', model: 'gpt-4o-mini' });
      expect(r.status).toBe(200);
      const body = await r.json();
      expect(body.choices[0].message.content).toBe('Here is what I found.');
      expect(body._metadata.tool_rounds_exhausted).toBe(true);
      expect(oa.completions.length).toBe(3);
      expect(oa.completions[0]!.body.tool_choice).toBeUndefined();
      expect(oa.completions[2]!.body.tool_choice).toBe('none');
      // Still offered, so the provider can read the earlier calls in the history.
      expect(oa.completions[2]!.body.tools.length).toBeGreaterThan(0);
      expect(toolMessages(oa.completions[2]!.body)).toHaveLength(2);
    });

    test('gamemaster: the lead consults three specialists at once, each with its own prompt; usage adds up', async () => {
      oa.reset();
      const gate = createGate();
      oa.enqueue(
        {
          chunks: [],
          toolCalls: [
            {
              id: 'call_n',
              name: 'ask_npc_voice',
              arguments: '{"request":"The innkeeper greets the player"}',
            },
            { id: 'call_r', name: 'ask_rules_arbiter', arguments: '{"request":"Can the player haggle?"}' },
            { id: 'call_w', name: 'ask_world_state', arguments: '{"request":"Who is in the tavern?"}' },
          ],
          usage: { prompt_tokens: 100, completion_tokens: 30 },
        },
        { chunks: ['Specialist answer one.'], gate, usage: { prompt_tokens: 11, completion_tokens: 5 } },
        { chunks: ['Specialist answer two.'], gate, usage: { prompt_tokens: 12, completion_tokens: 6 } },
        { chunks: ['Specialist answer three.'], gate, usage: { prompt_tokens: 13, completion_tokens: 7 } },
        {
          chunks: ['"Welcome, traveller!" says the innkeeper.'],
          usage: { prompt_tokens: 200, completion_tokens: 40 },
        },
      );
      const pending = call('/api/v1/chat/gamemaster', {
        message: 'I walk into the tavern',
        model: 'gpt-4o-mini',
      });
      // All three specialists are in flight at the same moment: the calls overlap.
      await until(() => expect(oa.completions.length).toBe(4));
      const specialists = oa.completions.slice(1, 4);
      let finished = 0;
      for (const c of specialists) void c.done.then(() => finished++);
      await Bun.sleep(50);
      expect(finished).toBe(0);
      gate.release();
      const r = await pending;
      expect(r.status).toBe(200);
      const body = await r.json();
      expect(body.choices[0].message.content).toBe('"Welcome, traveller!" says the innkeeper.');
      expect(body._scenario.scenario_type).toBe('gamemaster');
      expect(body._scenario.mode).toBe('multi_agent');
      expect(body._scenario.rounds).toBe(1);
      const agents = body._scenario.agents as any[];
      expect(agents.map((a) => a.name)).toEqual(['lead', 'npc_voice', 'rules_arbiter', 'world_state']);
      expect(agents[0]).toMatchObject({
        calls: 2,
        model: 'gpt-4o-mini',
        input_tokens: 300,
        output_tokens: 70,
      });
      for (const a of agents.slice(1)) expect(a.calls).toBe(1);
      const sum = (k: string) => agents.reduce((n, a) => n + a[k], 0);
      expect(sum('input_tokens')).toBe(body.usage.prompt_tokens);
      expect(sum('output_tokens')).toBe(body.usage.completion_tokens);
      expect(body.usage.prompt_tokens).toBe(300 + 11 + 12 + 13);

      // Each specialist saw its own system prompt and the lead's request, nothing else.
      const prompts = TEAMS.gamemaster!.specialists.map((sp) => sp.prompt);
      const seen = specialists.map((c) => c.body.messages as any[]);
      for (const msgs of seen) {
        expect(msgs).toHaveLength(2);
        expect(msgs[0].role).toBe('system');
        expect(prompts).toContain(msgs[0].content);
        expect(msgs[1].role).toBe('user');
      }
      expect(new Set(seen.map((m) => m[0].content)).size).toBe(3);
      // The lead was offered exactly the three specialists.
      expect((oa.completions[0]!.body.tools as any[]).map((t) => t.function.name).sort()).toEqual([
        'ask_npc_voice',
        'ask_rules_arbiter',
        'ask_world_state',
      ]);
      // Every call is a ledger row of this user: the lead's answer and each specialist.
      const t = s.stack.db.t.llmUsage;
      const rows = await s.stack.db.orm.select().from(t).where(eq(t.userId, id));
      const scenarioRows = rows.filter((row: any) => row.endpoint === '/api/v1/chat/gamemaster');
      expect(scenarioRows).toHaveLength(4);
      // One request: the lead's row and the specialists' share its id (the answer's `id`).
      expect(new Set(scenarioRows.map((row: any) => row.requestId))).toEqual(new Set([body.id]));
      expect(scenarioRows.reduce((n: number, row: any) => n + row.inputTokens, 0)).toBe(
        body.usage.prompt_tokens,
      );
    });

    test('a specialist that fails or times out is an error result for the lead; the answer still comes', async () => {
      oa.reset();
      oa.enqueue(
        {
          chunks: [],
          toolCalls: [
            { id: 'call_1', name: 'ask_analyst', arguments: '{"request":"Break it down"}' },
            { id: 'call_2', name: 'ask_skeptic', arguments: '{"request":"Find the risks"}' },
          ],
        },
        { status: 500, errorMessage: 'upstream exploded' },
        { hang: true },
        { chunks: ['Here is my recommendation.'] },
      );
      const r = await call('/api/v1/chat/problemsolving', {
        message: 'Should we ship?',
        model: 'gpt-4o-mini',
      });
      expect(r.status).toBe(200);
      const body = await r.json();
      expect(body.choices[0].message.content).toBe('Here is my recommendation.');
      const results = toolMessages(oa.completions[3]!.body).map((m) => JSON.parse(m.content));
      expect(results).toHaveLength(2);
      const errors = results.map((x) => x.error as string).sort();
      expect(errors[0]).toMatch(/specialist (did not answer within 2 s|failed)/);
      expect(errors[1]).toMatch(/specialist (did not answer within 2 s|failed)/);
      expect(errors.some((e) => e.includes('did not answer'))).toBe(true);
      // The hung request was abandoned, not left open.
      await until(() => expect(oa.completions.slice(1, 3).some((c) => c.aborted)).toBe(true));
    });

    test('POST /api/v1/chat with "scenario" streams the agent calls as tool events, then the lead', async () => {
      oa.reset();
      oa.enqueue(
        {
          chunks: [],
          toolCalls: [
            { id: 'call_g', name: 'ask_geography', arguments: '{"request":"A northern coast"}' },
            { id: 'call_h', name: 'ask_history', arguments: '{"request":"Its old wars"}' },
          ],
        },
        { chunks: ['Fjords.'] },
        { chunks: ['Three wars.'] },
        { chunks: ['A cold coast with a long memory.'] },
      );
      const r = await call('/api/v1/chat', {
        message: 'Build me a coast',
        model: 'gpt-4o-mini',
        scenario: 'worldbuilding',
        stream: true,
      });
      const evs = events(await r.text());
      expect(shape(evs)).toEqual([
        'metadata',
        'tool_call',
        'tool_result',
        'chunk',
        'final',
        'done',
        '[DONE]',
      ]);
      expect(evs.filter((e) => e.type === 'tool_call').map((e) => e.name)).toEqual([
        'ask_geography',
        'ask_history',
      ]);
      const final = evs.find((e) => kindOf(e) === 'final');
      expect(final._metadata.scenario.mode).toBe('multi_agent');
      expect(final._metadata.scenario.agents.map((a: any) => a.name)).toEqual([
        'lead',
        'geography',
        'history',
      ]);
      expect(final._metadata.route_type).toBe('tools');
    });

    test('an unknown scenario is a 422 and stores nothing', async () => {
      const r = await call('/api/v1/chat', { message: 'x', scenario: 'heist' });
      expect(r.status).toBe(422);
    });

    test('a client that leaves during a tool round aborts the round; only the text it saw is stored', async () => {
      oa.reset();
      oa.enqueue(
        {
          chunks: ['Let me ask around. '],
          toolCalls: [{ id: 'call_x', name: 'ask_npc_voice', arguments: '{"request":"Gossip"}' }],
        },
        { hang: true },
      );
      const ctl = new AbortController();
      const r = await call(
        '/api/v1/chat',
        { message: 'Any gossip?', model: 'gpt-4o-mini', scenario: 'gamemaster', stream: true },
        { signal: ctl.signal },
      );
      const reader = r.body!.getReader();
      let seen = '';
      let conversationId = '';
      while (!seen.includes('"tool_call"')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
        const m = seen.match(/"conversation_id": ?"([0-9a-f-]{36})"/);
        if (m) conversationId = m[1]!;
      }
      expect(seen).toContain('"tool_call"');
      await until(() => expect(oa.completions.length).toBe(2));
      ctl.abort();
      // The specialist's provider call is abandoned within a second.
      await until(() => expect(oa.completions[1]!.aborted).toBe(true), 2000);
      await until(async () => {
        const list = await s.fetch(`/api/v1/conversations/${conversationId}/messages`, {
          headers: { authorization: `Bearer ${jwt}` },
        });
        const body = await list.json();
        const msgs = (body.messages ?? body) as any[];
        const assistant = msgs.find((m) => m.role === 'assistant');
        expect(assistant.content).toBe('Let me ask around. ');
        expect(assistant.status).toBe('partial');
        expect(assistant.tool_calls ?? null).toBeNull();
      });
    });
  });
}
