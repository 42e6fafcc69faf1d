/**
 * A wire-true fake of the Anthropic Messages API on a loopback port: `POST /v1/messages` (JSON, and SSE with
 * the real event sequence message_start → content_block_start → content_block_delta… → content_block_stop →
 * message_delta → message_stop, including `tool_use` blocks with `input_json_delta`) and `GET /v1/models`.
 * `@anthropic-ai/sdk` talks to it unmodified through `baseURL: fake.url`.
 *
 * Scripted like the OpenAI fake (test/fakes/openai.ts): a FIFO queue of replies with delays, gates, HTTP
 * errors (529 overloaded, 500, …), mid-stream `error` events and cut connections; every request is recorded.
 */
import { createGate, fragmentsOf, type Gate, type RecordedRequest, type ScriptedToolCall } from './openai.ts';

export { createGate, type Gate, type RecordedRequest };

export interface AnthropicScript {
  chunks?: string[];
  toolCalls?: ScriptedToolCall[];
  status?: number;
  errorMessage?: string;
  /** Extra headers of an error reply (`retry-after` on a 429, as the real API sends). */
  headers?: Record<string, string>;
  delayMs?: number;
  chunkDelayMs?: number;
  gate?: Gate;
  holdAfter?: number;
  /** Streaming: after this many deltas, send an `event: error` (overloaded) and end the stream. */
  errorAfter?: number;
  cutAfter?: number;
  hang?: boolean;
  stopReason?: 'end_turn' | 'max_tokens' | 'tool_use' | 'stop_sequence';
  usage?: { input_tokens: number; output_tokens: number };
  model?: string;
}

