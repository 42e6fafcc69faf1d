/**
 * The client goes away at each stage of a chat stream, through the gateway: before the first byte (the
 * provider still thinking), after the first event (before any content), in the middle of the content, during
 * a tool round, and just before the terminator; with fetch and an AbortController, and with a raw TCP socket
 * closed abruptly.
 *
 * Whatever the stage:
 * - the provider request is abandoned (the fake sees its connection closed) within a few seconds;
 * - what is stored is exactly what the client was sent: the user message always; an assistant message only
 *   when text reached the client, holding precisely that text (never more, such as text Gaia still held back or
 *   the rest of a held reply), marked `partial` with `finish_reason: "client_disconnected"`;
 * - the gateway's open-streams gauge comes back to where it was (with one stream allowed per caller, a leaked
 *   slot would also turn the next stream into a 429), and the conversation is not left locked: the next
 *   request to the same conversation streams a whole answer and is stored after the cut one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { type AnthropicScript, type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import {
  createGate,
  type FakeOpenAI,
  type Gate,
  type OpenAIScript,
  type RecordedRequest,
  startFakeOpenAI,
} from '../fakes/openai.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { openStreams, payloads, readUntil, streamedText, streamsBackTo } from '../support/chat-streams.ts';
import { eventually } from '../support/eventually.ts';
import { DEV_API_KEY, type StackHandle, startStack } from '../support/stack.ts';

// A disconnect must reach the provider quickly; generous for a loaded 2-core machine.
const ABORT_WITHIN_MS = 3000;

/** What both fakes understand. */
type Script = OpenAIScript & AnthropicScript;

interface Family {
  name: string;
  path: string;
  /** The request body, into `conv` when the family stores conversations. */
  body(message: string, conv: string | null): Record<string, unknown>;
  /** The conversation's messages are stored (v1, v0.3); `/v1/chat/completions` is stateless. */
  stores: boolean;
  provider: 'openai' | 'anthropic';
  /** Text of the first event, sent before the provider's first token. */
  firstEvent: string;
}

const FAMILIES: Family[] = [
  {
    name: '/api/v1/chat',
    path: '/api/v1/chat',
    body: (message, conv) => ({ message, model: 'gpt-4o-mini', conversation_id: conv, stream: true }),
    stores: true,
    provider: 'openai',
    firstEvent: '"type": "metadata"',
  },
  {
    name: '/api/v0.3/chat',
    path: '/api/v0.3/chat',
    // v0.3 takes no model: it reaches the default provider, Claude.
    body: (message, conv) => ({ message, conversation_id: conv, stream: true }),
    stores: true,
    provider: 'anthropic',
    firstEvent: '"type": "metadata"',
  },
  {
    name: '/v1/chat/completions',
    path: '/v1/chat/completions',
    body: (message) => ({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: message }],
      stream: true,
    }),
    stores: false,
    provider: 'anthropic',
    firstEvent: '"role": "assistant"',
  },
];

interface Stage {
  name: string;
  script(gate: Gate): Script;
  /** What the client reads before leaving (nothing: it leaves once the provider has the request). */
  until?: (f: Family) => string;
  /** The text the client has seen when it leaves. */
  seen: string;
}

const STAGES: Stage[] = [
  { name: 'before the first byte, the provider still thinking', script: () => ({ hang: true }), seen: '' },
  {
    name: 'after the first event, before any content',
    script: (gate) => ({ chunks: ['Never', ' seen'], gate, holdAfter: 0 }),
    until: (f) => f.firstEvent,
    seen: '',
  },
  {
    name: 'in the middle of the content',
    script: (gate) => ({ chunks: ['Partial words', ' never sent'], gate, holdAfter: 1 }),
    until: () => 'Partial words',
    seen: 'Partial words',
  },
  {
    name: 'just before the terminator',
    // Every delta is out; the provider has not finished the message.
    script: (gate) => ({ chunks: ['All', ' the', ' words'], gate, holdAfter: 3 }),
    until: () => '" words"',
    seen: 'All the words',
  },
];

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** A raw HTTP/1.1 chat request on its own socket, to be cut with `destroy()` wherever the test likes. */
function rawStream(url: string, path: string, body: unknown) {
  const u = new URL(url);
  const payload = JSON.stringify(body);
  const socket = connect(Number(u.port), u.hostname);
  let data = '';
  socket.on('data', (b) => {
    data += b.toString('utf8');
  });
  socket.on('error', () => {});
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nx-api-key: ${DEV_API_KEY}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
  );
  return {
    socket,
    received: () => data,
    /** Waits until `needle` arrived on the socket. */
    until: (needle: string) => eventually(async () => (data.includes(needle) ? data : undefined), 5000),
  };
}

