/**
 * A wire-true fake of the OpenAI API on a loopback port: `POST /v1/chat/completions` (JSON and SSE, with
 * tool-call deltas and the `stream_options.include_usage` chunk) and `GET /v1/models`. The official `openai`
 * SDK talks to it unmodified through `baseURL: fake.url`.
 *
 * Each test scripts the replies it needs (a FIFO queue; an empty queue answers with a default text) and can
 * hold a stream open at a gate, inject HTTP errors, fail or cut a stream mid-way, and inspect every request
 * received, including whether the client aborted it.
 */

export interface Gate {
  readonly released: boolean;
  release(): void;
  /** Resolves once released. */
  wait(): Promise<void>;
}

export function createGate(): Gate {
  let resolve!: () => void;
  let released = false;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    get released() {
      return released;
    },
    release() {
      released = true;
      resolve();
    },
    wait: () => promise,
  };
}

export interface ScriptedToolCall {
  id?: string;
  name: string;
  /** JSON text of the arguments; streamed in fragments like the real API does. */
  arguments: string;
  /** How many fragments the arguments are streamed in (default 2). */
  fragments?: number;
}

/** The arguments cut into `n` nearly equal pieces (at least one, possibly empty). */
export function fragmentsOf(text: string, n = 2): string[] {
  const count = Math.max(1, Math.min(n, text.length || 1));
  const size = Math.ceil(text.length / count);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(text.slice(i * size, (i + 1) * size));
  return out.filter((p, i) => p !== '' || i === 0);
}

export interface OpenAIScript {
  /** Text pieces: one delta each when streaming, joined otherwise. */
  chunks?: string[];
  toolCalls?: ScriptedToolCall[];
  /** Answer with this HTTP status and an OpenAI error body instead of a completion. */
  status?: number;
  errorMessage?: string;
  /** Extra headers of an error reply (`retry-after` on a 429, as the real API sends). */
  headers?: Record<string, string>;
  /** Wait before sending the response headers. */
  delayMs?: number;
  /** Wait between streamed deltas. */
  chunkDelayMs?: number;
  /** Streaming: after `holdAfter` deltas (default 0), wait for this gate before the rest. */
  gate?: Gate;
  holdAfter?: number;
  /** Streaming: after this many deltas, send an `{"error": …}` event and end the stream. */
  errorAfter?: number;
  /** Streaming: after this many deltas, drop the connection without a terminator. */
  cutAfter?: number;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** Token counts reported; `null` reports none (an OpenAI-compatible server without usage). */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  /** Model name in the reply (default: the requested one). */
  model?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: any;
  /** Set when the client went away before the reply was complete. */
  aborted: boolean;
  /** Resolves when the request finished or was aborted. */
  done: Promise<void>;
}

export interface FakeOpenAI {
  /** Base URL including `/v1`, as the SDK's `baseURL` expects. */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Chat completion requests only. */
  readonly completions: RecordedRequest[];
  /** Models listed by `GET /v1/models`. */
  models: string[];
  /** Status of `GET /v1/models` (to exercise health checks). */
  modelsStatus: number;
  enqueue(...scripts: OpenAIScript[]): void;
  reset(): void;
  stop(): Promise<void>;
}

const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function promptText(body: any): string {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  return msgs
    .map((m: any) =>
      typeof m.content === 'string'
        ? m.content
        : Array.isArray(m.content)
          ? m.content.map((p: any) => p?.text ?? '').join('')
          : '',
    )
    .join('\n');
}

