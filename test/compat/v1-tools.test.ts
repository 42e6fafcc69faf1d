/**
 * Client-defined tools through the gateway's `/v1/chat/completions`, driven by the official `openai` SDK the
 * way agent frameworks drive it: the model calls a function, the client runs it and sends a `role: "tool"`
 * result, the model answers. The same conversation runs against an OpenAI model (OpenAI fake) and a Claude
 * model (Anthropic fake), streamed and not, and must come back in the same OpenAI shape. Also: the legacy
 * `functions` form, the SDK's own tool runner, refusals, and what the providers actually received.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import OpenAI from 'openai';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { DEV_USER_ID, type StackHandle, startStack } from '../support/stack.ts';

type Msg = OpenAI.Chat.ChatCompletionMessageParam;

const WEATHER: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};
const PARIS = '{"city":"Paris","unit":"celsius"}';
const ROME = '{"city":"Rome","unit":"celsius"}';
const QUESTION: Msg[] = [
  { role: 'system', content: 'Answer in one sentence.' },
  { role: 'user', content: 'What is the weather in Paris and Rome?' },
];
const RESULTS: Record<string, string> = { Paris: '{"temp_c":18}', Rome: '{"temp_c":24}' };
const ANSWER = ['Paris is 18 °C', ' and Rome is 24 °C.'];

/** The parts of a completion a client acts on; ids and timestamps differ by provider and run. */
function shapeOf(c: OpenAI.Chat.ChatCompletion) {
  const choice = c.choices[0]!;
  return {
    object: c.object,
    finish_reason: choice.finish_reason,
    role: choice.message.role,
    content: choice.message.content,
    tool_calls: choice.message.tool_calls?.map((t) => ({
      type: t.type,
      name: t.type === 'function' ? t.function.name : null,
      arguments: t.type === 'function' ? JSON.parse(t.function.arguments) : null,
    })),
  };
}

/** Runs the client's side of each call, the way an agent loop does. */
function toolResults(calls: OpenAI.Chat.ChatCompletionMessageToolCall[]): Msg[] {
  return calls.map((c) => {
    if (c.type !== 'function') throw new Error('unexpected tool type');
    const args = JSON.parse(c.function.arguments) as { city: string };
    return { role: 'tool', tool_call_id: c.id, content: RESULTS[args.city]! };
  });
}

afterAll(async () => {
  await dropTestDatabases();
});

