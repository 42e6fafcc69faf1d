/**
 * Relaying a service's SSE stream to the client: chunk by chunk, with the
 * client's disconnect passed upstream, and a guard against a silent upstream: after `silenceMs` without a
 * byte the gateway ends the stream itself with the family's error event and terminators and
 * aborts the upstream request. Chat sends `: ping` every 15 s, so only a hung service trips this.
 */
import { pyJson } from '../../../src/http/sse.ts';

export type StreamFamily = 'v1' | 'v0.3' | 'v0.2' | 'openai';

/** Which event vocabulary a chat path streams. */
export function streamFamily(path: string): StreamFamily | undefined {
  const p = path.replace(/\/+$/, '');
  if (p === '/api/v0.3/chat') return 'v0.3';
  if (p === '/api/v1/chat') return 'v1';
  if (p === '/v1/chat/completions') return 'openai';
  if (p.startsWith('/api/v0.2/chat') || p.startsWith('/api/v1/chat/')) return 'v0.2';
  return undefined;
}

const TIMEOUT_ERROR = { message: 'The chat service stopped responding.', type: 'provider_timeout' };

/** The closing events of a stream the gateway has to cut, in the family's own format. */
export function silenceTerminators(
  family: StreamFamily,
  last: { id?: string; model?: string; created?: number; openaiChunks?: boolean },
): string {
  const data = (v: unknown) => `data: ${typeof v === 'string' ? v : pyJson(v)}\n\n`;
  const chunkError = {
    id: last.id ?? `chat-${crypto.randomUUID()}`,
    object: 'chat.completion.chunk',
    created: last.created ?? Math.floor(Date.now() / 1000),
    model: last.model ?? 'unknown',
    choices: [{ index: 0, delta: {}, finish_reason: 'error' }],
    error: TIMEOUT_ERROR,
  };
  switch (family) {
    case 'v0.3':
      return (
        data({ type: 'error', error: TIMEOUT_ERROR }) +
        data({ type: 'done', finish_reason: 'error' }) +
        data('[DONE]')
      );
    case 'v1':
      return data(chunkError) + data({ type: 'done', finish_reason: 'error' }) + data('[DONE]');
    case 'v0.2':
      return data(chunkError) + data('[DONE]');
    case 'openai':
      return (
        data({
          error: { message: TIMEOUT_ERROR.message, type: 'api_error', param: null, code: 'provider_timeout' },
        }) + data('[DONE]')
      );
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export interface RelayOptions {
  /** Runs once when the stream ends, fails, is cut, or the client goes away. */
  done: () => void;
  family?: StreamFamily;
  silenceMs?: number;
}

export function relayStream(
  body: ReadableStream<Uint8Array>,
  opts: RelayOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let arm: (() => void) | undefined;
  // Remembered so a cut v1/v0.2 stream can name its id and model like the service would.
  const last: { id?: string; model?: string; created?: number } = {};
  const end = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    opts.done();
  };
  const remember = (chunk: Uint8Array) => {
    const text = decoder.decode(chunk);
    const m =
      /"id": "([^"]+)", "object": "chat\.completion\.chunk", "created": (\d+), "model": "([^"]*)"/.exec(text);
    if (m) {
      last.id = m[1];
      last.created = Number(m[2]);
      last.model = m[3];
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (!opts.family || !opts.silenceMs) return;
        const family = opts.family;
        const silenceMs = opts.silenceMs;
        // One timer for the whole stream, pushed back on every chunk (a new timer per chunk was a
        // measurable share of the garbage 1,000 finishing streams leave behind).
        arm = () => {
          if (timer) {
            timer.refresh();
            return;
          }
          timer = setTimeout(() => {
            if (finished) return;
            try {
              controller.enqueue(encoder.encode(silenceTerminators(family, last)));
              controller.close();
            } catch {
              // the client is already gone
            }
            end();
            void reader.cancel(new Error('upstream silent')).catch(() => {});
          }, silenceMs);
        };
        arm();
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (finished) return;
          if (done) {
            end();
            controller.close();
            return;
          }
          if (opts.family) {
            // A stream's id, creation time and model are the same in every chunk: read once.
            if ((opts.family === 'v1' || opts.family === 'v0.2') && last.id === undefined) remember(value);
            arm?.();
          }
          controller.enqueue(value);
        } catch (err) {
          if (finished) return;
          end();
          controller.error(err);
        }
      },
      cancel(reason) {
        end();
        // Propagates the disconnect upstream, so chat aborts the provider and saves the partial answer.
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
