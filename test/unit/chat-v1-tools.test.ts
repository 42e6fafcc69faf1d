/**
 * Client-defined tools on the OpenAI surface, below the HTTP layer: what the `/v1` parser accepts, refuses
 * (with the OpenAI envelope and the offending `param`) and turns into the engine's prompt, and how the OpenAI
 * and Anthropic adapters translate tools, choices and streamed call fragments against the wire-true fakes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../db/index.ts';
import { createChatApp } from '../../services/chat/app.ts';
import { BUILTIN_MODELS, type ModelInfo } from '../../services/chat/models/registry.ts';
import { parseOpenAI, refuseToolsOnLocal } from '../../services/chat/openai-compat/service.ts';
import { createAnthropicProvider, toAnthropicToolChoice } from '../../services/chat/providers/anthropic.ts';
import { newCallId } from '../../services/chat/providers/ids.ts';
import { createOpenAIProvider } from '../../services/chat/providers/openai.ts';
import type { Provider, ProviderEvent, ProviderRequest } from '../../services/chat/providers/types.ts';
import { MemoryBus } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config.ts';
import { HttpError } from '../../src/http/errors.ts';
import { signIdentity } from '../../src/http/identity.ts';
import { silentLogger } from '../../src/log.ts';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const user = (content: string) => ({ role: 'user', content });

/** Parses a body; any error must be the 400 OpenAI envelope, returned as `{code, param, message}`. */
function refusal(body: Record<string, unknown>) {
  try {
    parseOpenAI({ model: 'gpt-4o-mini', ...body }, { modelRequired: true });
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    const e = err as HttpError;
    expect(e.status).toBe(400);
    const env = (e.body as { error: { type: string; code: string; param: string | null; message: string } })
      .error;
    expect(env.type).toBe('invalid_request_error');
    expect((e.body as { detail: string }).detail).toBe(env.message);
    return { code: env.code, param: env.param, message: env.message };
  }
  throw new Error('the body was accepted');
}

