/**
 * The reply stream (spec/web.md §6.4): relays gateway `POST /api/v0.3/chat` with `stream: true` to the
 * browser as `data:` events. The relay writes its own metadata event (conversation id, persona name),
 * passes `content` through as it arrives, flattens `error`, drops `done`, and always ends with `[DONE]`.
 * A browser that goes away aborts the upstream call, so chat stores the partial answer.
 */
import { sseResponse } from '../../../src/http/sse.ts';
import { detailOf, json, Unauthenticated, type WebContext } from '../context.ts';
import { GatewayUnreachable } from '../gateway-client.ts';

const HEARTBEAT_MS = 15_000;

export interface StreamRequest {
  message: string;
  conversationId: string;
  persona: string | null;
  timeoutS: number;
}

type Event = { type: string; [k: string]: unknown };

function upstreamErrorText(status: number, body: unknown): string {
  if (status === 404) return 'Conversation not found.';
  if (status === 429) return 'Too many requests. Please slow down.';
  if (status === 409) return 'Another reply is still being written in this conversation. Please wait.';
  if (status >= 500) return 'Connection error. Please try again.';
  return detailOf(body) || 'The request could not be completed.';
}

/** Splits an SSE body into `data:` payloads (comments and other fields are skipped). */
async function* dataPayloads(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        nl = buf.indexOf('\n');
      }
    }
    if (data.length) yield data.join('\n');
  } finally {
    reader.releaseLock();
  }
}

export async function relayChatStream(ctx: WebContext, r: StreamRequest): Promise<Response> {
  const upstreamAbort = new AbortController();
  const onClientGone = () => upstreamAbort.abort(new Error('browser disconnected'));
  ctx.request.signal.addEventListener('abort', onClientGone, { once: true });

  let res: Response | null = null;
  let failure: string | null = null;
  if (!r.message.trim()) failure = 'Please enter a message.';
  else {
    try {
      res = await ctx.api('/api/v0.3/chat', {
        json: { message: r.message, conversation_id: r.conversationId || null, stream: true },
        signal: upstreamAbort.signal,
        headers: { accept: 'text/event-stream' },
      });
    } catch (err) {
      if (err instanceof Unauthenticated) throw err;
      if (!(err instanceof GatewayUnreachable)) throw err;
      failure = 'Connection error. Please try again.';
    }
  }
  if (res && res.status === 401) return json({ detail: 'Not authenticated' }, 401);
  if (res && !res.ok) {
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    failure = upstreamErrorText(res.status, body);
    res = null;
  }

  return sseResponse(
    { signal: ctx.request.signal, heartbeatMs: HEARTBEAT_MS, heartbeatBeforeFirst: false },
    async (w) => {
      w.signal.addEventListener('abort', onClientGone, { once: true });
      let metaSent = false;
      const meta = async (conversationId: string) => {
        if (metaSent) return;
        metaSent = true;
        const m: Record<string, unknown> = { type: 'metadata', conversation_id: conversationId };
        if (r.persona) m.persona = r.persona;
        await w.data(m);
      };
      if (!res?.body) {
        await meta(r.conversationId);
        await w.data({ type: 'error', error: failure ?? 'Connection error. Please try again.' });
        await w.data('[DONE]');
        return;
      }

      // No content for WEB_STREAM_TIMEOUT: give up, so the page is never left waiting forever.
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          upstreamAbort.abort(new Error('stream timeout'));
        }, r.timeoutS * 1000);
      };
      arm();
      let finished = false;
      try {
        for await (const payload of dataPayloads(res.body)) {
          if (w.closed) break;
          // Read on to the end after [DONE], so the upstream stream closes normally rather than as a cancel.
          if (finished) continue;
          if (payload === '[DONE]') {
            await meta(r.conversationId);
            await w.data('[DONE]');
            finished = true;
            clearTimeout(timer);
            continue;
          }
          let ev: Event;
          try {
            ev = JSON.parse(payload) as Event;
          } catch {
            continue;
          }
          if (ev.type === 'metadata') {
            await meta(typeof ev.conversation_id === 'string' ? ev.conversation_id : r.conversationId);
          } else if (ev.type === 'content' && typeof ev.content === 'string') {
            await meta(r.conversationId);
            arm();
            await w.data({ type: 'content', content: ev.content });
          } else if (ev.type === 'error') {
            await meta(r.conversationId);
            const e = ev.error as { message?: unknown } | string | undefined;
            const text =
              typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : 'Unknown error';
            await w.data({ type: 'error', error: text });
          }
        }
      } catch (err) {
        if (!w.closed && !timedOut)
          ctx.app.log.warn('chat stream relay failed', { rid: ctx.rid, error: err });
      } finally {
        clearTimeout(timer);
      }
      if (w.closed) {
        upstreamAbort.abort(new Error('browser disconnected'));
        await res.body.cancel().catch(() => undefined);
        return;
      }
      if (!finished) {
        await meta(r.conversationId);
        await w.data({
          type: 'error',
          error: timedOut
            ? 'The response timed out. Please try again.'
            : 'Connection error. Please try again.',
        });
        await w.data('[DONE]');
      }
    },
  );
}