afterAll(async () => {
  await dropTestDatabases();
});

for (const backend of testBackends()) {
  describe(`client disconnects (${backend.name})`, () => {
    let s: StackHandle;
    let oa: FakeOpenAI;
    let an: FakeAnthropic;
    let baseline: number;

    beforeAll(async () => {
      oa = await startFakeOpenAI();
      an = await startFakeAnthropic();
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        env: {
          ANTHROPIC_API_KEY: 'sk-ant-disconnect',
          ANTHROPIC_BASE_URL: an.url,
          OPENAI_API_KEY: 'sk-disconnect',
          OPENAI_BASE_URL: oa.url,
          GAIA_MAX_CONCURRENT_STREAMS: '1',
        },
      });
      baseline = await openStreams();
    }, 60_000);

    afterAll(async () => {
      await s?.stop();
      await oa?.stop();
      await an?.stop();
    });

    const fakeOf = (f: Family) =>
      f.provider === 'openai'
        ? { enqueue: (x: Script) => oa.enqueue(x), calls: () => oa.completions }
        : { enqueue: (x: Script) => an.enqueue(x), calls: () => an.messages };

    /** Request number `n` (0-based) once the provider has read its body. */
    const received = (calls: () => RecordedRequest[], n: number) =>
      eventually(async () => (calls()[n]?.body !== undefined ? calls()[n] : undefined), 5000);

    const abandoned = (rec: RecordedRequest) =>
      eventually(async () => (rec.aborted ? true : undefined), ABORT_WITHIN_MS);

    const newConversation = async (): Promise<string> => {
      const r = await s.dev('/api/v1/conversations', post({ title: 'disconnects' }));
      expect(r.status).toBe(201);
      return ((await r.json()) as any).id;
    };

    const messagesOf = async (conv: string): Promise<any[]> => {
      const r = await s.dev(`/api/v1/conversations/${conv}/messages`);
      expect(r.status).toBe(200);
      return ((await r.json()) as any).messages;
    };

    /**
     * After the cut: the gauge is back, the next stream (into the same conversation, so a lock the cut
     * request still held would show) is whole, and the conversation holds the cut turn as the client saw it
     * followed by the new one.
     */
    const afterwards = async (f: Family, conv: string | null, message: string, seen: string) => {
      await streamsBackTo(baseline);
      fakeOf(f).enqueue({ chunks: ['Back', ' again.'] });
      const r = await s.dev(f.path, post(f.body('again', conv)));
      expect(r.status).toBe(200);
      const text = await r.text();
      expect(streamedText(text)).toBe('Back again.');
      expect(payloads(text).at(-1)).toBe('[DONE]');
      await streamsBackTo(baseline);
      if (!conv) return;
      const cut = seen
        ? [
            {
              role: 'assistant',
              content: seen,
              status: 'partial',
              finish_reason: 'client_disconnected',
            },
          ]
        : [];
      const msgs = await messagesOf(conv);
      expect(
        msgs.map((m) => ({
          role: m.role,
          content: m.content,
          status: m.status,
          ...(m.finish_reason ? { finish_reason: m.finish_reason } : {}),
          ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}),
        })),
      ).toEqual([
        { role: 'user', content: message, status: 'complete' },
        ...cut,
        { role: 'user', content: 'again', status: 'complete' },
        { role: 'assistant', content: 'Back again.', status: 'complete' },
      ]);
    };

    for (const f of FAMILIES)
      for (const stage of STAGES)
        test(`${f.name}: fetch aborted ${stage.name}`, async () => {
          const fake = fakeOf(f);
          const conv = f.stores ? await newConversation() : null;
          const n = fake.calls().length;
          const gate = createGate();
          fake.enqueue(stage.script(gate));
          const ctl = new AbortController();
          const message = `leaving ${stage.name}`;
          const res = await s.fetch(f.path, {
            ...post(f.body(message, conv)),
            headers: { 'content-type': 'application/json', 'x-api-key': DEV_API_KEY },
            signal: ctl.signal,
          });
          expect(res.status).toBe(200);
          const reader = res.body!.getReader();
          const seen = stage.until ? await readUntil(reader, stage.until(f)) : '';
          expect(streamedText(seen)).toBe(stage.seen);
          const rec = await received(fake.calls, n);
          ctl.abort();
          await reader.cancel().catch(() => {});
          await abandoned(rec);
          gate.release();
          await afterwards(f, conv, message, stage.seen);
        });

    test('/api/v0.3/chat: a raw socket closed before the first byte abandons the provider call; nothing but the user message is stored', async () => {
      const f = FAMILIES[1]!;
      const conv = await newConversation();
      const n = an.messages.length;
      an.enqueue({ hang: true });
      const raw = rawStream(s.url, f.path, f.body('raw and gone', conv));
      const rec = await received(() => an.messages, n);
      raw.socket.destroy();
      await abandoned(rec);
      await afterwards(f, conv, 'raw and gone', '');
    });

    test('/api/v1/chat: a raw socket closed mid-content stores exactly the text it was sent', async () => {
      const f = FAMILIES[0]!;
      const conv = await newConversation();
      const n = oa.completions.length;
      const gate = createGate();
      oa.enqueue({ chunks: ['Half a ', 'thought', ' and the rest'], gate, holdAfter: 2 });
      const raw = rawStream(s.url, f.path, f.body('cut the wire', conv));
      await raw.until('"thought"');
      const rec = await received(() => oa.completions, n);
      raw.socket.destroy();
      await abandoned(rec);
      gate.release();
      await afterwards(f, conv, 'cut the wire', 'Half a thought');
    });

    test('/api/v1/chat: leaving during a tool round abandons the next model call; only the text it saw is stored', async () => {
      const f = FAMILIES[0]!;
      const conv = await newConversation();
      const n = oa.completions.length;
      const gate = createGate();
      oa.enqueue(
        {
          chunks: ['Let me look. '],
          toolCalls: [{ id: 'call_kb', name: 'search_knowledge_base', arguments: '{"query":"dragons"}' }],
        },
        { chunks: ['Found nothing.'], gate, holdAfter: 0 },
      );
      const ctl = new AbortController();
      const res = await s.fetch(f.path, {
        ...post(f.body('any dragons?', conv)),
        headers: { 'content-type': 'application/json', 'x-api-key': DEV_API_KEY },
        signal: ctl.signal,
      });
      const reader = res.body!.getReader();
      const seen = await readUntil(reader, '"type": "tool_result"');
      expect(seen).toContain('"type": "tool_call"');
      expect(streamedText(seen)).toBe('Let me look. ');
      // The round is over and the model is asked again: the client leaves while it thinks.
      const next = await received(() => oa.completions, n + 1);
      ctl.abort();
      await reader.cancel().catch(() => {});
      await abandoned(next);
      gate.release();
      await afterwards(f, conv, 'any dragons?', 'Let me look. ');
    });

    test('/api/v0.3/chat: text held back for a game directive is not stored when the client leaves before it was sent', async () => {
      const f = FAMILIES[1]!;
      const conv = await newConversation();
      const n = an.messages.length;
      const gate = createGate();
      // The directive opens in the first delta and closes in the held one: v0.3 sends "Look: " and keeps the
      // rest until the directive is whole, so a client that leaves now never got it.
      an.enqueue({ chunks: ['Look: {"m": "wave"', '}'], gate, holdAfter: 1 });
      const ctl = new AbortController();
      const res = await s.fetch(f.path, {
        ...post(f.body('wave at me', conv)),
        headers: { 'content-type': 'application/json', 'x-api-key': DEV_API_KEY },
        signal: ctl.signal,
      });
      const reader = res.body!.getReader();
      const seen = await readUntil(reader, '"content": "Look: "');
      expect(streamedText(seen)).toBe('Look: ');
      const rec = await received(() => an.messages, n);
      ctl.abort();
      await reader.cancel().catch(() => {});
      await abandoned(rec);
      gate.release();
      await afterwards(f, conv, 'wave at me', 'Look: ');
    });
  });
}
