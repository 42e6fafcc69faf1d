/**
 * The language model provider misbehaves under a whole all-in-one Gaia: it never answers, it drops the
 * connection in the middle of a stream or before its first byte, it answers 429 (with a long Retry-After) or
 * 5xx. Gaia reaches both fakes (wire-true OpenAI and Anthropic) through the official SDKs and through TCP proxies
 * this test controls, so a "reset" is a real connection torn down under the SDK, not a scripted error.
 *
 * For every fault a client sees a clear answer in its own format within the provider timeouts: a JSON status
 * with the error envelope, or in a stream the family's error event followed by its terminators, never a 500
 * and never a hang. What is stored matches what the client was told (the user message always; an assistant
 * message only when text reached the client, marked partial). After each fault the next request through the
 * same provider succeeds and the gateway's open-streams gauge is back where it was, with a limit of one stream
 * per caller, so a leaked stream slot would turn that next stream into a 429.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type AnthropicScript, type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import {
  createGate,
  type FakeOpenAI,
  type OpenAIScript,
  type RecordedRequest,
  startFakeOpenAI,
} from '../fakes/openai.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import {
  openStreams,
  payloads,
  readRest,
  readUntil,
  streamedText,
  streamsBackTo,
} from '../support/chat-streams.ts';
import { eventually } from '../support/eventually.ts';
import { type StackHandle, startStack } from '../support/stack.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

// Short so a hung provider costs the test little; long enough that a healthy fake on a loaded 2-core machine
// always answers its first token in time.
const FIRST_TOKEN_MS = 1500;
// The gateway hop, the database writes and a busy machine on top of a timeout.
const SLACK_MS = 3000;

type Script = OpenAIScript & AnthropicScript;

interface ProviderCase {
  name: 'openai' | 'anthropic';
  /** The model a request names to reach this provider. */
  model: string;
  provider: 'openai' | 'claude';
  enqueue(s: Script): void;
  calls(): RecordedRequest[];
  proxy(): TcpProxy;
}

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

afterAll(async () => {
  await dropTestDatabases();
});

