/**
 * The four SSE families, byte for byte as their clients parse them: unified (`/api/v1/chat`), clean (`/api/v0.3/chat`),
 * multi-provider (`/api/v0.2/chat`) and pure OpenAI (`/v1/chat/completions`). Each encoder turns the engine's
 * deltas and outcome into its family's events and terminators; `streamTurn` wires one to a response, with
 * heartbeats and client-disconnect handling from the kernel's SSE writer.
 */
import type { Config } from '../../../src/config.ts';
import { type SseWriter, sseResponse } from '../../../src/http/sse.ts';
import type { Logger } from '../../../src/log.ts';
import type { ChatEngine, PreparedTurn, TurnResult } from '../engine/pipeline.ts';
import type { ToolEvent } from '../engine/tool-loop.ts';
import { openaiFinishReason, usesLegacyFunctions } from '../openai-compat/service.ts';
import type { ToolCallDelta } from '../providers/types.ts';

export type Family = 'unified' | 'clean' | 'multi' | 'openai';

export interface StreamError {
  message: string;
  type: 'provider_error' | 'provider_timeout' | 'internal_error';
}

export interface Encoder {
  start(): Promise<void>;
  delta(text: string): Promise<void>;
  /** Client-tool call fragments (`/v1` streams). */
  toolDelta?(delta: ToolCallDelta): Promise<void>;
  /** Calls and results of the tools the engine runs, for families that show them. */
  toolEvent?(event: ToolEvent): Promise<void>;
  end(result: TurnResult): Promise<void>;
  fail(err: StreamError, result: TurnResult | null): Promise<void>;
  /** Characters of text taken in `delta` but not written yet. */
  held?(): number;
}

const unix = () => Math.floor(Date.now() / 1000);

export function usageBoth(r: TurnResult) {
  return {
    prompt_tokens: r.usage.input,
    completion_tokens: r.usage.output,
    total_tokens: r.usage.input + r.usage.output,
    input_tokens: r.usage.input,
    output_tokens: r.usage.output,
  };
}

/** Whether a turn used tools, and only the KB's (the route types Python clients already know). */
function routeType(r: TurnResult): 'direct' | 'kb_tools' | 'tools' {
  if (!r.toolsUsed.length) return 'direct';
  return r.toolSources.every((s) => s === 'kb') ? 'kb_tools' : 'tools';
}

/** The `_metadata` block of chat answers; `tools_used` only when tools ran, `warnings` only when non-empty. */
export function metadataOf(turn: PreparedTurn, r: TurnResult, opts: { conversation?: boolean } = {}) {
  const meta: Record<string, unknown> = {
    route_type: routeType(r),
    routing_time_ms: 0,
    llm_time_ms: r.llmMs,
    total_time_ms: r.totalMs,
    request_id: turn.requestId,
  };
  if (opts.conversation !== false) meta.conversation_id = turn.conversation?.id ?? null;
  meta.message_id = r.messageId;
  meta.provider = r.model.provider;
  meta.model = r.model.id;
  meta.persona_id = turn.persona?.id ?? null;
  meta.fallback_used = r.fallbackUsed;
  meta.cost_usd = r.costUsd;
  if (r.toolsUsed.length) meta.tools_used = r.toolsUsed;
  if (r.toolRoundsExhausted) meta.tool_rounds_exhausted = true;
  if (r.scenario) meta.scenario = r.scenario;
  if (turn.warnings.length) meta.warnings = turn.warnings;
  return meta;
}

/** Unified: metadata → chunks → final chunk with usage and `_metadata` → done → [DONE]. */
function unifiedEncoder(w: SseWriter, turn: PreparedTurn): Encoder {
  const created = unix();
  let model = turn.model.id;
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id: turn.requestId,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return {
    async start() {
      await w.data({
        type: 'metadata',
        conversation_id: turn.conversation?.id ?? null,
        model: turn.model.id,
        timestamp: created,
      });
    },
    async delta(text) {
      await w.data(chunk({ content: text }, null));
    },
    async toolEvent(ev) {
      await w.data(ev);
    },
    async end(r) {
      model = r.model.id;
      await w.data({ ...chunk({}, r.finishReason), usage: usageBoth(r), _metadata: metadataOf(turn, r) });
      await w.data({ type: 'done', finish_reason: r.finishReason });
      await w.data('[DONE]');
    },
    async fail(err, r) {
      if (r) model = r.model.id;
      await w.data({ ...chunk({}, 'error'), error: { message: err.message, type: err.type } });
      await w.data({ type: 'done', finish_reason: 'error' });
      await w.data('[DONE]');
    },
  };
}

