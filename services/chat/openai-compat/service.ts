/**
 * The OpenAI Chat Completions surface (spec/chat.md §1.6): stateless, no fallback, the named model answers.
 * Bad requests are 400 (OpenAI's convention) and every error carries both envelopes, `detail` for Gaia
 * clients and `error` for the SDKs.
 */

import { isPlainObject } from '../../../src/http/body.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { User } from '../../../src/http/service.ts';
import type { TurnRequest, TurnResult } from '../engine/pipeline.ts';
import type { ModelInfo } from '../models/registry.ts';
import type { PromptMessage } from '../providers/types.ts';

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

/** Parameters passed on to OpenAI-style providers. `store`, `metadata`, `parallel_tool_calls` and
 * `reasoning_effort` are accepted but not forwarded: OpenAI-compatible servers and non-reasoning models reject them. */
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
  for (const key of ['tools', 'functions'] as const)
    if (Array.isArray(b[key]) && (b[key] as unknown[]).length > 0)
      throw unsupported(`'${key}' is not supported`, key);
  for (const key of ['tool_choice', 'function_call'] as const)
    if (b[key] !== undefined && b[key] !== null && b[key] !== 'none')
      throw unsupported(`'${key}' is not supported`, key);
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
  b.messages.forEach((m, i) => {
    const path = `messages.${i}`;
    if (!isPlainObject(m)) throw invalid(`${path} must be an object`, path);
    const role = m.role;
    if (role === 'tool' || role === 'function')
      throw unsupported(`Messages with role '${role}' are not supported`, `${path}.role`);
    if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant')
      throw invalid(`${path}.role must be system, developer, user or assistant`, `${path}.role`);
    if (Array.isArray(m.tool_calls) && m.tool_calls.length)
      throw unsupported('tool_calls are not supported', `${path}.tool_calls`);
    const text = textOf(m.content, `${path}.content`);
    if (text.includes('\u0000'))
      throw invalid(`${path}.content must not contain NUL characters`, `${path}.content`);
    const clean = text.toWellFormed();
    if (role === 'system' || role === 'developer') system.push(clean);
    else messages.push({ role, content: clean });
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
  };
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
  };
}

export function completionJson(id: string, r: TurnResult) {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model.id,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: r.text },
        logprobs: null,
        finish_reason: r.finishReason,
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