export interface FakeAnthropic {
  /** Base URL without `/v1`, as the SDK's `baseURL` expects. */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  readonly messages: RecordedRequest[];
  models: string[];
  modelsStatus: number;
  enqueue(...scripts: AnthropicScript[]): void;
  reset(): void;
  stop(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function promptChars(body: any): number {
  const sys =
    typeof body?.system === 'string'
      ? body.system
      : Array.isArray(body?.system)
        ? body.system.map((b: any) => b.text ?? '').join('')
        : '';
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  let n = sys.length;
  for (const m of msgs) {
    if (typeof m.content === 'string') n += m.content.length;
    else if (Array.isArray(m.content)) for (const b of m.content) n += JSON.stringify(b).length;
  }
  return n;
}

export async function startFakeAnthropic(opts: { models?: string[] } = {}): Promise<FakeAnthropic> {
  const queue: AnthropicScript[] = [];
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const state = {
    models: opts.models ?? ['claude-haiku-4-5', 'claude-sonnet-4-5'],
    modelsStatus: 200,
  };

  const errorBody = (status: number, message: string) => ({
    type: 'error',
    error: { type: ERROR_TYPES[status] ?? 'api_error', message },
  });

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => {
        headers[k] = v;
      });
      let finish!: () => void;
      const rec: RecordedRequest = {
        method: req.method,
        path: url.pathname,
        headers,
        body: undefined,
        aborted: false,
        done: new Promise<void>((r) => {
          finish = r;
        }),
      };
      req.signal.addEventListener('abort', () => {
        rec.aborted = true;
        finish();
      });
      requests.push(rec);
      const reqId = `req_fake${++counter}`;

      if (req.method === 'GET' && url.pathname === '/v1/models') {
        finish();
        if (state.modelsStatus !== 200)
          return Response.json(errorBody(state.modelsStatus, 'models unavailable'), {
            status: state.modelsStatus,
          });
        return Response.json({
          data: state.models.map((id) => ({
            type: 'model',
            id,
            display_name: id,
            created_at: '2025-10-15T00:00:00Z',
          })),
          has_more: false,
          first_id: state.models[0] ?? null,
          last_id: state.models.at(-1) ?? null,
        });
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/messages') {
        finish();
        return Response.json(errorBody(404, `Unknown path ${url.pathname}`), { status: 404 });
      }
      // Older SDKs send `x-api-key`, current ones `Authorization: Bearer`; the API accepts both.
      if (!headers['x-api-key'] && !/^Bearer \S/.test(headers.authorization ?? '')) {
        finish();
        return Response.json(errorBody(401, 'x-api-key header is required'), { status: 401 });
      }

      const body = await req.json().catch(() => null);
      rec.body = body;
      const script: AnthropicScript = queue.shift() ?? {};
      const model = script.model ?? body?.model ?? 'claude-haiku-4-5';
      const id = `msg_fake${counter}`;

      if (script.hang) {
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r()));
        return new Response(null, { status: 499 });
      }
      if (script.delayMs) await sleep(script.delayMs);
      if (script.status && script.status >= 400) {
        finish();
        return Response.json(errorBody(script.status, script.errorMessage ?? 'Overloaded'), {
          status: script.status,
          headers: { 'request-id': reqId, ...script.headers },
        });
      }

      const chunks = script.chunks ?? ['Hello', ' from', ' fake', ' Claude.'];
      const text = chunks.join('');
      const toolCalls = (script.toolCalls ?? []).map((t, i) => ({
        ...t,
        id: t.id ?? `toolu_fake${counter}_${i}`,
      }));
      const usage = script.usage ?? {
        input_tokens: Math.max(1, Math.ceil(promptChars(body) / 4)),
        output_tokens: Math.max(1, Math.ceil(text.length / 4)),
      };
      const stopReason = script.stopReason ?? (toolCalls.length ? 'tool_use' : 'end_turn');

      if (!body?.stream) {
        finish();
        const content: unknown[] = [];
        if (text) content.push({ type: 'text', text });
        for (const t of toolCalls)
          content.push({ type: 'tool_use', id: t.id, name: t.name, input: JSON.parse(t.arguments || '{}') });
        return Response.json(
          {
            id,
            type: 'message',
            role: 'assistant',
            model,
            content,
            stop_reason: stopReason,
            stop_sequence: null,
            usage: { ...usage, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
          },
          { headers: { 'request-id': reqId } },
        );
      }

      const enc = new TextEncoder();
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (event: string, data: unknown) =>
            controller.enqueue(enc.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
          const overloaded = () => send('error', errorBody(529, 'Overloaded'));
          try {
            send('message_start', {
              type: 'message_start',
              message: {
                id,
                type: 'message',
                role: 'assistant',
                model,
                content: [],
                stop_reason: null,
                stop_sequence: null,
                usage: { input_tokens: usage.input_tokens, output_tokens: 1 },
              },
            });
            send('content_block_start', {
              type: 'content_block_start',
              index: 0,
              content_block: { type: 'text', text: '' },
            });
            send('ping', { type: 'ping' });
            for (let i = 0; i < chunks.length; i++) {
              if (rec.aborted) return;
              if (script.gate && i === (script.holdAfter ?? 0)) await script.gate.wait();
              if (script.errorAfter === i) {
                overloaded();
                controller.close();
                finish();
                return;
              }
              if (script.cutAfter === i) {
                controller.error(new Error('connection cut'));
                finish();
                return;
              }
              if (i > 0 && script.chunkDelayMs) await sleep(script.chunkDelayMs);
              send('content_block_delta', {
                type: 'content_block_delta',
                index: 0,
                delta: { type: 'text_delta', text: chunks[i] },
              });
            }
            if (script.gate && chunks.length <= (script.holdAfter ?? 0)) await script.gate.wait();
            if (script.errorAfter !== undefined && script.errorAfter >= chunks.length) {
              overloaded();
              controller.close();
              finish();
              return;
            }
            send('content_block_stop', { type: 'content_block_stop', index: 0 });
            // Tool-use blocks follow the text block, so their content-block indexes start at 1.
            for (const [i, t] of toolCalls.entries()) {
              const index = i + 1;
              send('content_block_start', {
                type: 'content_block_start',
                index,
                content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} },
              });
              // The API opens every tool input with an empty fragment before the JSON itself.
              for (const part of ['', ...fragmentsOf(t.arguments, t.fragments)]) {
                if (part && script.chunkDelayMs) await sleep(script.chunkDelayMs);
                send('content_block_delta', {
                  type: 'content_block_delta',
                  index,
                  delta: { type: 'input_json_delta', partial_json: part },
                });
              }
              send('content_block_stop', { type: 'content_block_stop', index });
            }
            send('message_delta', {
              type: 'message_delta',
              delta: { stop_reason: stopReason, stop_sequence: null },
              usage: { output_tokens: usage.output_tokens },
            });
            send('message_stop', { type: 'message_stop' });
            controller.close();
          } catch {
            // The client went away.
          }
          finish();
        },
      });
      return new Response(stream, {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'request-id': reqId,
        },
      });
    },
  });

  const port = server.port as number;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get messages() {
      return requests.filter((r) => r.path === '/v1/messages');
    },
    get models() {
      return state.models;
    },
    set models(v: string[]) {
      state.models = v;
    },
    get modelsStatus() {
      return state.modelsStatus;
    },
    set modelsStatus(v: number) {
      state.modelsStatus = v;
    },
    enqueue(...scripts) {
      queue.push(...scripts);
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      state.modelsStatus = 200;
    },
    async stop() {
      await server.stop(true);
    },
  };
}
