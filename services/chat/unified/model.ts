/**
 * Request schemas of the chat endpoints and the message rules every family shares.
 * Unknown fields are ignored; fields naming endpoints or keys (`base_url`, `api_key`, …) are never
 * read, because nothing here looks at them.
 */
import type { TSchema } from '@sinclair/typebox';
import { t } from 'elysia';
import { isPlainObject } from '../../../src/http/body.ts';
import { HttpError } from '../../../src/http/errors.ts';
import { Integer } from '../../../src/http/schemas.ts';

const OptStr = t.Optional(t.Union([t.String(), t.Null()]));

export const UnifiedBody = t.Object({
  message: t.Optional(t.Union([t.String(), t.Null()])),
  messages: t.Optional(
    t.Union([
      t.Array(t.Object({ role: t.String(), content: t.Union([t.String(), t.Array(t.Any()), t.Null()]) })),
      t.Null(),
    ]),
  ),
  conversation_id: OptStr,
  stream: t.Optional(t.Boolean()),
  response_format: t.Optional(t.Any()),
  persona_id: OptStr,
  model: OptStr,
  provider: OptStr,
  temperature: t.Optional(t.Union([t.Number({ minimum: 0, maximum: 2 }), t.Null()])),
  max_tokens: t.Optional(t.Union([t.Integer({ minimum: 1 }), t.Null()])),
  /** Runs a scenario team (gamemaster, worldbuilding, storytelling, problemsolving) for this turn. */
  scenario: t.Optional(
    t.Union([
      t.Literal('gamemaster'),
      t.Literal('worldbuilding'),
      t.Literal('storytelling'),
      t.Literal('problemsolving'),
      t.Null(),
    ]),
  ),
});

export const CleanBody = t.Object({
  message: t.Optional(t.Union([t.String(), t.Null()])),
  conversation_id: OptStr,
  stream: t.Optional(t.Boolean()),
  persona_id: OptStr,
  /** Opt-in `tool_call`/`tool_result` stream events. */
  tool_events: t.Optional(t.Boolean()),
});

const lit = (values: string[]) => t.Union(values.map((v) => t.Literal(v)));

/** The v0.2 `ChatRequest`, shared by v0.2 and the legacy v1 paths. */
export const ChatRequestBody = t.Object({
  message: t.String(),
  stream: t.Optional(t.Boolean()),
  provider: t.Optional(t.Union([lit(['claude', 'openai', 'local', 'gemini', 'mistral']), t.Null()])),
  model: OptStr,
  persona_id: OptStr,
  activity: OptStr,
  auto_select_model: t.Optional(t.Boolean()),
  force_provider: t.Optional(t.Boolean()),
  priority: t.Optional(t.Union([lit(['speed', 'quality', 'balanced', 'vr', 'cost']), t.Null()])),
  context_type: t.Optional(
    t.Union([
      lit(['greeting', 'conversation', 'technical', 'creative', 'vr', 'emergency', 'multimodal']),
      t.Null(),
    ]),
  ),
  max_response_time_ms: t.Optional(t.Union([t.Integer({ minimum: 1 }), t.Null()])),
  required_capabilities: t.Optional(t.Union([t.Array(t.String()), t.Null()])),
  force_model_override: t.Optional(t.Boolean()),
  enable_fallback: t.Optional(t.Boolean()),
  conversation_id: OptStr,
  temperature: t.Optional(t.Union([t.Number({ minimum: 0, maximum: 2 }), t.Null()])),
  max_tokens: t.Optional(t.Union([t.Integer({ minimum: 1 }), t.Null()])),
});

// ── answers ────────────────────────────────────────────────────────────────────────────────────────

const Nullable = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);

export const UsageSchema = t.Object({
  prompt_tokens: Integer(),
  completion_tokens: Integer(),
  total_tokens: Integer(),
  input_tokens: t.Optional(Integer()),
  output_tokens: t.Optional(Integer()),
});

/** How a turn was answered, next to the reply of `/api/v1/chat`. */
export const ChatMetadataSchema = t.Object({
  route_type: t.String(),
  routing_time_ms: t.Number(),
  llm_time_ms: t.Number(),
  total_time_ms: t.Number(),
  request_id: t.String(),
  conversation_id: t.Optional(Nullable(t.String())),
  message_id: t.Optional(Nullable(t.String())),
  provider: t.String(),
  model: t.String(),
  persona_id: t.Optional(Nullable(t.String())),
  fallback_used: t.Boolean(),
  cost_usd: t.Number(),
});

