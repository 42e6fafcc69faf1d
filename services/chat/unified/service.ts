/**
 * Request parsing and non-streaming response shapes of the unified (`/api/v1/chat`) and clean
 * (`/api/v0.3/chat`) families, plus the failure mapping every non-streaming family shares.
 */
import type { Static } from '@sinclair/typebox';
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { User } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import type { PreparedTurn, TurnRequest, TurnResult } from '../engine/pipeline.ts';
import { TEAMS } from '../scenarios/teams.ts';
import { metadataOf, usageBoth } from '../streaming/service.ts';
import {
  CleanBody,
  cleanMessage,
  contentText,
  conversationRef,
  requireObject,
  UnifiedBody,
} from './model.ts';

/** A provider outcome that produced no answer, as the non-streaming families report it. */
export function failureError(r: TurnResult): HttpError {
  const e = r.error;
  if (e?.rejected) return new HttpError(400, e.providerMessage || 'The provider rejected the request');
  if (e?.kind === 'timeout') return new HttpError(504, 'Chat completion failed: provider timed out');
  return new HttpError(502, `Chat completion failed: ${e?.summary ?? 'provider error'}`);
}

export interface UnifiedParsed {
  turn: TurnRequest;
  stream: boolean;
  format: 'openai' | 'v0.3';
}

/** The answer format: the body's string `response_format`, else `X-Response-Format`, else openai. */
export function responseFormat(body: Static<typeof UnifiedBody>, header: string | null): 'openai' | 'v0.3' {
  const v = typeof body.response_format === 'string' ? body.response_format : header;
  return v?.trim().toLowerCase() === 'v0.3' ? 'v0.3' : 'openai';
}

export function parseUnified(
  config: Config,
  user: User,
  raw: unknown,
  formatHeader: string | null,
): UnifiedParsed {
  const body = validate(UnifiedBody, requireObject(raw));
  let message: string | null = typeof body.message === 'string' ? body.message : null;
  if (Array.isArray(body.messages) && body.messages.length > 0) {
    const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
    const text = lastUser ? contentText(lastUser.content) : null;
    if (text !== null) message = text;
  }
  if (message === null)
    throw new HttpError(422, 'message is required', { errors: [{ path: 'message', message: 'Required' }] });
  message = cleanMessage(message, config.chat.maxMessageChars);
  const format = responseFormat(body, formatHeader);
  return {
    stream: body.stream === true,
    format,
    turn: {
      user,
      endpoint: '/api/v1/chat',
      message,
      history: { kind: 'conversation', id: conversationRef(body.conversation_id) },
      personaId: body.persona_id,
      usePersona: true,
      selection: { model: body.model, provider: body.provider, strictness: 'warn' },
      temperature: body.temperature ?? 0.7,
      maxTokens: body.max_tokens ?? undefined,
      enableFallback: config.chat.enableFallback,
      directives: format === 'v0.3' && config.chat.directives,
      tools: true,
      agents: body.scenario ? TEAMS[body.scenario] : undefined,
    },
  };
}

export const missingMessageV03 = (): HttpError =>
  new HttpError(400, 'Missing required field: message', {
    body: { error: 'Missing required field: message' },
  });

export function parseClean(
  config: Config,
  user: User,
  raw: unknown,
): { turn: TurnRequest; stream: boolean; toolEvents: boolean } {
  const obj = requireObject(raw);
  // Missing, null or blank is the v0.3 400; a present non-string is still a schema error.
  if (
    obj.message === undefined ||
    obj.message === null ||
    (typeof obj.message === 'string' && obj.message.trim() === '')
  )
    throw missingMessageV03();
  const body = validate(CleanBody, obj);
  const message = cleanMessage(body.message as string, config.chat.maxMessageChars);
  return {
    stream: body.stream === true,
    toolEvents: body.tool_events === true,
    turn: {
      user,
      endpoint: '/api/v0.3/chat',
      message,
      history: { kind: 'conversation', id: conversationRef(body.conversation_id) },
      personaId: body.persona_id,
      usePersona: true,
      // This API never takes provider details: model and provider are not read at all.
      selection: { strictness: 'warn' },
      temperature: 0.7,
      enableFallback: config.chat.enableFallback,
      directives: config.chat.directives,
      tools: true,
    },
  };
}

export function unifiedOpenAIResponse(turn: PreparedTurn, r: TurnResult) {
  return {
    id: turn.requestId,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model.id,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finishReason }],
    usage: usageBoth(r),
    _metadata: metadataOf(turn, r),
  };
}

export function unifiedV03Response(turn: PreparedTurn, r: TurnResult) {
  return {
    response: r.text,
    message: turn.req.message,
    conversation_id: turn.conversation?.id ?? null,
    _metadata: metadataOf(turn, r),
  };
}
