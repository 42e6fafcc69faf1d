/**
 * Request schemas of the chat endpoints and the message rules every family shares.
 * Unknown fields are ignored; fields naming endpoints or keys (`base_url`, `api_key`, …) are never
 * read, because nothing here looks at them.
 */
import { t } from 'elysia';
import { isPlainObject } from '../../../src/http/body.ts';
import { HttpError } from '../../../src/http/errors.ts';

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