export const ToolCallSchema = t.Object({
  id: t.String(),
  type: t.Literal('function'),
  function: t.Object({ name: t.String(), arguments: t.String() }),
});

/** A finished reply in OpenAI's `chat.completion` shape; legacy variants add their own `_…` fields. */
export const ChatCompletionSchema = t.Object({
  id: t.String(),
  object: t.Literal('chat.completion'),
  created: Integer(),
  model: t.String(),
  choices: t.Array(
    t.Object({
      index: Integer(),
      message: t.Object({
        role: t.Literal('assistant'),
        content: Nullable(t.String()),
        tool_calls: t.Optional(t.Array(ToolCallSchema)),
      }),
      finish_reason: Nullable(t.String()),
    }),
  ),
  usage: UsageSchema,
  _metadata: t.Optional(ChatMetadataSchema),
});

/** The v0.3 shape: just the reply and the conversation it belongs to. */
export const CleanChatSchema = t.Object({
  response: t.String(),
  conversation_id: t.String(),
  message: t.Optional(t.String({ description: "The caller's message (on /api/v1/chat)" })),
  _metadata: t.Optional(ChatMetadataSchema),
});

/** `/api/v1/chat` answers either shape: OpenAI unless `X-Response-Format: v0.3` (or the body) asks otherwise. */
export const UnifiedChatSchema = t.Union([ChatCompletionSchema, CleanChatSchema]);

/** The v0.2 `ChatResponse`. */
export const V02ChatSchema = t.Object({
  response: t.String(),
  provider: t.String(),
  model: t.String(),
  usage: UsageSchema,
  response_time_ms: t.Number(),
  reasoning: t.Optional(Nullable(t.String())),
  fallback_used: t.Boolean(),
  cost_usd: t.Number(),
  conversation_id: t.Optional(t.String()),
});

export const OPENAI_STREAM =
  'Server-sent events, one `data: <json>` line per event: OpenAI `chat.completion.chunk` objects ' +
  '(`choices[0].delta.content` carries the text, `tool_calls` deltas when tools are called, the last chunk ' +
  'has `finish_reason`), then `data: [DONE]`. Comment lines (`: ping`) keep idle connections open.';

export const UNIFIED_STREAM =
  'Server-sent events, `data: <json>` each: first `{"type":"metadata","conversation_id",…}`, then OpenAI ' +
  '`chat.completion.chunk` objects with the text in `choices[0].delta.content`, then `data: [DONE]`. ' +
  'A failure mid-stream arrives as `{"type":"error","error":…}` before `[DONE]`.';

export const CLEAN_STREAM =
  'Server-sent events, `data: <json>` each: `{"type":"metadata","conversation_id",…}` first (within the ' +
  'first 256 bytes), `{"type":"content","content":"…"}` per text piece, optional `tool_call`/`tool_result` ' +
  'events when `tool_events` is set, `{"type":"done","finish_reason":…}` and finally `data: [DONE]`; ' +
  'a failure is `{"type":"error",…}`.';

export const expectObject = (): HttpError =>
  new HttpError(422, 'Invalid request body', { errors: [{ path: '', message: 'Expected a JSON object' }] });

export function requireObject(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw expectObject();
  return body;
}

const messageError = (detail: string, message: string) =>
  new HttpError(422, detail, { errors: [{ path: 'message', message }] });

/**
 * The message rules every family shares: non-blank, at most CHAT_MAX_MESSAGE_CHARS, no NUL; lone surrogates become U+FFFD
 * before anything is stored.
 */
export function cleanMessage(message: string, maxChars: number): string {
  if (message.trim() === '') throw messageError('message must not be empty', 'Must not be empty');
  if (message.length > maxChars)
    throw messageError(
      `message is too long (max ${maxChars} characters)`,
      `Must be at most ${maxChars} characters`,
    );
  if (message.includes('\u0000'))
    throw messageError('message must not contain NUL characters', 'Invalid character');
  return message.toWellFormed();
}

/** `content` as a string or `[{"type":"text","text":…}]` parts, joined. */
export function contentText(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((p) => (isPlainObject(p) && p.type === 'text' && typeof p.text === 'string' ? p.text : ''))
      .join('');
  return null;
}

/** `conversation_id` absent, null, "" or "new" starts a new conversation. */
export function conversationRef(id: string | null | undefined): string | null {
  if (id === undefined || id === null || id === '' || id === 'new') return null;
  return id;
}