describe('the /v1 parser', () => {
  test('accepts tools, a named tool_choice, parallel_tool_calls and strict', () => {
    const p = parseOpenAI(
      {
        model: 'gpt-4o-mini',
        messages: [user('Weather in Paris?')],
        tools: [
          { ...WEATHER, function: { ...WEATHER.function, strict: true } },
          { type: 'function', function: { name: 'now' } },
        ],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        parallel_tool_calls: false,
      },
      { modelRequired: true },
    );
    expect(p.legacyFunctions).toBe(false);
    expect(p.clientTools).toEqual({
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather in a city',
          parameters: WEATHER.function.parameters,
          strict: true,
        } as never,
        { name: 'now', description: '', parameters: { type: 'object', properties: {} } },
      ],
      choice: { name: 'get_weather' },
      parallel: false,
    });
  });

  test('no tools means no client tools, and tool_choice "none" alone is harmless', () => {
    const p = parseOpenAI(
      { model: 'm', messages: [user('x')], tools: [], tool_choice: 'none' },
      { modelRequired: true },
    );
    expect(p.clientTools).toBeUndefined();
  });

  test('assistant tool_calls and tool results become prompt turns, named after their call', () => {
    const p = parseOpenAI(
      {
        model: 'gpt-4o-mini',
        tools: [WEATHER],
        messages: [
          { role: 'system', content: 'Be brief.' },
          user('Weather in Paris and Rome?'),
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_a',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_b',
                type: 'function',
                function: { name: 'get_weather', arguments: { city: 'Rome' } },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_b', content: '{"temp":24}' },
          { role: 'tool', tool_call_id: 'call_a', content: [{ type: 'text', text: '{"temp":18}' }] },
        ],
      },
      { modelRequired: true },
    );
    expect(p.system).toBe('Be brief.');
    expect(p.lastUser).toBe('Weather in Paris and Rome?');
    expect(p.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_b', name: 'get_weather', content: '{"temp":24}' },
      { role: 'tool', toolCallId: 'call_a', name: 'get_weather', content: '{"temp":18}' },
    ]);
  });

  test('the legacy functions form is translated, with made-up ids that pair call and result', () => {
    const p = parseOpenAI(
      {
        model: 'gpt-4o-mini',
        functions: [WEATHER.function],
        function_call: { name: 'get_weather' },
        messages: [
          user('Weather in Oslo?'),
          {
            role: 'assistant',
            content: null,
            function_call: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
          },
          { role: 'function', name: 'get_weather', content: '{"temp":3}' },
        ],
      },
      { modelRequired: true },
    );
    expect(p.legacyFunctions).toBe(true);
    expect(p.clientTools?.choice).toEqual({ name: 'get_weather' });
    expect(p.clientTools?.parallel).toBe(false);
    const call = p.messages[1] as { toolCalls: { id: string; name: string; arguments: string }[] };
    expect(call.toolCalls).toHaveLength(1);
    expect(call.toolCalls[0]!.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(p.messages[2]).toEqual({
      role: 'tool',
      toolCallId: call.toolCalls[0]!.id,
      name: 'get_weather',
      content: '{"temp":3}',
    });
  });

  test('every bad tool input is a 400 invalid_value naming its param', () => {
    const tools129 = Array.from({ length: 129 }, (_, i) => ({
      type: 'function',
      function: { name: `t${i}` },
    }));
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { messages: [user('x')], tools: [{ type: 'function', function: { name: 'has space' } }] },
        'tools.0.function.name',
      ],
      [
        { messages: [user('x')], tools: [{ type: 'function', function: { name: 'x'.repeat(65) } }] },
        'tools.0.function.name',
      ],
      [
        { messages: [user('x')], tools: [WEATHER, { type: 'function', function: { name: '' } }] },
        'tools.1.function.name',
      ],
      [
        { messages: [user('x')], tools: [{ type: 'function', function: { name: 'a', parameters: [] } }] },
        'tools.0.function.parameters',
      ],
      [
        {
          messages: [user('x')],
          tools: [{ type: 'function', function: { name: 'a', parameters: 'object' } }],
        },
        'tools.0.function.parameters',
      ],
      [{ messages: [user('x')], tools: tools129 }, 'tools'],
      [{ messages: [user('x')], tools: [{ type: 'retrieval', function: { name: 'a' } }] }, 'tools.0.type'],
      [{ messages: [user('x')], tools: [{ type: 'function' }] }, 'tools.0.function'],
      [{ messages: [user('x')], tools: [WEATHER, WEATHER] }, 'tools.1.function.name'],
      [{ messages: [user('x')], tools: 'get_weather' }, 'tools'],
      [{ messages: [user('x')], tools: [WEATHER], tool_choice: 'always' }, 'tool_choice'],
      [
        {
          messages: [user('x')],
          tools: [WEATHER],
          tool_choice: { type: 'function', function: { name: 'other' } },
        },
        'tool_choice',
      ],
      [{ messages: [user('x')], tools: [WEATHER], tool_choice: { type: 'function' } }, 'tool_choice'],
      [{ messages: [user('x')], tool_choice: 'required' }, 'tool_choice'],
      [{ messages: [user('x')], tools: [WEATHER], parallel_tool_calls: 'yes' }, 'parallel_tool_calls'],
      [{ messages: [user('x')], functions: [{ name: 'bad name' }] }, 'functions.0.name'],
      [
        { messages: [user('x')], functions: [WEATHER.function], function_call: { name: 'nope' } },
        'function_call',
      ],
      [{ messages: [user('x')], tools: [WEATHER], functions: [WEATHER.function] }, 'functions'],
      [
        {
          messages: [user('x'), { role: 'tool', tool_call_id: 'call_nowhere', content: 'r' }],
          tools: [WEATHER],
        },
        'messages.1.tool_call_id',
      ],
      [{ messages: [user('x'), { role: 'tool', content: 'r' }] }, 'messages.1.tool_call_id'],
      [
        {
          // A result may only answer a call made before it.
          messages: [
            user('x'),
            { role: 'tool', tool_call_id: 'call_later', content: 'r' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'call_later', type: 'function', function: { name: 'a', arguments: '{}' } }],
            },
          ],
        },
        'messages.1.tool_call_id',
      ],
      [{ messages: [user('x'), { role: 'function', name: 'get_weather', content: 'r' }] }, 'messages.1.name'],
      [
        {
          messages: [
            user('x'),
            { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'a' } }] },
          ],
        },
        'messages.1.tool_calls.0.id',
      ],
      [
        {
          messages: [
            user('x'),
            {
              role: 'assistant',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'a', arguments: 7 } }],
            },
          ],
        },
        'messages.1.tool_calls.0.function.arguments',
      ],
      [{ messages: [user('x'), { role: 'robot', content: 'r' }] }, 'messages.1.role'],
    ];
    for (const [body, param] of cases) {
      const r = refusal(body);
      expect({ param: r.param, code: r.code }).toEqual({ param, code: 'invalid_value' });
    }
  });

  test('exactly 128 tools and 64-character names are accepted', () => {
    const tools = Array.from({ length: 128 }, (_, i) => ({
      type: 'function',
      function: { name: `${'n'.repeat(60)}${String(i).padStart(4, '0')}` },
    }));
    const p = parseOpenAI({ model: 'm', messages: [user('x')], tools }, { modelRequired: true });
    expect(p.clientTools?.tools).toHaveLength(128);
  });

  test('a local model refuses tools unless tool_choice is "none"', () => {
    const local = { ...BUILTIN_MODELS[0]!, id: 'gaia-local', provider: 'local' } as ModelInfo;
    const withTools = parseOpenAI(
      { model: 'gaia-local', messages: [user('x')], tools: [WEATHER] },
      { modelRequired: true },
    );
    let err: unknown;
    try {
      refuseToolsOnLocal(withTools, local);
    } catch (e) {
      err = e;
    }
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).body).toMatchObject({
      error: { code: 'unsupported_parameter', param: 'tools' },
    });
    const none = parseOpenAI(
      { model: 'gaia-local', messages: [user('x')], tools: [WEATHER], tool_choice: 'none' },
      { modelRequired: true },
    );
    expect(() => refuseToolsOnLocal(none, local)).not.toThrow();
    expect(() => refuseToolsOnLocal(withTools, BUILTIN_MODELS[0]!)).not.toThrow();
  });
});

