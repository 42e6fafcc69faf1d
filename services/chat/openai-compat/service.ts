/**
 * The OpenAI Chat Completions surface: stateless, no fallback, the named model answers.
 * Bad requests are 400 (OpenAI's convention) and every error carries both envelopes, `detail` for Gaia
 * clients and `error` for the SDKs.
 *
 * Clients may bring their own tools (and the deprecated `functions` form): Gaia hands them to the model and
 * returns its calls in OpenAI's shape without running them, so agent frameworks keep their own loop.
 */

import { isPlainObject } from '../../../src/http/body.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { User } from '../../../src/http/service.ts';
import type { ClientTools, TurnRequest, TurnResult } from '../engine/pipeline.ts';
import type { ModelInfo } from '../models/registry.ts';
import { newCallId } from '../providers/ids.ts';
import type { PromptMessage, ToolCall, ToolChoice, ToolDef } from '../providers/types.ts';

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'api_error'
  | 'authentication_error'
  | 'rate_limit_error';

export function openaiError(
  status: number,
  message: string,
  type: OpenAIErrorType,
  code: string,
  param: string | null = null,
): HttpError {
  return new HttpError(status, message, { body: { detail: message, error: { message, type, param, code } } });
}

const invalid = (message: string, param: string | null) =>
  openaiError(400, message, 'invalid_request_error', 'invalid_value', param);
const unsupported = (message: string, param: string) =>
  openaiError(400, message, 'invalid_request_error', 'unsupported_parameter', param);
export const modelNotFound = (id: string) =>
  openaiError(
    404,
    `The model '${id}' does not exist or is not available`,
    'invalid_request_error',
    'model_not_found',
    'model',
  );

/** Re-wraps a Gaia error (persona not found, message too long, conversation busy) in the dual envelope. */
export function toOpenAIError(err: unknown): unknown {
  if (!(err instanceof HttpError) || 'error' in err.body) return err;
  if (err.status === 422 || err.status === 400) return invalid(err.detail, null);
  if (err.status === 404) return openaiError(404, err.detail, 'invalid_request_error', 'not_found');
  if (err.status === 401) return openaiError(401, err.detail, 'authentication_error', 'invalid_api_key');
  if (err.status === 504) return openaiError(504, err.detail, 'api_error', 'provider_timeout');
  if (err.status >= 500) return openaiError(err.status, err.detail, 'api_error', 'provider_error');
  return openaiError(err.status, err.detail, 'invalid_request_error', 'invalid_value');
}

/** Parameters passed on to OpenAI-style providers. `store`, `metadata` and `reasoning_effort` are accepted but
 * not forwarded: OpenAI-compatible servers and non-reasoning models reject them. */
const PASS_THROUGH = [
  'user',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'response_format',
];

export interface OpenAIParsed {
  modelId: string | null;
  stream: boolean;
  includeUsage: boolean;
  personaId: string | undefined;
  messages: PromptMessage[];
  system: string;
  lastUser: string;
  temperature?: number;
  topP?: number;
  stop?: string[];
  maxTokens?: number;
  extra: Record<string, unknown>;
  /** The client's own tools; absent when it sent none. */
  clientTools?: ClientTools;
  /** The request used the deprecated `functions` form, so the answer uses `function_call` too. */
  legacyFunctions: boolean;
}

/** A client tool keeps OpenAI's `strict` flag for OpenAI-style servers (the neutral ToolDef has no slot for it). */
export type ClientToolDef = ToolDef & { strict?: boolean };

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_TOOLS = 128;
/** One function definition (`tools[i].function` or legacy `functions[i]`), checked where it stands. */
function parseFunctionDef(f: unknown, path: string): ClientToolDef {
  if (!isPlainObject(f)) throw invalid(`${path} must be an object`, path);
  if (typeof f.name !== 'string' || !TOOL_NAME.test(f.name))
    throw invalid(`${path}.name must be 1 to 64 letters, digits, underscores or dashes`, `${path}.name`);
  if (f.description !== undefined && f.description !== null && typeof f.description !== 'string')
    throw invalid(`${path}.description must be a string`, `${path}.description`);
  if (f.parameters !== undefined && f.parameters !== null && !isPlainObject(f.parameters))
    throw invalid(`${path}.parameters must be a JSON Schema object`, `${path}.parameters`);
  if (f.strict !== undefined && f.strict !== null && typeof f.strict !== 'boolean')
    throw invalid(`${path}.strict must be a boolean`, `${path}.strict`);
  const def: ClientToolDef = {
    name: f.name,
    description: typeof f.description === 'string' ? f.description : '',
    // A function without parameters takes none; Anthropic needs a schema either way.
    parameters: isPlainObject(f.parameters) ? f.parameters : { type: 'object', properties: {} },
  };
  if (typeof f.strict === 'boolean') def.strict = f.strict;
  return def;
}

