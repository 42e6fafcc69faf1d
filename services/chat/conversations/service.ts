/**
 * Conversations and their messages (spec/chat.md §4): ownership, soft delete, literal search, titles and
 * previews. A conversation that is missing, malformed, deleted or another user's is the same "not found"
 * everywhere, so ids never leak across users.
 */
import { and, asc, count, desc, eq, inArray, max, or, sql } from 'drizzle-orm';
import type { Db, Orm } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';

export const DEFAULT_TITLE = 'New Conversation';
export const TITLE_MAX = 255;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: string): boolean => UUID.test(v);

export const conversationNotFound = (id: string): HttpError =>
  new HttpError(404, `Conversation ${id} not found`);

export interface ConversationRow {
  id: string;
  userId: string;
  title: string;
  titleLocked: boolean;
  preview: string;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageRow {
  id: string;
  conversationId: string;
  userId: string;
  seq: number;
  role: 'user' | 'assistant' | 'system';
  content: string;
  status: 'complete' | 'partial' | 'error';
  finishReason: string | null;
  model: string | null;
  provider: string | null;
  personaId: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  tokensUsed: number | null;
  costUsd: number | null;
  createdAt: Date;
}

/** Cuts to `n` code points so surrogate pairs are never split. */
export function codePoints(s: string, n: number): string {
  const points = Array.from(s);
  return points.length > n ? points.slice(0, n).join('') : s;
}

/** Title from a first message (§4.4): trimmed, whitespace runs collapsed, 50 code points then `...`. */
export function titleFromMessage(message: string): string {
  const clean = message.trim().replace(/\s+/g, ' ');
  if (clean === '') return DEFAULT_TITLE;
  const points = Array.from(clean);
  return points.length > 50 ? `${points.slice(0, 50).join('')}...` : clean;
}

export const previewOf = (text: string): string => codePoints(text, 100);

/** `%`, `_` and `\` are literal in search needles, in both dialects (data.md §1 "Text"). */
function likeNeedle(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export interface ListOptions {
  limit: number;
  offset: number;
  q?: string;
}

export class ConversationStore {
  constructor(private readonly db: Db) {}

  private get t() {
    return this.db.t;
  }

  /** The caller's active conversation, or null (malformed ids never reach the database). */
  async findOwned(userId: string, id: string, orm: Orm = this.db.orm): Promise<ConversationRow | null> {
    if (!isUuid(id)) return null;
    const c = this.t.conversations;
    const rows = await orm
      .select()
      .from(c)
      .where(and(eq(c.id, id.toLowerCase()), eq(c.userId, userId), eq(c.isActive, true)))
      .limit(1);
    return (rows[0] as ConversationRow | undefined) ?? null;
  }

  async requireOwned(userId: string, id: string): Promise<ConversationRow> {
    const row = await this.findOwned(userId, id);
    if (!row) throw conversationNotFound(id);
    return row;
  }

  /** An explicit title locks it; chat passes `locked: false` for titles derived from the first message. */
  async create(
    userId: string,
    title?: string | null,
    opts: { locked?: boolean } = {},
  ): Promise<ConversationRow> {
    const now = new Date();
    const clean = title?.trim() ?? '';
    const row: ConversationRow = {
      id: crypto.randomUUID(),
      userId,
      title: clean === '' ? DEFAULT_TITLE : clean,
      titleLocked: clean !== '' && opts.locked !== false,
      preview: '',
      isActive: true,
      createdAt: now,
      updatedAt: now,
    };
    await this.db.orm.insert(this.t.conversations).values(row);
    return row;
  }

  async list(userId: string, opts: ListOptions): Promise<{ rows: ConversationRow[]; total: number }> {
    const c = this.t.conversations;
    const m = this.t.chatMessages;
    const conds = [eq(c.userId, userId), eq(c.isActive, true)];
    const q = opts.q?.trim();
    if (q) {
      const needle = likeNeedle(q);
      const like = (col: unknown) => sql`lower(${col}) LIKE ${needle} ESCAPE '\\'`;
      const inMessages = this.db.orm
        .select({ id: m.conversationId })
        .from(m)
        .where(and(eq(m.userId, userId), like(m.content)));
      conds.push(or(like(c.title), like(c.preview), inArray(c.id, inMessages))!);
    }
    const where = and(...conds);
    const [rows, totals] = await Promise.all([
      this.db.orm
        .select()
        .from(c)
        .where(where)
        .orderBy(desc(c.updatedAt), asc(c.id))
        .limit(opts.limit)
        .offset(opts.offset),
      this.db.orm.select({ n: count() }).from(c).where(where),
    ]);
    return { rows: rows as ConversationRow[], total: Number(totals[0]?.n ?? 0) };
  }

  async stats(userId: string): Promise<{ total_conversations: number; total_messages: number }> {
    const c = this.t.conversations;
    const m = this.t.chatMessages;
    const [convs, msgs] = await Promise.all([
      this.db.orm
        .select({ n: count() })
        .from(c)
        .where(and(eq(c.userId, userId), eq(c.isActive, true))),
      this.db.orm
        .select({ n: count() })
        .from(m)
        .innerJoin(c, eq(m.conversationId, c.id))
        .where(and(eq(c.userId, userId), eq(c.isActive, true))),
    ]);
    return { total_conversations: Number(convs[0]?.n ?? 0), total_messages: Number(msgs[0]?.n ?? 0) };
  }

  async rename(userId: string, id: string, title: string | undefined): Promise<ConversationRow> {
    const row = await this.requireOwned(userId, id);
    if (title === undefined) return row;
    const updatedAt = new Date();
    await this.db.orm
      .update(this.t.conversations)
      .set({ title, titleLocked: true, updatedAt })
      .where(eq(this.t.conversations.id, row.id));
    return { ...row, title, titleLocked: true, updatedAt };
  }

  async softDelete(userId: string, id: string): Promise<void> {
    const row = await this.requireOwned(userId, id);
    await this.db.orm
      .update(this.t.conversations)
      .set({ isActive: false, updatedAt: new Date() })
      .where(eq(this.t.conversations.id, row.id));
  }

  async messages(conversationId: string, opts: { limit: number; offset: number }): Promise<MessageRow[]> {
    const m = this.t.chatMessages;
    const rows = await this.db.orm
      .select()
      .from(m)
      .where(eq(m.conversationId, conversationId))
      .orderBy(asc(m.createdAt), asc(m.seq))
      .limit(opts.limit)
      .offset(opts.offset);
    return rows as MessageRow[];
  }

  /**
   * Appends a message with the next `seq`. The read of the highest seq and the insert share one transaction,
   * so two writers to one conversation can never take the same number.
   */
  async append(msg: Omit<MessageRow, 'seq' | 'createdAt' | 'id'> & { id?: string }): Promise<MessageRow> {
    const m = this.t.chatMessages;
    return this.db.tx(async (tx) => {
      const top = await tx
        .select({ s: max(m.seq) })
        .from(m)
        .where(eq(m.conversationId, msg.conversationId));
      const row: MessageRow = {
        ...msg,
        id: msg.id ?? crypto.randomUUID(),
        seq: Number(top[0]?.s ?? 0) + 1,
        createdAt: new Date(),
      };
      await tx.insert(m).values(row);
      return row;
    });
  }

  /** After an assistant message: preview and `updated_at`, even if the conversation was deleted meanwhile (#21). */
  async touch(conversationId: string, preview?: string): Promise<void> {
    const set: { updatedAt: Date; preview?: string } = { updatedAt: new Date() };
    if (preview !== undefined) set.preview = previewOf(preview);
    await this.db.orm
      .update(this.t.conversations)
      .set(set)
      .where(eq(this.t.conversations.id, conversationId));
  }

  /** A conversation created by POST without a title takes it from its first chat message (§4.4). */
  async titleFromFirstMessage(conv: ConversationRow, message: string): Promise<void> {
    if (conv.titleLocked || conv.title !== DEFAULT_TITLE) return;
    const m = this.t.chatMessages;
    const existing = await this.db.orm
      .select({ n: count() })
      .from(m)
      .where(and(eq(m.conversationId, conv.id), eq(m.role, 'user')));
    if (Number(existing[0]?.n ?? 0) > 0) return;
    await this.db.orm
      .update(this.t.conversations)
      .set({ title: titleFromMessage(message) })
      .where(eq(this.t.conversations.id, conv.id));
  }

  /** Stored history for the prompt: complete or partial, non-empty, oldest first. */
  async history(conversationId: string): Promise<MessageRow[]> {
    const m = this.t.chatMessages;
    const rows = await this.db.orm
      .select()
      .from(m)
      .where(and(eq(m.conversationId, conversationId), inArray(m.status, ['complete', 'partial'])))
      .orderBy(asc(m.createdAt), asc(m.seq));
    return (rows as MessageRow[]).filter((r) => r.content !== '' && r.role !== 'system');
  }
}