test('generated call ids look like OpenAI ids and do not repeat', () => {
  const ids = new Set(Array.from({ length: 500 }, () => newCallId()));
  expect(ids.size).toBe(500);
  for (const id of ids) expect(id).toMatch(/^call_[A-Za-z0-9]{24}$/);
});

test('tool_choice and parallel_tool_calls in the Messages API', () => {
  expect(toAnthropicToolChoice(undefined, undefined)).toBeUndefined();
  expect(toAnthropicToolChoice('auto', undefined)).toEqual({ type: 'auto' });
  expect(toAnthropicToolChoice('required', undefined)).toEqual({ type: 'any' });
  expect(toAnthropicToolChoice('none', false)).toEqual({ type: 'none' });
  expect(toAnthropicToolChoice({ name: 'get_weather' }, true)).toEqual({ type: 'tool', name: 'get_weather' });
  expect(toAnthropicToolChoice(undefined, false)).toEqual({ type: 'auto', disable_parallel_tool_use: true });
  expect(toAnthropicToolChoice('required', false)).toEqual({ type: 'any', disable_parallel_tool_use: true });
  expect(toAnthropicToolChoice({ name: 'f' }, false)).toEqual({
    type: 'tool',
    name: 'f',
    disable_parallel_tool_use: true,
  });
});

