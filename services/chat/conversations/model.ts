/**
 * Conversation request schemas and response objects.
 */
import { t } from 'elysia';
import { HttpError } from '../../../src/http/errors.ts';
import type { ConversationRow, MessageRow } from './service.ts';
import { TITLE_MAX } from './service.ts';

export const CreateBody = t.Object({ title: t.Optional(t.Union([t.String(), t.Null()])) });
export const RenameBody = t.Object({ title: t.Optional(t.String()) });

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
