/**
 * Provider adapters against the wire-true fakes: the official SDKs talk to them unmodified, streaming works
 * token by token, usage is read from the stream, tool-call deltas are reassembled, errors are normalized and
 * an abort reaches the upstream request.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { createAnthropicProvider } from '../../services/chat/providers/anthropic.ts';
import { ProviderError } from '../../services/chat/providers/errors.ts';
import { createLocalProvider, localReply } from '../../services/chat/providers/local.ts';
import { createOpenAIProvider } from '../../services/chat/providers/openai.ts';
import type { Provider, ProviderEvent, ProviderRequest } from '../../services/chat/providers/types.ts';
import { loadConfig } from '../../src/config.ts';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { createGate, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';

const SECRETS = {
  GAIA_JWT_SECRET: 'x'.repeat(40),
  WEB_SESSION_SECRET: 'y'.repeat(40),
  ASSET_URL_SECRET: 'z'.repeat(40),
  GAIA_INTERNAL_SECRET: 'i'.repeat(40),
};

let oa: FakeOpenAI;
let an: FakeAnthropic;
let openai: Provider;
let claude: Provider;

beforeAll(async () => {
  oa = await startFakeOpenAI();
  an = await startFakeAnthropic();
  const config = loadConfig({
    ...SECRETS,
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

const req = (over: Partial<ProviderRequest> = {}): ProviderRequest => ({
  model: 'gpt-4o-mini',
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Hi there' }],
  maxTokens: 100,
  ...over,
});

async function collect(p: Provider, r: ProviderRequest, signal = new AbortController().signal) {
  const events: ProviderEvent[] = [];
  for await (const ev of p.stream(r, signal)) events.push(ev);
  return events;
}

const textOf = (events: ProviderEvent[]) =>
  events
    .filter((e) => e.type === 'text')
    .map((e) => (e as { text: string }).text)
    .join('');

describe('openai provider', () => {
  test('streams deltas, reads usage from the include_usage chunk and sends the system prompt', async () => {
    oa.enqueue({ chunks: ['Hel', 'lo'], usage: { prompt_tokens: 12, completion_tokens: 2 } });
    const events = await collect(openai, req());
    expect(events.filter((e) => e.type === 'text')).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
    ]);
    expect(events).toContainEqual({ type: 'usage', input: 12, output: 2 });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    const body = oa.completions[0]!.body;
    expect(body.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(oa.completions[0]!.headers.authorization).toBe('Bearer sk-test-openai');
  });

  test('reassembles tool-call deltas', async () => {
    oa.enqueue({
      chunks: [],
      toolCalls: [{ name: 'search_knowledge_base', arguments: '{"query":"oak trees"}' }],
    });
    const events = await collect(
      openai,
      req({
        tools: [{ name: 'search_knowledge_base', description: 'Search', parameters: { type: 'object' } }],
      }),
    );
    const call = events.find((e) => e.type === 'tool_call') as { call: { name: string; arguments: string } };
    expect(call.call.name).toBe('search_knowledge_base');
    expect(JSON.parse(call.call.arguments)).toEqual({ query: 'oak trees' });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
    expect(oa.completions[0]!.body.tools[0].function.name).toBe('search_knowledge_base');
  });

  test('HTTP errors become retryable ProviderErrors without URLs', async () => {
    oa.enqueue({ status: 503, errorMessage: `down, see ${oa.url}` });
    const err = await collect(openai, req()).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    expect(err.providerMessage).not.toContain('127.0.0.1');
    oa.enqueue({ status: 400, errorMessage: 'bad request' });
    const bad = await collect(openai, req()).catch((e) => e);
    expect(bad.rejected).toBe(true);
    expect(bad.retryable).toBe(false);
  });

  test('a mid-stream error event fails the stream after the first deltas', async () => {
    oa.enqueue({ chunks: ['a', 'b', 'c'], errorAfter: 2 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const ev of openai.stream(req(), new AbortController().signal))
        if (ev.type === 'text') seen.push(ev.text);
    })().catch((e) => e);
    expect(seen).toEqual(['a', 'b']);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.retryable).toBe(true);
  });

  test('aborting the signal aborts the upstream request', async () => {
    const gate = createGate();
    oa.enqueue({ chunks: ['one', 'two'], gate, holdAfter: 1 });
    const ctl = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const ev of openai.stream(req(), ctl.signal)) {
        if (ev.type === 'text') {
          seen.push(ev.text);
          ctl.abort();
        }
      }
    })().catch((e) => e);
    await run;
    await oa.completions[0]!.done;
    expect(seen).toEqual(['one']);
    expect(oa.completions[0]!.aborted).toBe(true);
    gate.release();
  });

  test('model listing is the health check', async () => {
    await openai.check(AbortSignal.timeout(2000));
    oa.modelsStatus = 500;
    await expect(openai.check(AbortSignal.timeout(2000))).rejects.toBeInstanceOf(ProviderError);
  });
});

describe('anthropic provider', () => {
  test('streams text, reads usage from message_start and message_delta, sends `system`', async () => {
    an.enqueue({ chunks: ['The old', ' oak'], usage: { input_tokens: 30, output_tokens: 4 } });
    const events = await collect(claude, req({ model: 'claude-haiku-4-5' }));
    expect(textOf(events)).toBe('The old oak');
    expect(events).toContainEqual({ type: 'usage', input: 30 });
    expect(events).toContainEqual({ type: 'usage', output: 4 });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    const body = an.messages[0]!.body;
    expect(body.system).toBe('You are terse.');
    expect(body.messages).toEqual([{ role: 'user', content: 'Hi there' }]);
    const h = an.messages[0]!.headers;
    expect(h['x-api-key'] ?? h.authorization?.replace('Bearer ', '')).toBe('sk-ant-test');
  });

  test('merges consecutive same-role turns and reassembles tool_use input', async () => {
    an.enqueue({
      chunks: ['Let me look.'],
      toolCalls: [{ name: 'read_kb_file', arguments: '{"path":"a.md"}' }],
    });
    const events = await collect(
      claude,
      req({
        model: 'claude-haiku-4-5',
        messages: [
          { role: 'assistant', content: 'orphan' },
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
        ],
      }),
    );
    expect(an.messages[0]!.body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
    ]);
    const call = events.find((e) => e.type === 'tool_call') as { call: { name: string; arguments: string } };
    expect(call.call).toMatchObject({ name: 'read_kb_file' });
    expect(JSON.parse(call.call.arguments)).toEqual({ path: 'a.md' });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
  });

  test('529 overloaded is retryable; max_tokens maps to length', async () => {
    an.enqueue({ status: 529 });
    const err = await collect(claude, req({ model: 'claude-haiku-4-5' })).catch((e) => e);
    expect(err.status).toBe(529);
    expect(err.retryable).toBe(true);
    expect(err.clientMessage).toBe('The language model provider failed (HTTP 529).');
    an.enqueue({ chunks: ['cut'], stopReason: 'max_tokens' });
    const events = await collect(claude, req({ model: 'claude-haiku-4-5' }));
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
  });

  test('a mid-stream overloaded error event surfaces after the content so far', async () => {
    an.enqueue({ chunks: ['x', 'y', 'z'], errorAfter: 1 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const ev of claude.stream(req({ model: 'claude-haiku-4-5' }), new AbortController().signal))
        if (ev.type === 'text') seen.push(ev.text);
    })().catch((e) => e);
    expect(seen).toEqual(['x']);
    expect(err).toBeInstanceOf(ProviderError);
  });

  test('a refused connection is a connection error', async () => {
    const config = loadConfig({
      ...SECRETS,
      ANTHROPIC_API_KEY: 'k',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:1',
    });
    const err = await collect(createAnthropicProvider(config.chat), req()).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('connection');
    expect(err.retryable).toBe(true);
  });
});

describe('local provider', () => {
  const local = createLocalProvider(loadConfig({ ...SECRETS, LOCAL_LLM_FAULTS: 'true' }).chat);

  test('is deterministic, labelled, counts turns and streams one word per delta', async () => {
    const r = req({
      personaName: 'Mu',
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi' },
        { role: 'user', content: '  What is 2+2?  ' },
      ],
    });
    const events = await collect(local, r);
    const text = textOf(events);
    expect(text).toBe(
      '[gaia-local] Offline reply from Mu (no language model is configured). Turn 2. You said: "What is 2+2?"',
    );
    const deltas = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
    expect(deltas[0]).toBe('[gaia-local] ');
    expect(deltas.join('')).toBe(text);
    expect(events).toContainEqual({ type: 'usage', output: Math.ceil(text.length / 4) });
    expect(textOf(await collect(local, r))).toBe(text);
  });

  test('quotes at most 200 code points', () => {
    const long = '😀'.repeat(250);
    const reply = localReply('Mu', [{ role: 'user', content: long }]);
    expect(reply.endsWith(`"${'😀'.repeat(200)}..."`)).toBe(true);
  });

  test('max_tokens cuts the reply and finishes with length', async () => {
    const events = await collect(local, req({ maxTokens: 5 }));
    expect(textOf(events).length).toBe(20);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
  });

  test('fault hooks: error before the first token, after three deltas, and hang until aborted', async () => {
    const before = await collect(
      local,
      req({ messages: [{ role: 'user', content: 'x [[local:error]]' }] }),
    ).catch((e) => e);
    expect(before).toBeInstanceOf(ProviderError);
    const seen: string[] = [];
    const after = await (async () => {
      for await (const ev of local.stream(
        req({ messages: [{ role: 'user', content: 'x [[local:error-after-3]]' }] }),
        new AbortController().signal,
      ))
        if (ev.type === 'text') seen.push(ev.text);
    })().catch((e) => e);
    expect(seen.length).toBe(3);
    expect(after).toBeInstanceOf(ProviderError);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 20);
    const hang = await collect(
      local,
      req({ messages: [{ role: 'user', content: '[[local:hang]]' }] }),
      ctl.signal,
    ).catch((e) => e);
    expect(hang.name).toBe('AbortError');
  });

  test('fault hooks are inert unless LOCAL_LLM_FAULTS is on', async () => {
    const plain = createLocalProvider(loadConfig(SECRETS).chat);
    const text = textOf(
      await collect(plain, req({ messages: [{ role: 'user', content: '[[local:error]]' }] })),
    );
    expect(text).toContain('You said: "[[local:error]]"');
  });
});
