/**
 * The one tool loop of the chat engine. A model call streams text and tool calls; when the model asks for tools
 * and the caller can run them, every call of the round runs in parallel, the results go back as native tool
 * results and the model is asked again, until it answers without tools or the rounds run out (then one last call
 * with `tool_choice: "none"` makes it answer with what it has). Client-defined tools (`/v1`) take the same path
 * with no runner: the loop ends after the first call and hands the calls back.
 *
 * The unified chat family, the KB tools, the asset tool and the agents of a scenario all come through here; they
 * differ only in the tools offered and the function that runs a call.
 */

import type {
  FinishReason,
  PromptMessage,
  Provider,
  ProviderEvent,
  ProviderRequest,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDef,
} from '../providers/types.ts';
import type { ToolOutcome } from '../tools/types.ts';
import { parseArgs } from '../tools/types.ts';

export type ToolEvent =
  | { type: 'tool_call'; id: string; name: string; arguments: Record<string, unknown> }
  | { type: 'tool_result'; id: string; name: string; ok: boolean; duration_ms: number; summary: string };

/** One executed call and what came of it. */
export interface ToolStep {
  call: ToolCall;
  outcome: ToolOutcome;
  durationMs: number;
}

export interface LoopHooks {
  onText?(text: string): Promise<void> | void;
  onToolDelta?(delta: ToolCallDelta): Promise<void> | void;
  onToolEvent?(event: ToolEvent): Promise<void> | void;
  /** Before each model call (the caller arms its first-token timer). */
  beforeModelCall?(): void;
  /** On every provider event (the caller re-arms its idle timer). */
  onProviderEvent?(type: ProviderEvent['type']): void;
  /** Before a round of tool calls runs (model timers do not apply while tools work). */
  beforeTools?(): void;
}

export interface LoopOptions {
  provider: Provider;
  request: Omit<ProviderRequest, 'messages' | 'tools' | 'toolChoice' | 'parallelToolCalls'>;
  messages: PromptMessage[];
  tools: ToolDef[];
  toolChoice?: ToolChoice;
  parallel?: boolean;
  /** Runs one call. Absent: the calls belong to the client and are returned in `pending`. */
  execute?: (call: ToolCall, signal: AbortSignal) => Promise<ToolOutcome>;
  /** Rounds of tool calls before the model must answer. */
  maxRounds: number;
  signal: AbortSignal;
  hooks?: LoopHooks;
}

/** Filled in as the loop goes, so a caller that catches a provider failure still has the partial answer. */
export interface LoopState {
  text: string;
  finish: FinishReason | null;
  input?: number;
  output?: number;
  /** Calls handed back to the client (no runner). */
  pending: ToolCall[];
  steps: ToolStep[];
  rounds: number;
  /** The model still wanted tools after the last round and was made to answer without them. */
  exhausted: boolean;
  modelCalls: number;
  /** Time spent in model calls (tool rounds excluded). */
  modelMs: number;
}

export function newLoopState(): LoopState {
  return {
    text: '',
    finish: null,
    pending: [],
    steps: [],
    rounds: 0,
    exhausted: false,
    modelCalls: 0,
    modelMs: 0,
  };
}

/** Serializes event delivery: results of parallel calls finish in any order but a stream writes one at a time. */
function serial(fn: ((e: ToolEvent) => Promise<void> | void) | undefined) {
  let chain: Promise<void> = Promise.resolve();
  return (e: ToolEvent): Promise<void> => {
    if (!fn) return chain;
    chain = chain.then(() => fn(e));
    return chain;
  };
}

/** Races each `next()` against an abort, so a provider that ignores its signal still stops within 1 s. */
export async function* guarded<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    while (true) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    void Promise.resolve(it.return?.()).catch(() => {});
  }
}

export async function runToolLoop(o: LoopOptions, state: LoopState = newLoopState()): Promise<LoopState> {
  const hooks = o.hooks ?? {};
  const emit = serial(hooks.onToolEvent);
  const messages = [...o.messages];
  for (;;) {
    const final = o.execute !== undefined && state.rounds >= o.maxRounds;
    if (final && state.rounds > 0) state.exhausted = true;
    const request: ProviderRequest = {
      ...o.request,
      messages,
      tools: o.tools.length ? o.tools : undefined,
      toolChoice: o.tools.length ? (final ? 'none' : o.toolChoice) : undefined,
      parallelToolCalls: o.tools.length ? o.parallel : undefined,
    };
    const calls: ToolCall[] = [];
    let roundText = '';
    state.finish = null;
    state.modelCalls++;
    hooks.beforeModelCall?.();
    const callStarted = performance.now();
    for await (const ev of guarded(o.provider.stream(request, o.signal), o.signal)) {
      hooks.onProviderEvent?.(ev.type);
      if (ev.type === 'text') {
        if (ev.text === '') continue;
        roundText += ev.text;
        state.text += ev.text;
        await hooks.onText?.(ev.text);
      } else if (ev.type === 'usage') {
        if (ev.input !== undefined) state.input = (state.input ?? 0) + ev.input;
        if (ev.output !== undefined) state.output = (state.output ?? 0) + ev.output;
      } else if (ev.type === 'tool_call_delta') {
        if (!o.execute) await hooks.onToolDelta?.(ev.delta);
      } else if (ev.type === 'tool_call') calls.push(ev.call);
      else if (ev.type === 'finish') state.finish = ev.reason;
    }
    state.modelMs += performance.now() - callStarted;
    if (!o.execute) {
      state.pending = calls;
      if (calls.length) state.finish = 'tool_calls';
      return state;
    }
    // A model that calls tools on the forced last call (some servers ignore `tool_choice`) gets no more.
    if (calls.length === 0 || final) {
      if (state.finish === 'tool_calls') state.finish = 'stop';
      return state;
    }

    // One round: every call starts at once; results go back in the order the model asked.
    hooks.beforeTools?.();
    for (const call of calls)
      await emit({ type: 'tool_call', id: call.id, name: call.name, arguments: parseArgs(call.arguments) });
    const steps = await Promise.all(
      calls.map(async (call): Promise<ToolStep> => {
        const started = performance.now();
        const outcome = await o.execute!(call, o.signal);
        const durationMs = Math.round(performance.now() - started);
        await emit({
          type: 'tool_result',
          id: call.id,
          name: call.name,
          ok: outcome.ok,
          duration_ms: durationMs,
          summary: outcome.summary,
        });
        return { call, outcome, durationMs };
      }),
    );
    // A client that left during the round gets nothing stored from it.
    o.signal.throwIfAborted();
    state.steps.push(...steps);
    state.rounds++;
    messages.push({ role: 'assistant', content: roundText, toolCalls: calls });
    for (const s of steps)
      messages.push({ role: 'tool', toolCallId: s.call.id, name: s.call.name, content: s.outcome.content });
  }
}