function errorType(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export async function startFakeOpenAI(opts: { models?: string[] } = {}): Promise<FakeOpenAI> {
  const queue: OpenAIScript[] = [];
  const requests: RecordedRequest[] = [];
  let counter = 0;

  const state = {
    models: opts.models ?? [...DEFAULT_MODELS],
    modelsStatus: 200,
  };

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    // Held streams may stay silent for a while; the fake must not cut them itself.
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

      if (req.method === 'GET' && url.pathname === '/v1/models') {
        finish();
        if (state.modelsStatus !== 200)
          return Response.json(
            { error: { message: 'models unavailable', type: 'server_error', param: null, code: null } },
            { status: state.modelsStatus },
          );
        return Response.json({
          object: 'list',
          data: state.models.map((id) => ({ id, object: 'model', created: 1721172741, owned_by: 'openai' })),
        });
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
        finish();
        return Response.json(
          { error: { message: `Unknown path ${url.pathname}`, type: 'invalid_request_error' } },
          { status: 404 },
        );
      }

      const body = await req.json().catch(() => null);
      rec.body = body;
      const script: OpenAIScript = queue.shift() ?? {};
      const model = script.model ?? body?.model ?? 'gpt-4o-mini';
      const id = `chatcmpl-fake${++counter}`;
      const created = Math.floor(Date.now() / 1000);

      if (script.hang) {
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r()));
        return new Response(null, { status: 499 });
      }
      if (script.delayMs) await sleep(script.delayMs);
      if (script.status && script.status >= 400) {
        finish();
        return Response.json(
          {
            error: {
              message: script.errorMessage ?? `Fake OpenAI error ${script.status}`,
              type: errorType(script.status),
              param: null,
              code: null,
            },
          },
          { status: script.status, headers: script.headers },
        );
      }

      const chunks = script.chunks ?? ['Hello', ' from', ' fake', ' OpenAI.'];
      const text = chunks.join('');
      const usage =
        script.usage === null
          ? null
          : (script.usage ?? {
              prompt_tokens: estimateTokens(promptText(body)),
              completion_tokens: estimateTokens(text),
            });
      const usageObj = usage && { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
      const toolCalls = (script.toolCalls ?? []).map((t, i) => ({
        ...t,
        id: t.id ?? `call_fake${counter}_${i}`,
      }));
      const finishReason = script.finishReason ?? (toolCalls.length ? 'tool_calls' : 'stop');

      if (!body?.stream) {
        finish();
        const message: Record<string, unknown> = {
          role: 'assistant',
          content: toolCalls.length ? null : text,
        };
        if (toolCalls.length)
          message.tool_calls = toolCalls.map((t) => ({
            id: t.id,
            type: 'function',
            function: { name: t.name, arguments: t.arguments },
          }));
        return Response.json({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
          ...(usageObj ? { usage: usageObj } : {}),
        });
      }

      const includeUsage = body?.stream_options?.include_usage === true;
      const enc = new TextEncoder();
      const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(includeUsage ? { usage: null } : {}),
      });
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (obj: unknown) => controller.enqueue(enc.encode(`data: ${JSON.stringify(obj)}\n\n`));
          try {
            send(chunk({ role: 'assistant', content: '' }, null));
            for (let i = 0; i < chunks.length; i++) {
              if (rec.aborted) return;
              if (script.gate && i === (script.holdAfter ?? 0)) await script.gate.wait();
              if (script.errorAfter === i) {
                send({
                  error: {
                    message: 'The server had an error',
                    type: 'server_error',
                    param: null,
                    code: null,
                  },
                });
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
              send(chunk({ content: chunks[i] }, null));
            }
            if (script.gate && chunks.length <= (script.holdAfter ?? 0)) await script.gate.wait();
            if (script.errorAfter !== undefined && script.errorAfter >= chunks.length) {
              send({
                error: { message: 'The server had an error', type: 'server_error', param: null, code: null },
              });
              controller.close();
              finish();
              return;
            }
            for (const [index, t] of toolCalls.entries()) {
              const [head = '', ...rest] = fragmentsOf(t.arguments, t.fragments);
              send(
                chunk(
                  {
                    tool_calls: [
                      { index, id: t.id, type: 'function', function: { name: t.name, arguments: head } },
                    ],
                  },
                  null,
                ),
              );
              for (const part of rest) {
                if (script.chunkDelayMs) await sleep(script.chunkDelayMs);
                send(chunk({ tool_calls: [{ index, function: { arguments: part } }] }, null));
              }
            }
            send(chunk({}, finishReason));
            if (includeUsage && usageObj)
              send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageObj });
            controller.enqueue(enc.encode('data: [DONE]\n\n'));
            controller.close();
          } catch {
            // The client went away; nothing left to send.
          }
          finish();
        },
      });
      return new Response(stream, {
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
      });
    },
  });

  const port = server.port as number;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    get completions() {
      return requests.filter((r) => r.path === '/v1/chat/completions');
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