function parseToolList(b: Record<string, unknown>): { tools: ClientToolDef[]; legacy: boolean } {
  const hasTools = b.tools !== undefined && b.tools !== null;
  const hasFunctions = b.functions !== undefined && b.functions !== null;
  if (hasTools && hasFunctions)
    throw invalid("Send either 'tools' or the deprecated 'functions', not both", 'functions');
  const key = hasFunctions ? 'functions' : 'tools';
  const list = b[key];
  if (list === undefined || list === null) return { tools: [], legacy: false };
  if (!Array.isArray(list)) throw invalid(`${key} must be an array`, key);
  if (list.length > MAX_TOOLS) throw invalid(`${key} must hold at most ${MAX_TOOLS} functions`, key);
  const tools = list.map((t, i) => {
    const path = `${key}.${i}`;
    if (key === 'functions') return parseFunctionDef(t, path);
    if (!isPlainObject(t)) throw invalid(`${path} must be an object`, path);
    if (t.type !== 'function') throw invalid(`${path}.type must be 'function'`, `${path}.type`);
    return parseFunctionDef(t.function, `${path}.function`);
  });
  const seen = new Set<string>();
  tools.forEach((t, i) => {
    const path = key === 'functions' ? `functions.${i}.name` : `tools.${i}.function.name`;
    if (seen.has(t.name)) throw invalid(`${path} repeats the function name '${t.name}'`, path);
    seen.add(t.name);
  });
  return { tools, legacy: key === 'functions' };
}

function parseToolChoice(
  b: Record<string, unknown>,
  tools: ToolDef[],
  legacy: boolean,
): ToolChoice | undefined {
  const key = legacy ? 'function_call' : 'tool_choice';
  const other = legacy ? 'tool_choice' : 'function_call';
  const otherValue = b[other];
  if (otherValue !== undefined && otherValue !== null && otherValue !== 'none')
    throw invalid(
      `${other} needs ${legacy ? "'tools'" : "the deprecated 'functions'"}; use ${key} with ${legacy ? 'functions' : 'tools'}`,
      other,
    );
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  const names = new Set(tools.map((t) => t.name));
  let choice: ToolChoice;
  if (v === 'none' || v === 'auto' || (v === 'required' && !legacy)) choice = v;
  else if (isPlainObject(v)) {
    const fn = legacy ? v : v.type === 'function' && isPlainObject(v.function) ? v.function : null;
    const shape = legacy
      ? '{"name": "<function>"}'
      : '{"type": "function", "function": {"name": "<function>"}}';
    if (!fn || typeof fn.name !== 'string') throw invalid(`${key} must be ${shape}`, key);
    if (!names.has(fn.name))
      throw invalid(
        `${key} names the function '${fn.name.slice(0, 64)}', which is not among the ${legacy ? 'functions' : 'tools'}`,
        key,
      );
    choice = { name: fn.name };
  } else
    throw invalid(
      legacy
        ? `${key} must be 'none', 'auto' or {"name": "<function>"}`
        : `${key} must be 'none', 'auto', 'required' or {"type": "function", "function": {"name": "<function>"}}`,
      key,
    );
  if (choice !== 'none' && tools.length === 0)
    throw invalid(`${key} is only allowed when ${legacy ? 'functions are' : 'tools are'} specified`, key);
  return choice;
}

/** `arguments` as JSON text, however the client sent it (some frameworks send an object). */
function argumentsText(v: unknown, path: string): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '{}';
  if (isPlainObject(v)) return JSON.stringify(v);
  throw invalid(`${path} must be a string of JSON`, path);
}

