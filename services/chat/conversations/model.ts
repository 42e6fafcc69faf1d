/**
 * Conversation request schemas and response objects.
 */
import { t } from 'elysia';
import { HttpError } from '../../../src/http/errors.ts';
import { Integer } from '../../../src/http/schemas.ts';
import type { ConversationRow, MessageRow } from './service.ts';
import { TITLE_MAX } from './service.ts';

export const CreateBody = t.Object({ title: t.Optional(t.Union([t.String(), t.Null()])) });
export const RenameBody = t.Object({ title: t.Optional(t.String()) });

export const ConversationSchema = t.Object({
  id: t.String(),
  title: t.String(),
  preview: t.String({ description: 'Start of the latest reply' }),
  created_at: t.String(),
  updated_at: t.String(),
});

export const ConversationListSchema = t.Object(
  { conversations: t.Array(ConversationSchema) },
  { description: 'Newest first; the `X-Total-Count` header has the total' },
);

export const ConversationStatsSchema = t.Object({
  total_conversations: Integer(),
  total_messages: Integer(),
});

export const MessageSchema = t.Object({
  id: t.String(),
  role: t.String(),
  content: t.String(),
  model: t.Union([t.String(), t.Null()]),
  provider: t.Union([t.String(), t.Null()]),
  tokens_used: t.Union([Integer(), t.Null()]),
  created_at: t.String(),
  status: t.String({ description: '`complete`, or `partial` for a reply cut short' }),
  finish_reason: t.Optional(t.String({ description: 'Why a partial reply stopped' })),
  tool_calls: t.Optional(t.Array(t.Record(t.String(), t.Unknown()))),
});

export const MessageListSchema = t.Object({ messages: t.Array(MessageSchema) });

export const CleanConversationListSchema = t.Object({
  conversations: t.Array(
    t.Object({ conversation_id: t.String(), title: t.String(), created_at: t.String() }),
  ),
});

export const CleanConversationSchema = t.Object({ conversation_id: t.String(), title: t.String() });

/** The paging of conversation lists, as the reference shows it (intParam and searchParam enforce it). */
export const ListQuery = t.Object({
  limit: t.Optional(Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: t.Optional(Integer({ minimum: 0, default: 0 })),
  q: t.Optional(t.String({ maxLength: 200, description: 'Search in titles' })),
});

export const MessagesQuery = t.Object({
  limit: t.Optional(Integer({ minimum: 1, maximum: 1000, default: 1000 })),
  offset: t.Optional(Integer({ minimum: 0, default: 0 })),
});

export function conversationJson(c: ConversationRow) {
  return {
    id: c.id,
    title: c.title,
    preview: c.preview,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}

/**
 * `tool_calls` appears only on messages that have some, so every other message keeps exactly the shape
 * clients already parse.
 */
export function messageJson(m: MessageRow) {
  const out = {
    id: m.id,
    role: m.role,
    content: m.content,
    model: m.model,
    provider: m.provider,
    tokens_used: m.tokensUsed,
    created_at: m.createdAt.toISOString(),
    status: m.status,
  };
  // A reply cut short says why (the user stopped it, or the provider failed), so a client can tell them apart;
  // complete messages keep their shape.
  const why = m.status === 'partial' && m.finishReason ? { ...out, finish_reason: m.finishReason } : out;
  return m.toolCalls?.length ? { ...why, tool_calls: m.toolCalls } : why;
}

const queryError = (name: string, message: string) =>
  new HttpError(422, 'Invalid request body', { errors: [{ path: `query.${name}`, message }] });

/** A strict non-negative integer query parameter; `abc`, `1.5` and negatives are 422. */
export function intParam(
  query: Record<string, string | undefined>,
  name: string,
  opts: { dflt: number; min: number; max: number },
): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return opts.dflt;
  if (!/^-?\d+$/.test(raw.trim())) throw queryError(name, 'Expected an integer');
  const n = Number(raw.trim());
  if (n < opts.min) throw queryError(name, `Must be at least ${opts.min}`);
  return Math.min(n, opts.max);
}

export function searchParam(query: Record<string, string | undefined>): string | undefined {
  const q = query.q?.trim();
  if (!q) return undefined;
  if (q.length > 200) throw queryError('q', 'Must be at most 200 characters');
  return q;
}

export function titleParam(title: string | null | undefined, required: boolean): string | undefined {
  if (title === undefined || title === null) return undefined;
  const clean = title.trim();
  if (clean.length > TITLE_MAX)
    throw new HttpError(422, 'Invalid request body', {
      errors: [{ path: 'title', message: `Must be at most ${TITLE_MAX} characters` }],
    });
  if (required && clean === '')
    throw new HttpError(422, 'Invalid request body', {
      errors: [{ path: 'title', message: 'Must not be empty' }],
    });
  return clean;
}