/**
 * Holds back text from an opening `{"m"` until its matching `}` (or 2,000 characters), so a game directive
 * never straddles two `content` events.
 */
export class DirectiveBuffer {
  private pending = '';
  static readonly OPENER = '{"m"';
  static readonly LIMIT = 2000;

  push(text: string): string {
    this.pending += text;
    return this.take();
  }

  /** Characters held back, not yet given out. */
  get size(): number {
    return this.pending.length;
  }

  flush(): string {
    const out = this.pending;
    this.pending = '';
    return out;
  }

  private take(): string {
    let out = '';
    for (;;) {
      const p = this.pending;
      const idx = p.indexOf(DirectiveBuffer.OPENER);
      if (idx === -1) {
        const hold = partialOpener(p);
        out += p.slice(0, p.length - hold);
        this.pending = p.slice(p.length - hold);
        return out;
      }
      const end = closingBrace(p, idx);
      if (end === -1) {
        if (p.length - idx >= DirectiveBuffer.LIMIT) {
          out += p;
          this.pending = '';
        } else {
          out += p.slice(0, idx);
          this.pending = p.slice(idx);
        }
        return out;
      }
      out += p.slice(0, end + 1);
      this.pending = p.slice(end + 1);
    }
  }
}

/** Length of the longest suffix of `s` that could still become `{"m"`. */
function partialOpener(s: string): number {
  for (let n = Math.min(DirectiveBuffer.OPENER.length - 1, s.length); n > 0; n--)
    if (DirectiveBuffer.OPENER.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

/** Index of the `}` closing the object at `start`, aware of JSON strings; -1 while incomplete. */
function closingBrace(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * Clean (v0.3): metadata (model "unified-chat") → content → [error] → done → [DONE]. Tool events only when the client
 * asked for them: game clients scanning for `content` events must see nothing new.
 */
function cleanEncoder(w: SseWriter, turn: PreparedTurn, toolEvents: boolean): Encoder {
  const buf = new DirectiveBuffer();
  const flush = async () => {
    const rest = buf.flush();
    if (rest) await w.data({ type: 'content', content: rest });
  };
  return {
    async start() {
      await w.data({
        type: 'metadata',
        conversation_id: turn.conversation?.id ?? null,
        model: 'unified-chat',
        timestamp: unix(),
      });
    },
    async delta(text) {
      const out = buf.push(text);
      if (out) await w.data({ type: 'content', content: out });
    },
    async toolEvent(ev) {
      if (!toolEvents) return;
      // Text held back for a directive belongs before the call it led to.
      await flush();
      await w.data(ev);
    },
    async end(r) {
      await flush();
      await w.data({ type: 'done', finish_reason: r.finishReason });
      await w.data('[DONE]');
    },
    async fail(err) {
      await flush();
      await w.data({ type: 'error', error: { message: err.message, type: err.type } });
      await w.data({ type: 'done', finish_reason: 'error' });
      await w.data('[DONE]');
    },
    held: () => buf.size,
  };
}

export const chatcmplId = () => `chatcmpl-${crypto.randomUUID().replaceAll('-', '')}`;

/** Multi-provider (v0.2): chunks → one stop chunk with usage → one [DONE]. */
function multiEncoder(w: SseWriter, turn: PreparedTurn): Encoder {
  const id = chatcmplId();
  const created = unix();
  let model = turn.model.id;
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return {
    async start() {},
    async delta(text) {
      await w.data(chunk({ content: text }, null));
    },
    async end(r) {
      model = r.model.id;
      await w.data({ ...chunk({}, r.finishReason), usage: usageBoth(r) });
      await w.data('[DONE]');
    },
    async fail(err, r) {
      if (r) model = r.model.id;
      await w.data({ ...chunk({}, 'error'), error: { message: err.message, type: err.type } });
      await w.data('[DONE]');
    },
  };
}

/**
 * Pure OpenAI: role chunk → content and tool-call chunks → finish chunk → (include_usage) usage chunk → [DONE].
 * Tool calls are forwarded fragment by fragment as the model streams them; a call's first chunk carries its
 * id, type and name, later ones only more of the arguments, which is how the SDKs' accumulators expect them.
 */
function openaiEncoder(w: SseWriter, turn: PreparedTurn, includeUsage: boolean): Encoder {
  const id = chatcmplId();
  const created = unix();
  let model = turn.model.id;
  const legacy = usesLegacyFunctions(turn.req);
  /** Calls whose first fragment went out. */
  const opened = new Set<number>();
  // With client tools the role chunk waits for the first text or call (heartbeats cover the wait), so a turn
  // that only calls tools says `content: null` in its first chunk, as OpenAI's own stream does; SDK
  // accumulators then end with the same message a non-streamed call returns.
  let roleSent = false;
  const deferRole = turn.req.clientTools !== undefined;
  const sendRole = async () => {
    if (roleSent) return;
    roleSent = true;
    await w.data(chunk({ role: 'assistant', content: '' }, null));
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const sendCall = async (d: ToolCallDelta) => {
    const first = !opened.has(d.index);
    opened.add(d.index);
    const fn: Record<string, unknown> = {};
    if (d.name !== undefined) fn.name = d.name;
    fn.arguments = d.arguments ?? '';
    // The deprecated form has one call and no ids or indexes.
    if (legacy && d.index !== 0) return;
    const delta: Record<string, unknown> = roleSent ? {} : { role: 'assistant', content: null };
    roleSent = true;
    if (legacy) delta.function_call = fn;
    else {
      const call: Record<string, unknown> = { index: d.index };
      if (d.id !== undefined) call.id = d.id;
      if (first) call.type = 'function';
      call.function = fn;
      delta.tool_calls = [call];
    }
    await w.data(chunk(delta, null));
  };
  return {
    async start() {
      if (!deferRole) await sendRole();
    },
    async delta(text) {
      await sendRole();
      await w.data(chunk({ content: text }, null));
    },
    async toolDelta(d) {
      await sendCall(d);
    },
    async end(r) {
      model = r.model.id;
      // A provider that only reported finished calls still gets them to the client whole.
      for (const [index, c] of r.toolCalls.entries())
        if (!opened.has(index)) await sendCall({ index, id: c.id, name: c.name, arguments: c.arguments });
      await sendRole();
      await w.data(chunk({}, openaiFinishReason(r, legacy)));
      if (includeUsage)
        await w.data({
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [],
          usage: {
            prompt_tokens: r.usage.input,
            completion_tokens: r.usage.output,
            total_tokens: r.usage.input + r.usage.output,
          },
        });
      await w.data('[DONE]');
    },
    async fail(err) {
      await sendRole();
      await w.data({
        error: {
          message: err.message,
          type: 'api_error',
          param: null,
          code: err.type === 'internal_error' ? 'internal_error' : err.type,
        },
      });
      await w.data('[DONE]');
    },
  };
}

export interface StreamOptions {
  config: Config;
  log: Logger;
  engine: ChatEngine;
  turn: PreparedTurn;
  family: Family;
  request: Request;
  includeUsage?: boolean;
  /** `/api/v0.3/chat`: the client asked for `tool_call`/`tool_result` events. */
  toolEvents?: boolean;
  headers?: Record<string, string>;
}

/** Commits the 200 and streams one prepared turn in its family's format. */
export function streamTurn(o: StreamOptions): Response {
  const { engine, turn, family } = o;
  let started = false;
  return sseResponse(
    {
      signal: o.request.signal,
      heartbeatMs: o.config.chat.heartbeatMs,
      // Unity clients scan the first 256 bytes for conversation_id: nothing may precede the metadata event.
      heartbeatBeforeFirst: family === 'multi' || family === 'openai',
      headers: o.headers,
      onError: (err) => o.log.error('chat stream failed', { error: (err as Error).message }),
    },
    async (w) => {
      const enc =
        family === 'unified'
          ? unifiedEncoder(w, turn)
          : family === 'clean'
            ? cleanEncoder(w, turn, o.toolEvents ?? false)
            : family === 'multi'
              ? multiEncoder(w, turn)
              : openaiEncoder(w, turn, o.includeUsage ?? false);
      let result: TurnResult | null = null;
      // Text handed to the encoder while the client was there; what it still holds back is subtracted.
      let handed = 0;
      try {
        await enc.start();
        started = true;
        result = await engine.run(turn, {
          signal: w.signal,
          onDelta: (t) => {
            if (w.closed) return;
            handed += t.length;
            return enc.delta(t);
          },
          sentChars: () => handed - (enc.held?.() ?? 0),
          onToolDelta: enc.toolDelta ? (d) => enc.toolDelta!(d) : undefined,
          onToolEvent: enc.toolEvent ? (e) => enc.toolEvent!(e) : undefined,
        });
      } catch (err) {
        if (!started) turn.release();
        o.log.error('chat turn failed', { error: (err as Error).message, request_id: turn.requestId });
        if (!w.closed)
          await enc.fail({ message: 'An internal error occurred.', type: 'internal_error' }, result);
        return;
      }
      // A client that went away gets nothing more; its partial answer is already stored.
      if (w.closed || result.finishReason === 'client_disconnected') return;
      if (result.error)
        await enc.fail({ message: result.error.clientMessage, type: result.error.type }, result);
      else await enc.end(result);
    },
  );
}