describe('adapters against the fakes', () => {
  let oa: FakeOpenAI;
  let an: FakeAnthropic;
  let openai: Provider;
  let claude: Provider;

  beforeAll(async () => {
    oa = await startFakeOpenAI();
    an = await startFakeAnthropic();
    const config = loadConfig({
      GAIA_ENV: 'test',
      OPENAI_API_KEY: 'sk-test-openai',
      OPENAI_BASE_URL: oa.url,
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: an.url,
    });
    openai = createOpenAIProvider(config.chat);
    claude = createAnthropicProvider(config.chat);
  });
  afterAll(async () => {
    await oa.stop();
    await an.stop();
  });
  beforeEach(() => {
    oa.reset();
    an.reset();
  });

  const tools = [
    { name: 'get_weather', description: 'Weather', parameters: WEATHER.function.parameters, strict: true },
    { name: 'now', description: '', parameters: { type: 'object', properties: {} } },
  ];
  const request = (over: Partial<ProviderRequest>): ProviderRequest => ({
    model: 'gpt-4o-mini',
    system: '',
    messages: [{ role: 'user', content: 'Weather?' }],
    maxTokens: 100,
    tools,
    ...over,
  });
  async function collect(p: Provider, r: ProviderRequest): Promise<ProviderEvent[]> {
    const out: ProviderEvent[] = [];
    for await (const ev of p.stream(r, new AbortController().signal)) out.push(ev);
    return out;
  }

  test('OpenAI: choice, parallel flag and strict pass through; fragments arrive as deltas', async () => {
    oa.enqueue({
      chunks: [],
      toolCalls: [
        { id: 'call_one', name: 'get_weather', arguments: '{"city":"Paris"}', fragments: 3 },
        { id: '', name: 'now', arguments: '' },
      ],
    });
    const events = await collect(
      openai,
      request({ toolChoice: { name: 'get_weather' }, parallelToolCalls: false }),
    );
    const sent = oa.completions[0]!.body;
    expect(sent.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(sent.parallel_tool_calls).toBe(false);
    expect(sent.tools[0]).toEqual({
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather',
        parameters: WEATHER.function.parameters,
        strict: true,
      },
    });
    // No description was given for `now`, so none is invented.
    expect(sent.tools[1].function).toEqual({ name: 'now', parameters: { type: 'object', properties: {} } });

    const deltas = events.flatMap((e) => (e.type === 'tool_call_delta' ? [e.delta] : []));
    expect(deltas.slice(0, 3)).toEqual([
      { index: 0, id: 'call_one', name: 'get_weather', arguments: '{"city' },
      { index: 0, arguments: '":"Par' },
      { index: 0, arguments: 'is"}' },
    ]);
    // The server gave the second call no id: one in OpenAI's shape is made up and kept to the end.
    const generated = deltas[3]!;
    expect(generated).toEqual({ index: 1, id: expect.stringMatching(/^call_[A-Za-z0-9]{24}$/), name: 'now' });
    const calls = events.flatMap((e) => (e.type === 'tool_call' ? [e.call] : []));
    expect(calls).toEqual([
      { id: 'call_one', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: generated.id!, name: 'now', arguments: '{}' },
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
    // Every delta came before the complete calls.
    const lastDelta = events.findLastIndex((e) => e.type === 'tool_call_delta');
    expect(lastDelta).toBeLessThan(events.findIndex((e) => e.type === 'tool_call'));
  });

  test('OpenAI: string choices pass through as they are', async () => {
    for (const choice of ['none', 'auto', 'required'] as const) {
      oa.enqueue({ chunks: ['ok'] });
      await collect(openai, request({ toolChoice: choice }));
      expect(oa.completions.at(-1)!.body.tool_choice).toBe(choice);
      expect(oa.completions.at(-1)!.body.parallel_tool_calls).toBeUndefined();
    }
  });

  test('Anthropic: tools, choice and results are translated; input_json_delta becomes indexed deltas', async () => {
    an.enqueue({
      chunks: ['Checking.'],
      toolCalls: [
        { id: 'toolu_01', name: 'get_weather', arguments: '{"city":"Rome"}', fragments: 3 },
        { id: 'toolu_02', name: 'now', arguments: '' },
      ],
    });
    const events = await collect(
      claude,
      request({
        model: 'claude-haiku-4-5',
        toolChoice: 'required',
        parallelToolCalls: false,
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_00', name: 'now', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'toolu_00', name: 'now', content: '12:00' },
        ],
      }),
    );
    const sent = an.messages[0]!.body;
    expect(sent.tools).toEqual([
      { name: 'get_weather', description: 'Weather', input_schema: WEATHER.function.parameters },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(sent.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(sent.messages.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_00', content: '12:00' }],
    });

    const deltas = events.flatMap((e) => (e.type === 'tool_call_delta' ? [e.delta] : []));
    // Content blocks 1 and 2 are calls 0 and 1; the empty opening fragment is not forwarded.
    expect(deltas).toEqual([
      { index: 0, id: 'toolu_01', name: 'get_weather' },
      { index: 0, arguments: '{"cit' },
      { index: 0, arguments: 'y":"R' },
      { index: 0, arguments: 'ome"}' },
      { index: 1, id: 'toolu_02', name: 'now' },
      { index: 1, arguments: '{}' },
    ]);
    expect(events.filter((e) => e.type === 'text')).toEqual([{ type: 'text', text: 'Checking.' }]);
    expect(events.filter((e) => e.type === 'tool_call')).toEqual([
      { type: 'tool_call', call: { id: 'toolu_01', name: 'get_weather', arguments: '{"city":"Rome"}' } },
      { type: 'tool_call', call: { id: 'toolu_02', name: 'now', arguments: '{}' } },
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
  });

  test('Anthropic: without a choice or parallel flag no tool_choice is sent', async () => {
    an.enqueue({ chunks: ['ok'] });
    await collect(claude, request({ model: 'claude-haiku-4-5' }));
    expect(an.messages[0]!.body.tool_choice).toBeUndefined();
    an.enqueue({ chunks: ['ok'] });
    await collect(claude, request({ model: 'claude-haiku-4-5', toolChoice: 'none' }));
    expect(an.messages[1]!.body.tool_choice).toEqual({ type: 'none' });
  });
});

test('with only the local model, /api/v1/chat/completions without a model refuses tools once it picked gaia-local', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-v1-tools-'));
  const config = loadConfig({ GAIA_ENV: 'test', GAIA_DATA_DIR: dir });
  const db = await openDb({
    url: 'sqlite::memory:',
    kind: 'sqlite',
    sqlitePath: join(dir, 'chat.db'),
    poolMax: 1,
    autoMigrate: true,
    seedDev: true,
    isProduction: false,
  });
  try {
    const app = createChatApp({ config, db, bus: new MemoryBus(), log: silentLogger, clients: {} });
    const identity = await signIdentity(config.internalSecret, {
      auth_type: 'jwt',
      sub: '00000000-0000-4000-8000-000000000001',
      email: 'dev@gaia.local',
      name: 'Dev',
      admin: false,
      rid: 'req-v1tools',
      ip: '127.0.0.1',
    });
    const post = (body: unknown) =>
      app.handle(
        new Request('http://chat.internal/api/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-gaia-identity': identity },
          body: JSON.stringify(body),
        }),
      );
    const refused = await post({ messages: [user('Weather?')], tools: [WEATHER] });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: unknown }).error).toMatchObject({
      code: 'unsupported_parameter',
      param: 'tools',
    });
    const legacy = await post({ messages: [user('Weather?')], functions: [WEATHER.function] });
    expect(((await legacy.json()) as { error: unknown }).error).toMatchObject({ param: 'functions' });
    // Without tools (or with tool_choice "none") the same request is answered.
    const plain = await post({ messages: [user('Weather?')], tools: [WEATHER], tool_choice: 'none' });
    expect(plain.status).toBe(200);
    const body = (await plain.json()) as {
      choices: { message: { content: string; tool_calls?: unknown } }[];
    };
    expect(body.choices[0]!.message.content).toStartWith('[gaia-local]');
    expect(body.choices[0]!.message.tool_calls).toBeUndefined();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