for (const backend of testBackends()) {
  describe(`/v1 client tools (${backend.name})`, () => {
    let s: StackHandle;
    let oa: FakeOpenAI;
    let an: FakeAnthropic;
    let client: OpenAI;

    beforeAll(async () => {
      oa = await startFakeOpenAI();
      an = await startFakeAnthropic();
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        env: {
          ANTHROPIC_API_KEY: 'sk-ant-v1tools',
          ANTHROPIC_BASE_URL: an.url,
          OPENAI_API_KEY: 'sk-v1tools',
          OPENAI_BASE_URL: oa.url,
          LOCAL_LLM_ENABLED: 'true',
          LOCAL_LLM_DELAY_MS: '1',
        },
      });
      client = new OpenAI({ apiKey: s.devKey, baseURL: `${s.url}/v1`, maxRetries: 0 });
    });

    afterAll(async () => {
      await s?.stop();
      await oa?.stop();
      await an?.stop();
    });

    beforeEach(() => {
      oa.reset();
      an.reset();
    });

    /** Scripts the provider behind `model`: first two parallel calls (arguments in 3 fragments), then text. */
    function scriptTwoSteps(model: string) {
      const calls = [
        { name: 'get_weather', arguments: PARIS, fragments: 3 },
        { name: 'get_weather', arguments: ROME, fragments: 3 },
      ];
      if (model.startsWith('claude')) an.enqueue({ chunks: [], toolCalls: calls }, { chunks: ANSWER });
      else oa.enqueue({ chunks: [], toolCalls: calls }, { chunks: ANSWER });
    }

    const MODELS = ['gpt-4o-mini', 'claude-haiku-4-5'] as const;

    async function nonStreaming(model: string) {
      scriptTwoSteps(model);
      const first = await client.chat.completions.create({
        model,
        messages: QUESTION,
        tools: [WEATHER],
        tool_choice: 'auto',
      });
      const calls = first.choices[0]!.message.tool_calls!;
      const second = await client.chat.completions.create({
        model,
        messages: [...QUESTION, first.choices[0]!.message, ...toolResults(calls)],
        tools: [WEATHER],
      });
      return { first, second };
    }

    async function streaming(model: string) {
      scriptTwoSteps(model);
      const fragments = new Map<number, string[]>();
      const stream = client.chat.completions.stream({
        model,
        messages: QUESTION,
        tools: [WEATHER],
        tool_choice: 'auto',
        stream_options: { include_usage: true },
      });
      stream.on('tool_calls.function.arguments.delta', (e) => {
        fragments.set(e.index, [...(fragments.get(e.index) ?? []), e.arguments_delta]);
      });
      const first = await stream.finalChatCompletion();
      const calls = first.choices[0]!.message.tool_calls!;
      let text = '';
      const answer = client.chat.completions.stream({
        model,
        messages: [...QUESTION, first.choices[0]!.message as Msg, ...toolResults(calls)],
        tools: [WEATHER],
      });
      answer.on('content', (delta) => {
        text += delta;
      });
      const second = await answer.finalChatCompletion();
      return { first, second, fragments, text };
    }

    test('a two-step function-calling conversation comes back in the same OpenAI shape from both providers', async () => {
      const shapes: unknown[] = [];
      for (const model of MODELS) {
        const { first, second } = await nonStreaming(model);
        expect(first.object).toBe('chat.completion');
        expect(first.model).toBe(model);
        const msg = first.choices[0]!.message;
        expect(msg.content).toBeNull();
        expect(first.choices[0]!.finish_reason).toBe('tool_calls');
        expect(msg.tool_calls).toHaveLength(2);
        for (const c of msg.tool_calls!) {
          expect(Object.keys(c).sort()).toEqual(['function', 'id', 'type']);
          expect(c.id.length).toBeGreaterThan(4);
        }
        expect(new Set(msg.tool_calls!.map((c) => c.id)).size).toBe(2);
        expect(second.choices[0]!.message.content).toBe(ANSWER.join(''));
        expect(second.choices[0]!.finish_reason).toBe('stop');
        expect(second.choices[0]!.message.tool_calls).toBeUndefined();
        shapes.push([shapeOf(first), shapeOf(second)]);
      }
      expect(shapes[0]).toEqual([
        {
          object: 'chat.completion',
          finish_reason: 'tool_calls',
          role: 'assistant',
          content: null,
          tool_calls: [
            { type: 'function', name: 'get_weather', arguments: JSON.parse(PARIS) },
            { type: 'function', name: 'get_weather', arguments: JSON.parse(ROME) },
          ],
        },
        {
          object: 'chat.completion',
          finish_reason: 'stop',
          role: 'assistant',
          content: ANSWER.join(''),
          tool_calls: undefined,
        },
      ]);
      expect(shapes[1]).toEqual(shapes[0]);
    });

    test('the OpenAI model received the tools, the choice and the results as the client sent them', async () => {
      const { first } = await nonStreaming('gpt-4o-mini');
      const [call, answer] = oa.completions;
      expect(call!.body.tools).toEqual([WEATHER]);
      expect(call!.body.tool_choice).toBe('auto');
      expect(call!.body.messages[0]).toEqual({ role: 'system', content: 'Answer in one sentence.' });
      const ids = first.choices[0]!.message.tool_calls!.map((c) => c.id);
      // The fake's own ids travel unchanged.
      expect(ids).toEqual([expect.stringMatching(/^call_fake/), expect.stringMatching(/^call_fake/)]);
      const sent = answer!.body.messages as Array<Record<string, unknown>>;
      expect(sent.at(-3)).toMatchObject({
        role: 'assistant',
        tool_calls: [
          { id: ids[0], type: 'function', function: { name: 'get_weather', arguments: PARIS } },
          { id: ids[1], type: 'function', function: { name: 'get_weather', arguments: ROME } },
        ],
      });
      expect(sent.slice(-2)).toEqual([
        { role: 'tool', tool_call_id: ids[0], content: RESULTS.Paris },
        { role: 'tool', tool_call_id: ids[1], content: RESULTS.Rome },
      ]);
    });

    test('the Claude model received input_schema tools, a tool_choice and tool_result blocks for its calls', async () => {
      const { first } = await nonStreaming('claude-haiku-4-5');
      const [call, answer] = an.messages;
      expect(call!.body.tools).toEqual([
        {
          name: 'get_weather',
          description: 'Current weather in a city',
          input_schema: WEATHER.function.parameters,
        },
      ]);
      expect(call!.body.tool_choice).toEqual({ type: 'auto' });
      expect(call!.body.system).toBe('Answer in one sentence.');
      const ids = first.choices[0]!.message.tool_calls!.map((c) => c.id);
      // Claude's ids are kept, so the results can be matched to its tool_use blocks.
      expect(ids).toEqual([expect.stringMatching(/^toolu_fake/), expect.stringMatching(/^toolu_fake/)]);
      const sent = answer!.body.messages as Array<{ role: string; content: unknown }>;
      expect(sent.at(-2)).toEqual({
        role: 'assistant',
        content: [
          { type: 'tool_use', id: ids[0], name: 'get_weather', input: JSON.parse(PARIS) },
          { type: 'tool_use', id: ids[1], name: 'get_weather', input: JSON.parse(ROME) },
        ],
      });
      expect(sent.at(-1)).toEqual({
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: ids[0], content: RESULTS.Paris },
          { type: 'tool_result', tool_use_id: ids[1], content: RESULTS.Rome },
        ],
      });
    });

    test('streamed, both providers give the SDK the same calls, with arguments in several fragments', async () => {
      const shapes: unknown[] = [];
      for (const model of MODELS) {
        const { first, second, fragments, text } = await streaming(model);
        expect(first.choices[0]!.finish_reason).toBe('tool_calls');
        expect(first.choices[0]!.message.content).toBeNull();
        for (const index of [0, 1]) {
          const parts = fragments.get(index) ?? [];
          expect(parts.filter((p) => p !== '').length).toBeGreaterThan(1);
          expect(parts.join('')).toBe(index === 0 ? PARIS : ROME);
        }
        expect(text).toBe(ANSWER.join(''));
        expect(second.choices[0]!.finish_reason).toBe('stop');
        shapes.push([shapeOf(first), shapeOf(second)]);
      }
      // And they match the non-streamed shape (content of a tool-only turn is null either way).
      expect(shapes[1]).toEqual(shapes[0]);
      expect((shapes[0] as unknown[])[0]).toMatchObject({
        finish_reason: 'tool_calls',
        content: null,
        tool_calls: [
          { type: 'function', name: 'get_weather', arguments: JSON.parse(PARIS) },
          { type: 'function', name: 'get_weather', arguments: JSON.parse(ROME) },
        ],
      });
      const answered = an.messages[1]!.body.messages.at(-1);
      expect(answered.content.map((b: { type: string }) => b.type)).toEqual(['tool_result', 'tool_result']);
    });

    test('the SSE chunks of a streamed call: id, type and name first, then argument fragments, then tool_calls', async () => {
      an.enqueue({
        chunks: [],
        toolCalls: [{ id: 'toolu_01AbC', name: 'get_weather', arguments: PARIS, fragments: 2 }],
      });
      const res = await s.dev('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'claude-haiku-4-5',
          messages: QUESTION,
          tools: [WEATHER],
          tool_choice: { type: 'function', function: { name: 'get_weather' } },
          parallel_tool_calls: false,
          stream: true,
        }),
      });
      expect(res.status).toBe(200);
      const chunks = (await res.text())
        .split('\n\n')
        .filter((e) => e.startsWith('data: '))
        .map((e) => e.slice(6));
      expect(chunks.at(-1)).toBe('[DONE]');
      const parsed = chunks.slice(0, -1).map((c) => JSON.parse(c));
      const deltas = parsed.map((c) => c.choices[0].delta);
      // A tool-only turn opens with `content: null` in the same chunk as the first call, as OpenAI's does.
      expect(deltas.slice(0, -1)).toEqual([
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              index: 0,
              id: 'toolu_01AbC',
              type: 'function',
              function: { name: 'get_weather', arguments: '' },
            },
          ],
        },
        { tool_calls: [{ index: 0, function: { arguments: PARIS.slice(0, 17) } }] },
        { tool_calls: [{ index: 0, function: { arguments: PARIS.slice(17) } }] },
      ]);
      expect(parsed.at(-1).choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'tool_calls' });
      expect(parsed.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(an.messages[0]!.body.tool_choice).toEqual({
        type: 'tool',
        name: 'get_weather',
        disable_parallel_tool_use: true,
      });
    });

    test('text the model writes before its calls streams first and stays in the message', async () => {
      for (const model of MODELS) {
        const script = {
          chunks: ['Let me', ' check.'],
          toolCalls: [{ name: 'get_weather', arguments: ROME }],
        };
        if (model.startsWith('claude')) an.enqueue(script);
        else oa.enqueue(script);
        const order: string[] = [];
        const stream = client.chat.completions.stream({ model, messages: QUESTION, tools: [WEATHER] });
        stream.on('content.delta', () => order.push('text'));
        stream.on('tool_calls.function.arguments.delta', () => order.push('call'));
        const done = await stream.finalChatCompletion();
        expect(order[0]).toBe('text');
        expect(order.indexOf('call')).toBeGreaterThan(order.lastIndexOf('text'));
        const msg = done.choices[0]!.message;
        expect(msg.content).toBe('Let me check.');
        expect(msg.tool_calls?.map((c) => c.type === 'function' && c.function.arguments)).toEqual([ROME]);
        expect(done.choices[0]!.finish_reason).toBe('tool_calls');
      }
    });

    test("the SDK's own tool runner completes its loop through Gaia", async () => {
      oa.enqueue(
        { chunks: [], toolCalls: [{ name: 'get_weather', arguments: '{"city":"Rome"}' }] },
        { chunks: ['Rome is 24 °C.'] },
      );
      const ran: string[] = [];
      const runner = client.chat.completions.runTools({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Weather in Rome?' }],
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Current weather in a city',
              parameters: WEATHER.function.parameters as Record<string, unknown>,
              parse: JSON.parse,
              function: (args: { city: string }) => {
                ran.push(args.city);
                return RESULTS[args.city]!;
              },
            },
          },
        ],
      });
      expect(await runner.finalContent()).toBe('Rome is 24 °C.');
      expect(ran).toEqual(['Rome']);
      expect(oa.completions[1]!.body.messages.at(-1)).toMatchObject({ role: 'tool', content: RESULTS.Rome });
    });

    test('the legacy functions form works: function_call out, role "function" results in', async () => {
      oa.enqueue(
        { chunks: [], toolCalls: [{ name: 'get_weather', arguments: PARIS }] },
        { chunks: ['18 °C in Paris.'] },
      );
      const legacyFn = WEATHER.function;
      const first = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: QUESTION,
        functions: [legacyFn],
      });
      const msg = first.choices[0]!.message;
      expect(first.choices[0]!.finish_reason).toBe('function_call');
      expect(msg.content).toBeNull();
      expect(msg.function_call).toEqual({ name: 'get_weather', arguments: PARIS });
      expect(msg.tool_calls).toBeUndefined();
      // Gaia speaks the tools form to the provider, one call at a time as the legacy form allows.
      const sentFirst = oa.completions[0]!.body;
      expect(sentFirst.tools).toEqual([WEATHER]);
      expect(sentFirst.parallel_tool_calls).toBe(false);
      expect(sentFirst.functions).toBeUndefined();

      const second = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [...QUESTION, msg, { role: 'function', name: 'get_weather', content: RESULTS.Paris! }],
        functions: [legacyFn],
        function_call: 'auto',
      });
      expect(second.choices[0]!.message.content).toBe('18 °C in Paris.');
      const sent = oa.completions[1]!.body;
      expect(sent.tool_choice).toBe('auto');
      const [assistant, result] = sent.messages.slice(-2);
      expect(assistant.tool_calls[0].id).toMatch(/^call_[A-Za-z0-9]{24}$/);
      expect(assistant.tool_calls[0].function).toEqual({ name: 'get_weather', arguments: PARIS });
      expect(result).toEqual({
        role: 'tool',
        tool_call_id: assistant.tool_calls[0].id,
        content: RESULTS.Paris,
      });
    });

    test('the legacy functions form streams function_call deltas on a Claude model', async () => {
      an.enqueue({ chunks: [], toolCalls: [{ name: 'get_weather', arguments: ROME, fragments: 2 }] });
      const stream = await client.chat.completions.create({
        model: 'claude-haiku-4-5',
        messages: QUESTION,
        functions: [WEATHER.function],
        stream: true,
      });
      const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.FunctionCall[] = [];
      let finish: string | null = null;
      for await (const chunk of stream) {
        const c = chunk.choices[0];
        if (c?.delta.function_call) deltas.push(c.delta.function_call);
        if (c?.finish_reason) finish = c.finish_reason;
      }
      expect(deltas[0]).toEqual({ name: 'get_weather', arguments: '' });
      expect(deltas.length).toBeGreaterThan(2);
      expect(deltas.map((d) => d.arguments).join('')).toBe(ROME);
      expect(finish).toBe('function_call');
      expect(an.messages[0]!.body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    });

    test('gaia-local refuses tools with 400 unsupported_parameter, but not with tool_choice "none"', async () => {
      const err = await client.chat.completions
        .create({ model: 'gaia-local', messages: QUESTION, tools: [WEATHER] })
        .catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.status).toBe(400);
      expect(err.error).toMatchObject({
        type: 'invalid_request_error',
        code: 'unsupported_parameter',
        param: 'tools',
      });
      const ok = await client.chat.completions.create({
        model: 'gaia-local',
        messages: QUESTION,
        tools: [WEATHER],
        tool_choice: 'none',
      });
      expect(ok.choices[0]!.message.content).toStartWith('[gaia-local]');
      expect(ok.choices[0]!.finish_reason).toBe('stop');
    });

    test('bad tool input is a 400 invalid_value naming the param, and no provider is called', async () => {
      const hundred29 = Array.from({ length: 129 }, (_, i) => ({
        type: 'function' as const,
        function: { name: `tool_${i}` },
      }));
      const cases: Array<[Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming>, string]> = [
        [{ tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tools.0.function.name'],
        [{ tools: [{ type: 'function', function: { name: 'a'.repeat(65) } }] }, 'tools.0.function.name'],
        [
          { tools: [{ type: 'function', function: { name: 'f', parameters: 'object' as never } }] },
          'tools.0.function.parameters',
        ],
        [{ tools: hundred29 }, 'tools'],
        [{ tools: [{ type: 'custom', function: { name: 'f' } } as never] }, 'tools.0.type'],
        [{ tools: [WEATHER], tool_choice: 'sometimes' as never }, 'tool_choice'],
        [
          { tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'get_time' } } },
          'tool_choice',
        ],
        [
          {
            tools: [WEATHER],
            messages: [...QUESTION, { role: 'tool', tool_call_id: 'call_unknown', content: '{}' }],
          },
          'messages.2.tool_call_id',
        ],
      ];
      for (const model of MODELS)
        for (const [over, param] of cases) {
          const err = await client.chat.completions
            .create({
              model,
              messages: QUESTION,
              ...over,
            } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
            .catch((e) => e);
          expect(err).toBeInstanceOf(OpenAI.BadRequestError);
          expect({ param: err.error?.param, code: err.error?.code, type: err.error?.type }).toEqual({
            param,
            code: 'invalid_value',
            type: 'invalid_request_error',
          });
        }
      expect(oa.completions).toHaveLength(0);
      expect(an.messages).toHaveLength(0);
    });

    test('the /api/v1/chat/completions messages form accepts tools too', async () => {
      oa.enqueue({ chunks: [], toolCalls: [{ name: 'get_weather', arguments: ROME }] });
      const res = await s.dev('/api/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: QUESTION, tools: [WEATHER] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as OpenAI.Chat.ChatCompletion;
      expect(body.choices[0]!.finish_reason).toBe('tool_calls');
      const call = body.choices[0]!.message
        .tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
      expect(call.function).toEqual({
        name: 'get_weather',
        arguments: ROME,
      });
    });

    test('usage and cost of tool-calling completions are recorded like any other', async () => {
      oa.enqueue({
        chunks: [],
        toolCalls: [{ name: 'get_weather', arguments: ROME }],
        usage: { prompt_tokens: 777, completion_tokens: 33 },
      });
      const done = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: QUESTION,
        tools: [WEATHER],
      });
      expect(done.usage).toEqual({ prompt_tokens: 777, completion_tokens: 33, total_tokens: 810 });
      const t = s.stack.db.t.llmUsage;
      const rows = await s.stack.db.orm
        .select()
        .from(t)
        .where(and(eq(t.userId, DEV_USER_ID), eq(t.inputTokens, 777)));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        endpoint: '/v1/chat/completions',
        model: 'gpt-4o-mini',
        provider: 'openai',
        outputTokens: 33,
        status: 'ok',
        estimated: false,
      });
      expect(rows[0]!.costUsd).toBeGreaterThan(0);
    });
  });
}