for (const backend of testBackends()) {
  describe(`provider faults (${backend.name})`, () => {
    let s: StackHandle;
    let oa: FakeOpenAI;
    let an: FakeAnthropic;
    let oaProxy: TcpProxy;
    let anProxy: TcpProxy;
    let baseline: number;

    beforeAll(async () => {
      oa = await startFakeOpenAI();
      an = await startFakeAnthropic();
      oaProxy = await startTcpProxy({ host: '127.0.0.1', port: oa.port });
      anProxy = await startTcpProxy({ host: '127.0.0.1', port: an.port });
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        env: {
          ANTHROPIC_API_KEY: 'sk-ant-faults',
          ANTHROPIC_BASE_URL: `http://127.0.0.1:${anProxy.port}`,
          OPENAI_API_KEY: 'sk-faults',
          OPENAI_BASE_URL: `http://127.0.0.1:${oaProxy.port}/v1`,
          LLM_FIRST_TOKEN_TIMEOUT_MS: String(FIRST_TOKEN_MS),
          LLM_IDLE_TIMEOUT_MS: String(FIRST_TOKEN_MS),
          // Each fault must reach the client; a fallback to the other provider would hide it.
          LLM_ENABLE_FALLBACK: 'false',
          GAIA_MAX_CONCURRENT_STREAMS: '1',
        },
      });
      baseline = await openStreams();
    }, 60_000);

    afterAll(async () => {
      await s?.stop();
      await oaProxy?.close();
      await anProxy?.close();
      await oa?.stop();
      await an?.stop();
    });

    const providers: ProviderCase[] = [
      {
        name: 'openai',
        model: 'gpt-4o-mini',
        provider: 'openai',
        enqueue: (x) => oa.enqueue(x),
        calls: () => oa.completions,
        proxy: () => oaProxy,
      },
      {
        name: 'anthropic',
        model: 'claude-haiku-4-5',
        provider: 'claude',
        enqueue: (x) => an.enqueue(x),
        calls: () => an.messages,
        proxy: () => anProxy,
      },
    ];

    /** Tears down every live connection between Gaia and the provider, then lets new ones through. */
    const reset = async (p: ProviderCase) => {
      await p.proxy().pause('blackhole');
      await p.proxy().resume();
    };

    /** Waits until the provider holds request number `n` (0-based), body read. */
    const received = (p: ProviderCase, n: number) =>
      eventually(async () => (p.calls()[n]?.body !== undefined ? p.calls()[n] : undefined), 5000);

    const newConversation = async (): Promise<string> => {
      const r = await s.dev('/api/v1/conversations', post({ title: 'faults' }));
      expect(r.status).toBe(201);
      return ((await r.json()) as any).id;
    };

    const messagesOf = async (conv: string): Promise<any[]> => {
      const r = await s.dev(`/api/v1/conversations/${conv}/messages`);
      expect(r.status).toBe(200);
      return ((await r.json()) as any).messages;
    };

    const conversationOf = (ssePayloads: string[]): string => JSON.parse(ssePayloads[0]!).conversation_id;

    /** The v1 stream's error chunk and terminators after `model`'s failure. */
    const v1Failure = (p: string[], model: string, message: string, type: string) => {
      expect(p.slice(-2)).toEqual(['{"type": "done", "finish_reason": "error"}', '[DONE]']);
      expect(JSON.parse(p.at(-3)!)).toEqual({
        id: expect.stringMatching(/^chat-[0-9a-f-]{36}$/),
        object: 'chat.completion.chunk',
        created: expect.any(Number),
        model,
        choices: [{ index: 0, delta: {}, finish_reason: 'error' }],
        error: { message, type },
      });
    };

    /** The v0.3 stream's error event and terminators. */
    const v03Failure = (p: string[], message: string, type: string) => {
      expect(p.slice(-3)).toEqual([
        `{"type": "error", "error": {"message": "${message}", "type": "${type}"}}`,
        '{"type": "done", "finish_reason": "error"}',
        '[DONE]',
      ]);
    };

    /** The `/v1/chat/completions` stream's error event (the SDKs raise it) and `[DONE]`. */
    const openaiFailure = (p: string[], message: string, code: string) => {
      expect(p.slice(-2)).toEqual([
        `{"error": {"message": "${message}", "type": "api_error", "param": null, "code": "${code}"}}`,
        '[DONE]',
      ]);
    };

    /** No poisoned state: the next stream through the same provider is whole, and no slot leaked. */
    const recovers = async (p: ProviderCase) => {
      await streamsBackTo(baseline);
      p.enqueue({ chunks: ['All', ' good.'] });
      const r = await s.dev('/api/v1/chat', post({ message: 'still there?', model: p.model, stream: true }));
      expect(r.status).toBe(200);
      const text = await r.text();
      expect(streamedText(text)).toBe('All good.');
      expect(payloads(text).slice(-2)).toEqual(['{"type": "done", "finish_reason": "stop"}', '[DONE]']);
      p.enqueue({ chunks: ['Fine.'] });
      const j = await s.dev('/api/v1/chat', post({ message: 'and JSON?', model: p.model }));
      expect(j.status).toBe(200);
      expect(((await j.json()) as any).choices[0].message.content).toBe('Fine.');
      await streamsBackTo(baseline);
    };

    for (const p of providers) {
      test(`${p.name} never answers: 504 and timeout events within the first-token timeout; the call is abandoned`, async () => {
        const timedOut = 'Chat completion failed: provider timed out';

        // JSON, into a conversation: the user message stays, no assistant message.
        const conv = await newConversation();
        let n = p.calls().length;
        p.enqueue({ hang: true });
        let t0 = performance.now();
        const json = await s.dev(
          '/api/v1/chat',
          post({ message: 'hello?', model: p.model, conversation_id: conv }),
        );
        expect([json.status, await json.json()]).toEqual([504, { detail: timedOut }]);
        expect(performance.now() - t0).toBeLessThan(FIRST_TOKEN_MS + SLACK_MS);
        await eventually(async () => (p.calls()[n]!.aborted ? true : undefined), 3000);
        expect((await messagesOf(conv)).map((m) => [m.role, m.content])).toEqual([['user', 'hello?']]);

        // The v1 stream: metadata, error chunk, done, [DONE].
        n = p.calls().length;
        p.enqueue({ hang: true });
        t0 = performance.now();
        const v1 = await s.dev('/api/v1/chat', post({ message: 'stream?', model: p.model, stream: true }));
        expect(v1.status).toBe(200);
        const v1p = payloads(await v1.text());
        expect(performance.now() - t0).toBeLessThan(FIRST_TOKEN_MS + SLACK_MS);
        expect(v1p).toHaveLength(4);
        expect(JSON.parse(v1p[0]!)).toMatchObject({ type: 'metadata', model: p.model });
        v1Failure(v1p, p.model, 'The language model provider timed out.', 'provider_timeout');
        await eventually(async () => (p.calls()[n]!.aborted ? true : undefined), 3000);
        expect((await messagesOf(conversationOf(v1p))).map((m) => m.role)).toEqual(['user']);

        // `/v1/chat/completions`, JSON and stream.
        p.enqueue({ hang: true });
        const oj = await s.dev(
          '/v1/chat/completions',
          post({ model: p.model, messages: [{ role: 'user', content: 'hi' }] }),
        );
        expect([oj.status, await oj.json()]).toEqual([
          504,
          {
            detail: timedOut,
            error: { message: timedOut, type: 'api_error', param: null, code: 'provider_timeout' },
          },
        ]);
        p.enqueue({ hang: true });
        const os = await s.dev(
          '/v1/chat/completions',
          post({ model: p.model, messages: [{ role: 'user', content: 'hi' }], stream: true }),
        );
        const osp = payloads(await os.text());
        expect(osp).toHaveLength(3);
        expect(JSON.parse(osp[0]!).choices[0].delta).toEqual({ role: 'assistant', content: '' });
        openaiFailure(osp, 'The language model provider timed out.', 'provider_timeout');

        // v0.3 names no model: it reaches the default provider (Claude) only.
        if (p.provider === 'claude') {
          p.enqueue({ hang: true });
          const v03 = await s.dev('/api/v0.3/chat', post({ message: 'anyone?', stream: true }));
          const v03p = payloads(await v03.text());
          expect(v03p).toHaveLength(4);
          v03Failure(v03p, 'The language model provider timed out.', 'provider_timeout');
          expect((await messagesOf(conversationOf(v03p))).map((m) => m.role)).toEqual(['user']);
        }
        await recovers(p);
      }, 60_000);

      test(`${p.name} drops the connection mid-stream: error event and terminators; the partial reply is stored as partial`, async () => {
        const run = async (path: string, body: Record<string, unknown>, conversation: boolean) => {
          const n = p.calls().length;
          const gate = createGate();
          p.enqueue({ chunks: ['Partial words', ' never sent'], gate, holdAfter: 1 });
          const r = await s.dev(path, post({ ...body, stream: true }));
          expect(r.status).toBe(200);
          const reader = r.body!.getReader();
          const seen = await readUntil(reader, 'Partial words');
          expect(seen).toContain('Partial words');
          await received(p, n);
          const t0 = performance.now();
          await reset(p);
          const all = await readRest(reader, seen);
          expect(performance.now() - t0).toBeLessThan(FIRST_TOKEN_MS + SLACK_MS);
          gate.release();
          expect(streamedText(all)).toBe('Partial words');
          const ps = payloads(all);
          if (conversation) {
            const msgs = await messagesOf(conversationOf(ps));
            expect(msgs.map((m) => m.role)).toEqual(['user', 'assistant']);
            expect(msgs[1]).toMatchObject({
              content: 'Partial words',
              status: 'partial',
              finish_reason: 'provider_error',
              provider: p.provider,
              model: p.model,
            });
          }
          return ps;
        };

        const broken = 'The language model provider could not be reached.';
        v1Failure(
          await run('/api/v1/chat', { message: 'tell me', model: p.model }, true),
          p.model,
          broken,
          'provider_error',
        );
        openaiFailure(
          await run(
            '/v1/chat/completions',
            { model: p.model, messages: [{ role: 'user', content: 'x' }] },
            false,
          ),
          broken,
          'provider_error',
        );
        const v02 = await run(
          '/api/v0.2/chat/stream',
          { message: 'x', provider: p.provider, model: p.model },
          false,
        );
        expect(v02.at(-1)).toBe('[DONE]');
        expect(JSON.parse(v02.at(-2)!)).toMatchObject({
          model: p.model,
          choices: [{ index: 0, delta: {}, finish_reason: 'error' }],
          error: { message: broken, type: 'provider_error' },
        });
        if (p.provider === 'claude')
          v03Failure(await run('/api/v0.3/chat', { message: 'a story' }, true), broken, 'provider_error');
        await recovers(p);
      }, 60_000);

      test(`${p.name} drops the connection before its first byte: 502 or error events; only the user message is stored`, async () => {
        const unreachable = 'Chat completion failed: provider unreachable';
        const conv = await newConversation();
        let n = p.calls().length;
        p.enqueue({ hang: true });
        const pending = s.dev(
          '/api/v1/chat',
          post({ message: 'knock', model: p.model, conversation_id: conv }),
        );
        await received(p, n);
        await reset(p);
        const json = await pending;
        expect([json.status, await json.json()]).toEqual([502, { detail: unreachable }]);
        expect((await messagesOf(conv)).map((m) => m.role)).toEqual(['user']);

        n = p.calls().length;
        p.enqueue({ hang: true });
        const v1 = await s.dev('/api/v1/chat', post({ message: 'knock', model: p.model, stream: true }));
        const reader = v1.body!.getReader();
        const head = await readUntil(reader, '"type": "metadata"');
        await received(p, n);
        await reset(p);
        const v1p = payloads(await readRest(reader, head));
        expect(v1p).toHaveLength(4);
        v1Failure(v1p, p.model, 'The language model provider could not be reached.', 'provider_error');
        expect((await messagesOf(conversationOf(v1p))).map((m) => m.role)).toEqual(['user']);

        n = p.calls().length;
        p.enqueue({ hang: true });
        const oj = s.dev(
          '/v1/chat/completions',
          post({ model: p.model, messages: [{ role: 'user', content: 'x' }] }),
        );
        await received(p, n);
        await reset(p);
        const ojr = await oj;
        expect([ojr.status, await ojr.json()]).toEqual([
          502,
          {
            detail: unreachable,
            error: { message: unreachable, type: 'api_error', param: null, code: 'provider_error' },
          },
        ]);
        await recovers(p);
      }, 60_000);

      for (const status of [429, 500, 503])
        test(`${p.name} answers ${status}: 502 at once (no waiting for Retry-After, no retry), error events in streams`, async () => {
          const failed = `Chat completion failed: provider returned HTTP ${status}`;
          const fault: Script = {
            status,
            errorMessage: status === 429 ? 'Rate limit reached' : 'Upstream trouble',
            headers: status === 429 ? { 'retry-after': '30' } : {},
          };
          const conv = await newConversation();
          let n = p.calls().length;
          p.enqueue(fault);
          const t0 = performance.now();
          const json = await s.dev(
            '/api/v1/chat',
            post({ message: 'busy?', model: p.model, conversation_id: conv }),
          );
          expect([json.status, await json.json()]).toEqual([502, { detail: failed }]);
          // The provider's 30 s Retry-After is its business with Gaia, not a wait imposed on the client.
          expect(performance.now() - t0).toBeLessThan(SLACK_MS);
          expect(p.calls().length).toBe(n + 1);
          expect((await messagesOf(conv)).map((m) => m.role)).toEqual(['user']);

          p.enqueue(fault);
          const oj = await s.dev(
            '/v1/chat/completions',
            post({ model: p.model, messages: [{ role: 'user', content: 'x' }] }),
          );
          expect([oj.status, await oj.json()]).toEqual([
            502,
            {
              detail: failed,
              error: { message: failed, type: 'api_error', param: null, code: 'provider_error' },
            },
          ]);

          n = p.calls().length;
          p.enqueue(fault);
          const v1 = await s.dev('/api/v1/chat', post({ message: 'busy?', model: p.model, stream: true }));
          const v1p = payloads(await v1.text());
          expect(v1p).toHaveLength(4);
          v1Failure(v1p, p.model, `The language model provider failed (HTTP ${status}).`, 'provider_error');
          expect(p.calls().length).toBe(n + 1);

          p.enqueue(fault);
          const os = await s.dev(
            '/v1/chat/completions',
            post({ model: p.model, messages: [{ role: 'user', content: 'x' }], stream: true }),
          );
          openaiFailure(
            payloads(await os.text()),
            `The language model provider failed (HTTP ${status}).`,
            'provider_error',
          );
          await recovers(p);
        }, 60_000);
    }
  });
}