function parseAssistantCalls(m: Record<string, unknown>, path: string): ToolCall[] {
  const calls: ToolCall[] = [];
  if (m.tool_calls !== undefined && m.tool_calls !== null) {
    if (!Array.isArray(m.tool_calls))
      throw invalid(`${path}.tool_calls must be an array`, `${path}.tool_calls`);
    m.tool_calls.forEach((c, j) => {
      const cp = `${path}.tool_calls.${j}`;
      if (!isPlainObject(c)) throw invalid(`${cp} must be an object`, cp);
      if (typeof c.id !== 'string' || c.id === '')
        throw invalid(`${cp}.id must be a non-empty string`, `${cp}.id`);
      if (c.type !== undefined && c.type !== 'function')
        throw invalid(`${cp}.type must be 'function'`, `${cp}.type`);
      if (!isPlainObject(c.function) || typeof c.function.name !== 'string' || c.function.name === '')
        throw invalid(`${cp}.function.name must be a non-empty string`, `${cp}.function.name`);
      calls.push({
        id: c.id,
        name: c.function.name,
        arguments: argumentsText(c.function.arguments, `${cp}.function.arguments`),
      });
    });
  }
  const fc = m.function_call;
  if (fc !== undefined && fc !== null) {
    const fp = `${path}.function_call`;
    if (!isPlainObject(fc) || typeof fc.name !== 'string' || fc.name === '')
      throw invalid(`${fp} must be {"name", "arguments"}`, fp);
    // The legacy form has no ids; one is made up here and given to the `function` message that answers it.
    calls.push({ id: newCallId(), name: fc.name, arguments: argumentsText(fc.arguments, `${fp}.arguments`) });
  }
  return calls;
}

const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

function textOf(content: unknown, path: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw invalid(`${path} must be a string or an array of text parts`, path);
  return content
    .map((p, i) => {
      if (!isPlainObject(p)) throw invalid(`${path}.${i} must be an object`, `${path}.${i}`);
      if (p.type !== 'text')
        throw unsupported(`Content parts of type '${String(p.type)}' are not supported`, `${path}.${i}.type`);
      if (typeof p.text !== 'string')
        throw invalid(`${path}.${i}.text must be a string`, `${path}.${i}.text`);
      return p.text;
    })
    .join('');
}

