/**
 * The reply stream: relays gateway `POST /api/v0.3/chat` with `stream: true` to the
 * browser as `data:` events. The relay writes its own metadata event (conversation id, persona name),
 * passes `content` through as it arrives, flattens `error`, drops `done`, and always ends with `[DONE]`.
 * Beside the raw text it sends `render` events with the whole reply so far as sanitized HTML (the same
 * Markdown renderer as stored replies, so a reply looks the same while it streams and after a reload), and
 * `tools` events with the activity line for the tool calls and agents of the turn.
 * A browser that goes away aborts the upstream call at once, so chat stores the partial answer and the
 * user's stream slot is free again.
 */
import { sseResponse } from '../../../src/http/sse.ts';
import { detailOf, json, Unauthenticated, type WebContext } from '../context.ts';
import { GatewayUnreachable } from '../gateway-client.ts';
import { renderChatMarkdown } from '../markdown.ts';
import { type ActivityCall, activityBlock, applyToolEvent } from './activity.ts';

const HEARTBEAT_MS = 15_000;
/**
 * Re-rendering the whole reply on every token would send O(n²) bytes for long answers; renders are spaced
 * by at least this much, and the last text is always rendered before the stream ends. The first token is
 * rendered at once.
 */
export const RENDER_INTERVAL_MS = 40;

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
async function* dataPayloads(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
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
  } catch (err) {
    // A cancel from our side (the browser left) ends the read; anything else is the relay's to report.
    if (!(err instanceof Error && err.name === 'AbortError')) throw err;
  }
}

export async function relayChatStream(ctx: WebContext, r: StreamRequest): Promise<Response> {
  const upstreamAbort = new AbortController();
  let upstreamReader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  // Aborting the request alone is not enough: the gateway counts the stream (and the user's stream slot)
  // until its body is cancelled, so a browser that leaves cancels both at once.
  const onClientGone = () => {
    upstreamAbort.abort(new Error('browser disconnected'));
    upstreamReader?.cancel().catch(() => undefined);
  };
  ctx.request.signal.addEventListener('abort', onClientGone, { once: true });

  let res: Response | null = null;
  let failure: string | null = null;
  if (!r.message.trim()) failure = 'Please enter a message.';
  else {
    try {
      res = await ctx.api('/api/v0.3/chat', {
        json: {
          message: r.message,
          conversation_id: r.conversationId || null,
          stream: true,
          tool_events: true,
        },
        signal: upstreamAbort.signal,
        headers: { accept: 'text/event-stream' },
      });
    } catch (err) {
      if (err instanceof Unauthenticated) throw err;
      // The browser left before the gateway answered: nobody is listening any more.
      if (upstreamAbort.signal.aborted) return new Response(null, { status: 499 });
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
      // Writes go through one chain: the render timer and the read loop both write.
      let chain: Promise<void> = Promise.resolve();
      const send = (v: unknown): Promise<void> => {
        chain = chain.then(() => (w.closed ? undefined : w.data(v))).catch(() => undefined);
        return chain;
      };
      let metaSent = false;
      const meta = async (conversationId: string) => {
        if (metaSent) return;
        metaSent = true;
        const m: Record<string, unknown> = { type: 'metadata', conversation_id: conversationId };
        if (r.persona) m.persona = r.persona;
        await send(m);
      };
      if (!res?.body) {
        await meta(r.conversationId);
        await send({ type: 'error', error: failure ?? 'Connection error. Please try again.' });
        await send('[DONE]');
        return;
      }

      let text = '';
      let renderedLength = -1;
      let lastRender = 0;
      let renderTimer: ReturnType<typeof setTimeout> | undefined;
      const render = () => {
        clearTimeout(renderTimer);
        renderTimer = undefined;
        if (text.length === renderedLength || text === '') return chain;
        renderedLength = text.length;
        lastRender = performance.now();
        return send({ type: 'render', html: renderChatMarkdown(text) });
      };
      const scheduleRender = () => {
        const wait = RENDER_INTERVAL_MS - (performance.now() - lastRender);
        if (wait <= 0) return render();
        renderTimer ??= setTimeout(() => void render(), wait);
        return chain;
      };
      const calls: ActivityCall[] = [];

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
        upstreamReader = res.body.getReader();
        if (w.closed || ctx.request.signal.aborted) onClientGone();
        for await (const payload of dataPayloads(upstreamReader)) {
          if (w.closed) break;
          // Read on to the end after [DONE], so the upstream stream closes normally rather than as a cancel.
          if (finished) continue;
          if (payload === '[DONE]') {
            await meta(r.conversationId);
            await render();
            await send('[DONE]');
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
            text += ev.content;
            await send({ type: 'content', content: ev.content });
            await scheduleRender();
          } else if (ev.type === 'tool_call' || ev.type === 'tool_result') {
            await meta(r.conversationId);
            // A tool (a specialist, an asset) may take a while: its events count as signs of life.
            arm();
            if (applyToolEvent(calls, ev)) await send({ type: 'tools', html: String(activityBlock(calls)) });
          } else if (ev.type === 'error') {
            await meta(r.conversationId);
            await render();
            const e = ev.error as { message?: unknown } | string | undefined;
            const msg =
              typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : 'Unknown error';
            await send({ type: 'error', error: msg });
          }
        }
      } catch (err) {
        if (!w.closed && !timedOut)
          ctx.app.log.warn('chat stream relay failed', { rid: ctx.rid, error: err });
      } finally {
        clearTimeout(timer);
        clearTimeout(renderTimer);
      }
      if (w.closed) {
        onClientGone();
        return;
      }
      if (!finished) {
        await meta(r.conversationId);
        await render();
        await send({
          type: 'error',
          error: timedOut
            ? 'The response timed out. Please try again.'
            : 'Connection error. Please try again.',
        });
        await send('[DONE]');
      }
      await chain;
    },
  );
}