export function parseOpenAI(raw: unknown, opts: { modelRequired: boolean }): OpenAIParsed {
  if (!isPlainObject(raw)) throw invalid('The request body must be a JSON object', null);
  const b = raw;
  if (b.model !== undefined && b.model !== null && typeof b.model !== 'string')
    throw invalid('model must be a string', 'model');
  if (opts.modelRequired && (typeof b.model !== 'string' || b.model === ''))
    throw invalid('you must provide a model parameter', 'model');
  const { tools, legacy } = parseToolList(b);
  const choice = parseToolChoice(b, tools, legacy);
  const ptc = b.parallel_tool_calls;
  if (ptc !== undefined && ptc !== null && typeof ptc !== 'boolean')
    throw invalid('parallel_tool_calls must be a boolean', 'parallel_tool_calls');
  if (b.n !== undefined && b.n !== null) {
    if (!Number.isInteger(b.n) || (b.n as number) < 1) throw invalid('n must be a positive integer', 'n');
    if (b.n !== 1) throw unsupported('Only n=1 is supported', 'n');
  }
  if (!Array.isArray(b.messages)) throw invalid('messages must be an array', 'messages');
  if (b.messages.length === 0) throw invalid('messages must not be empty', 'messages');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean')
    throw invalid('stream must be a boolean', 'stream');
  const so = b.stream_options;
  if (so !== undefined && so !== null && !isPlainObject(so))
    throw invalid('stream_options must be an object', 'stream_options');
  if (
    b.temperature !== undefined &&
    b.temperature !== null &&
    !(num(b.temperature) && (b.temperature as number) >= 0 && (b.temperature as number) <= 2)
  )
    throw invalid('temperature must be a number between 0 and 2', 'temperature');
  if (
    b.top_p !== undefined &&
    b.top_p !== null &&
    !(num(b.top_p) && (b.top_p as number) >= 0 && (b.top_p as number) <= 1)
  )
    throw invalid('top_p must be a number between 0 and 1', 'top_p');
  let stop: string[] | undefined;
  if (typeof b.stop === 'string') stop = [b.stop];
  else if (Array.isArray(b.stop)) {
    if (b.stop.length > 4 || !b.stop.every((s) => typeof s === 'string'))
      throw invalid('stop must be a string or up to 4 strings', 'stop');
    stop = b.stop as string[];
  } else if (b.stop !== undefined && b.stop !== null)
    throw invalid('stop must be a string or up to 4 strings', 'stop');
  let maxTokens: number | undefined;
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = b[key];
    if (v === undefined || v === null) continue;
    if (!Number.isInteger(v) || (v as number) < 1) throw invalid(`${key} must be a positive integer`, key);
    maxTokens ??= v as number;
  }
  if (b.persona_id !== undefined && b.persona_id !== null && typeof b.persona_id !== 'string')
    throw invalid('persona_id must be a string', 'persona_id');

  const system: string[] = [];
  const messages: PromptMessage[] = [];
  // Calls the conversation has made so far, by id, so a tool result can be matched to its call and named.
  const calls = new Map<string, ToolCall>();
  // Legacy calls not yet answered; a `function` message answers the oldest one of its name.
  const openLegacy: ToolCall[] = [];
  b.messages.forEach((m, i) => {
    const path = `messages.${i}`;
    if (!isPlainObject(m)) throw invalid(`${path} must be an object`, path);
    const role = m.role;
    if (
      role !== 'system' &&
      role !== 'developer' &&
      role !== 'user' &&
      role !== 'assistant' &&
      role !== 'tool' &&
      role !== 'function'
    )
      throw invalid(`${path}.role must be system, developer, user, assistant or tool`, `${path}.role`);
    const text = textOf(m.content, `${path}.content`);
    if (text.includes('\u0000'))
      throw invalid(`${path}.content must not contain NUL characters`, `${path}.content`);
    const clean = text.toWellFormed();
    if (role === 'system' || role === 'developer') system.push(clean);
    else if (role === 'user') messages.push({ role, content: clean });
    else if (role === 'assistant') {
      if (
        m.tool_calls !== undefined &&
        m.tool_calls !== null &&
        m.function_call !== undefined &&
        m.function_call !== null
      )
        throw invalid(
          `${path} must carry either tool_calls or function_call, not both`,
          `${path}.function_call`,
        );
      const made = parseAssistantCalls(m, path);
      for (const c of made) calls.set(c.id, c);
      if (m.function_call) openLegacy.push(...made);
      messages.push(made.length ? { role, content: clean, toolCalls: made } : { role, content: clean });
    } else if (role === 'tool') {
      const id = m.tool_call_id;
      if (typeof id !== 'string' || id === '')
        throw invalid(`${path}.tool_call_id must be a non-empty string`, `${path}.tool_call_id`);
      const call = calls.get(id);
      if (!call)
        throw invalid(
          `${path}.tool_call_id '${id.slice(0, 64)}' answers no earlier assistant tool call`,
          `${path}.tool_call_id`,
        );
      messages.push({ role: 'tool', toolCallId: id, name: call.name, content: clean });
    } else {
      if (typeof m.name !== 'string' || m.name === '')
        throw invalid(`${path}.name must name the function that ran`, `${path}.name`);
      const at = openLegacy.findIndex((c) => c.name === m.name);
      if (at === -1)
        throw invalid(
          `${path} answers no earlier assistant function_call to '${m.name.slice(0, 64)}'`,
          `${path}.name`,
        );
      const [call] = openLegacy.splice(at, 1);
      messages.push({ role: 'tool', toolCallId: call!.id, name: call!.name, content: clean });
    }
  });
  const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const extra: Record<string, unknown> = {};
  for (const k of PASS_THROUGH) if (b[k] !== undefined && b[k] !== null) extra[k] = b[k];
  return {
    modelId: typeof b.model === 'string' && b.model !== '' ? b.model : null,
    stream: b.stream === true,
    includeUsage: isPlainObject(so) && so.include_usage === true,
    personaId: typeof b.persona_id === 'string' ? b.persona_id : undefined,
    messages,
    system: system.join('\n\n'),
    lastUser,
    temperature: num(b.temperature) ? (b.temperature as number) : undefined,
    topP: num(b.top_p) ? (b.top_p as number) : undefined,
    stop,
    maxTokens,
    extra,
    clientTools: tools.length
      ? {
          tools,
          choice,
          // The deprecated form could only ever call one function per turn.
          parallel: legacy ? false : typeof ptc === 'boolean' ? ptc : undefined,
        }
      : undefined,
    legacyFunctions: legacy,
  };
}

/** A `local` model cannot call tools; asking it to is refused rather than silently ignored. */
export function refuseToolsOnLocal(p: OpenAIParsed, model: ModelInfo): void {
  const ct = p.clientTools;
  if (model.provider === 'local' && ct && ct.tools.length && ct.choice !== 'none')
    throw unsupported(
      `The model '${model.id}' cannot call tools; send tool_choice 'none' or use another model`,
      p.legacyFunctions ? 'functions' : 'tools',
    );
}

export function turnFromOpenAI(
  user: User,
  endpoint: string,
  p: OpenAIParsed,
  model: ModelInfo | undefined,
): TurnRequest {
  return {
    user,
    endpoint,
    message: p.lastUser,
    history: { kind: 'none', messages: p.messages, system: p.system },
    personaId: p.personaId,
    usePersona: p.personaId !== undefined,
    selection: { strictness: 'warn' },
    fixedModel: model,
    temperature: p.temperature,
    topP: p.topP,
    stop: p.stop,
    maxTokens: p.maxTokens,
    // OpenAI-only parameters go only to OpenAI-style servers.
    extra: model?.provider === 'openai' ? p.extra : undefined,
    enableFallback: false,
    directives: false,
    tools: false,
    clientTools: p.clientTools,
  };
}

/** Turns handled in the deprecated `functions` form, so the stream encoder answers in that form too. */
const legacyTurns = new WeakSet<TurnRequest>();
export function markLegacyFunctions(turn: TurnRequest): void {
  legacyTurns.add(turn);
}
export function usesLegacyFunctions(turn: TurnRequest): boolean {
  return legacyTurns.has(turn);
}

/** The assistant message of a completion: calls in the tools (or legacy) form, `content` null when only tools. */
function assistantMessage(r: TurnResult, legacy: boolean): Record<string, unknown> {
  if (!r.toolCalls.length) return { role: 'assistant', content: r.text };
  if (legacy) {
    const c = r.toolCalls[0]!;
    return {
      role: 'assistant',
      content: r.text || null,
      function_call: { name: c.name, arguments: c.arguments },
    };
  }
  return {
    role: 'assistant',
    content: r.text || null,
    tool_calls: r.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    })),
  };
}

/** OpenAI's finish reason: a tool-calling answer says `function_call` to clients of the legacy form. */
export function openaiFinishReason(r: TurnResult, legacy: boolean): string {
  if (r.finishReason === 'tool_calls' || r.toolCalls.length) return legacy ? 'function_call' : 'tool_calls';
  return r.finishReason;
}

export function completionJson(id: string, r: TurnResult, opts: { legacyFunctions?: boolean } = {}) {
  const legacy = opts.legacyFunctions ?? false;
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model.id,
    choices: [
      {
        index: 0,
        message: assistantMessage(r, legacy),
        logprobs: null,
        finish_reason: openaiFinishReason(r, legacy),
      },
    ],
    usage: {
      prompt_tokens: r.usage.input,
      completion_tokens: r.usage.output,
      total_tokens: r.usage.input + r.usage.output,
    },
  };
}

export function openaiFailure(r: TurnResult): HttpError {
  const e = r.error;
  if (e?.rejected) return invalid(e.providerMessage || 'The provider rejected the request', null);
  if (e?.kind === 'timeout')
    return openaiError(504, 'Chat completion failed: provider timed out', 'api_error', 'provider_timeout');
  return openaiError(
    502,
    `Chat completion failed: ${e?.summary ?? 'provider error'}`,
    'api_error',
    'provider_error',
  );
}

export function modelObject(m: ModelInfo, ownedBy: string) {
  return { id: m.id, object: 'model', created: m.created, owned_by: ownedBy };
}
