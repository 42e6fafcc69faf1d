/**
 * Conversations and their messages: ownership, soft delete, literal search, titles and
 * previews. A conversation that is missing, malformed, deleted or another user's is the same "not found"
 * everywhere, so ids never leak across users.
 */
import { and, asc, count, desc, eq, inArray, max, or, sql } from 'drizzle-orm';
import { constraintViolation, type Db } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import { Statements } from '../engine/statements.ts';

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
  /** The tool calls behind an assistant message, in the order they ran; null on every other message. */
  toolCalls: StoredToolCall[] | null;
  createdAt: Date;
}

/**
 * One tool call kept with the assistant message it led to, so a conversation can later show which tools
 * ran, with what, and what they gave back. `arguments` is the parsed JSON the model sent (or its raw text
 * when that was not JSON); `result` is what the model was given.
 */
export interface StoredToolCall {
  id: string;
  name: string;
  arguments: unknown;
  ok: boolean;
  summary: string;
  duration_ms: number;
  result: string;
}

/** An empty list of calls is stored as none, so "no tools ran" has one spelling. */
const storedCalls = (calls: StoredToolCall[] | null | undefined): StoredToolCall[] | null =>
  calls?.length ? calls : null;

/** Cuts to `n` code points so surrogate pairs are never split. */
export function codePoints(s: string, n: number): string {
  const points = Array.from(s);
  return points.length > n ? points.slice(0, n).join('') : s;
}

/** Title from a first message: trimmed, whitespace runs collapsed, 50 code points then `...`. */
export function titleFromMessage(message: string): string {
  const clean = message.trim().replace(/\s+/g, ' ');
  if (clean === '') return DEFAULT_TITLE;
  const points = Array.from(clean);
  return points.length > 50 ? `${points.slice(0, 50).join('')}...` : clean;
}

export const previewOf = (text: string): string => codePoints(text, 100);

/** `%`, `_` and `\` are literal in search needles, in both dialects. */
function likeNeedle(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A message as the hot path writes it: every column given, `seq` chosen by the caller. */
export type NewMessage = Omit<MessageRow, 'seq' | 'createdAt' | 'id' | 'toolCalls'> & {
  id?: string;
  toolCalls?: StoredToolCall[] | null;
};

/** What a turn needs of an existing conversation's messages, from one read. */
export interface TurnState {
  /** Prompt history: complete or partial, non-empty, not system, oldest first. */
  history: { role: 'user' | 'assistant'; content: string }[];
  /** The highest `seq` stored (0 when none). */
  lastSeq: number;
  /** How many user messages are stored, whatever their status. */
  userMessages: number;
}

const ph = (name: string) => sql.placeholder(name);
/**
 * A placeholder for `update().set()`, whose PostgreSQL typing does not list placeholders although drizzle
 * binds them like any value there (wrapped in a Param with the column's encoder).
 */
const setPh = <T>(name: string) => sql.placeholder(name) as unknown as T;

export interface ListOptions {
  limit: number;
  offset: number;
  q?: string;
}

export class ConversationStore {
  private readonly stmts: Statements;

  constructor(private readonly db: Db) {
    this.stmts = new Statements(db);
  }

  private get t() {
    return this.db.t;
  }

  /** See `Statements.group`: one commit on SQLite for the writes of one pipeline step. */
  group<T>(fn: () => Promise<T>): Promise<T> {
    return this.stmts.group(fn);
  }

  /** The caller's active conversation, or null (malformed ids never reach the database). */
  async findOwned(userId: string, id: string): Promise<ConversationRow | null> {
    if (!isUuid(id)) return null;
    const c = this.t.conversations;
    // Every chat request to an existing conversation runs this twice: prepared (see Statements).
    const q = this.stmts.get('find_owned', (o) =>
      o
        .select()
        .from(c)
        .where(and(eq(c.id, ph('id')), eq(c.userId, ph('userId')), eq(c.isActive, true)))
        .limit(1),
    );
    const rows = await q.execute({ id: id.toLowerCase(), userId });
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
    const q = opts.q?.trim();
    if (!q) {
      // Every game client lists its conversations on start and after each turn: the unfiltered page and its
      // count are prepared statements, built once (see Statements), read in parallel.
      const ph = (name: string) => sql.placeholder(name);
      const mine = () => and(eq(c.userId, ph('userId')), eq(c.isActive, true));
      const page = this.stmts.get('list_page', (o) =>
        o
          .select()
          .from(c)
          .where(mine())
          .orderBy(desc(c.updatedAt), asc(c.id))
          .limit(ph('limit'))
          .offset(ph('offset')),
      );
      const total = this.stmts.get('list_count', (o) => o.select({ n: count() }).from(c).where(mine()));
      const [rows, totals] = await Promise.all([
        page.execute({ userId, limit: opts.limit, offset: opts.offset }),
        total.execute({ userId }),
      ]);
      return {
        rows: rows as ConversationRow[],
        total: Number((totals as Array<{ n: number }>)[0]?.n ?? 0),
      };
    }
    const needle = likeNeedle(q);
    const like = (col: unknown) => sql`lower(${col}) LIKE ${needle} ESCAPE '\\'`;
    const inMessages = this.db.orm
      .select({ id: m.conversationId })
      .from(m)
      .where(and(eq(m.userId, userId), like(m.content)));
    const where = and(
      eq(c.userId, userId),
      eq(c.isActive, true),
      or(like(c.title), like(c.preview), inArray(c.id, inMessages)),
    );
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
  async append(msg: NewMessage): Promise<MessageRow> {
    const m = this.t.chatMessages;
    return this.db.tx(async (tx) => {
      const top = await tx
        .select({ s: max(m.seq) })
        .from(m)
        .where(eq(m.conversationId, msg.conversationId));
      const row: MessageRow = {
        ...msg,
        toolCalls: storedCalls(msg.toolCalls),
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
    const c = this.t.conversations;
    // Once or twice per chat request: prepared (see Statements).
    if (preview === undefined) {
      const q = this.stmts.get('touch', (o) =>
        o
          .update(c)
          .set({ updatedAt: setPh<Date>('now') })
          .where(eq(c.id, ph('id'))),
      );
      await q.execute({ now: new Date(), id: conversationId });
      return;
    }
    const q = this.stmts.get('touch_preview', (o) =>
      o
        .update(c)
        .set({ updatedAt: setPh<Date>('now'), preview: setPh<string>('preview') })
        .where(eq(c.id, ph('id'))),
    );
    await q.execute({ now: new Date(), preview: previewOf(preview), id: conversationId });
  }

  /** A conversation created by POST without a title takes it from its first chat message. */
  /** `userMessages`: the count of stored user messages when the caller has it (`turnState`). */
  async titleFromFirstMessage(conv: ConversationRow, message: string, userMessages?: number): Promise<void> {
    if (conv.titleLocked || conv.title !== DEFAULT_TITLE) return;
    const m = this.t.chatMessages;
    if (userMessages === undefined) {
      const existing = await this.db.orm
        .select({ n: count() })
        .from(m)
        .where(and(eq(m.conversationId, conv.id), eq(m.role, 'user')));
      userMessages = Number(existing[0]?.n ?? 0);
    }
    if (userMessages > 0) return;
    await this.db.orm
      .update(this.t.conversations)
      .set({ title: titleFromMessage(message) })
      .where(eq(this.t.conversations.id, conv.id));
  }

  // ── Chat hot path ─────────────────────────────────────────────────────────────

  /**
   * History, highest `seq` and user-message count of a conversation in one read, taken once per turn under
   * the conversation lock (why: it replaces a history query per provider attempt, two `max(seq)` queries and
   * the first-message count the title rule needs).
   */
  async turnState(conversationId: string): Promise<TurnState> {
    const m = this.t.chatMessages;
    const q = this.stmts.get('turn_rows', (o) =>
      o
        .select({ seq: m.seq, role: m.role, status: m.status, content: m.content })
        .from(m)
        .where(eq(m.conversationId, ph('id')))
        .orderBy(asc(m.createdAt), asc(m.seq)),
    );
    const rows = await q.execute({ id: conversationId });
    const history: TurnState['history'] = [];
    let lastSeq = 0;
    let userMessages = 0;
    for (const r of rows) {
      if (r.seq > lastSeq) lastSeq = r.seq;
      if (r.role === 'user') userMessages++;
      // Prompt history leaves out failed (`error`), empty and system messages.
      if (r.status === 'error' || r.content === '' || r.role === 'system') continue;
      history.push({ role: r.role, content: r.content });
    }
    return { history, lastSeq, userMessages };
  }

  private insertMessageStmt() {
    const m = this.t.chatMessages;
    return this.stmts.get('insert_message', (o) =>
      o.insert(m).values({
        id: ph('id'),
        conversationId: ph('conversationId'),
        userId: ph('userId'),
        seq: ph('seq'),
        role: ph('role'),
        content: ph('content'),
        status: ph('status'),
        finishReason: ph('finishReason'),
        model: ph('model'),
        provider: ph('provider'),
        personaId: ph('personaId'),
        inputTokens: ph('inputTokens'),
        outputTokens: ph('outputTokens'),
        tokensUsed: ph('tokensUsed'),
        costUsd: ph('costUsd'),
        // Bound as ready-made JSON text: through the column's encoder a null would become the JSON text
        // `null` rather than SQL NULL (prepared statements skip drizzle's null check).
        toolCalls: sql`${ph('toolCallsJson')}`,
        createdAt: ph('createdAt'),
      }),
    );
  }

  /**
   * Inserts a message with the `seq` the caller worked out under the conversation lock. The lock is per chat
   * instance; if another instance took that number meanwhile, the unique index refuses it and the message
   * goes through `append` (highest seq read and insert in one transaction), as every message used to.
   */
  async insertMessage(msg: NewMessage, seq: number, createdAt = new Date()): Promise<MessageRow> {
    const toolCalls = storedCalls(msg.toolCalls);
    const row: MessageRow = { ...msg, toolCalls, id: msg.id ?? crypto.randomUUID(), seq, createdAt };
    try {
      await this.insertMessageStmt().execute({
        ...row,
        toolCallsJson: toolCalls === null ? null : JSON.stringify(toolCalls),
      } as unknown as Record<string, unknown>);
      return row;
    } catch (err) {
      if (constraintViolation(err) !== 'unique') throw err;
      return this.append({ ...msg, id: row.id });
    }
  }

  /**
   * Step 5 for a new conversation: the conversation (titled from the message, unlocked) and its first
   * message. Its `updated_at` is the message's time already, so no separate touch.
   */
  async startConversation(
    userId: string,
    title: string,
    msg: NewMessage,
  ): Promise<{
    conversation: ConversationRow;
    message: MessageRow;
  }> {
    const now = new Date();
    const conversation: ConversationRow = {
      id: crypto.randomUUID(),
      userId,
      title,
      titleLocked: false,
      preview: '',
      isActive: true,
      createdAt: now,
      updatedAt: now,
    };
    const c = this.t.conversations;
    if (this.db.kind === 'postgresql') {
      // The conversation and its first message are one transaction, so a refused or interrupted message
      // leaves no empty conversation behind. `group` keeps PostgreSQL statements autocommit (the hot path's
      // prepared statements live on the pool); this write happens once per conversation, so it can afford
      // the transaction's round trips and plain statements on the transaction's connection.
      const message = await this.db.tx(async (tx) => {
        await tx.insert(c).values(conversation);
        const row: MessageRow = {
          ...msg,
          conversationId: conversation.id,
          toolCalls: storedCalls(msg.toolCalls),
          id: msg.id ?? crypto.randomUUID(),
          seq: 1,
          createdAt: now,
        };
        await tx.insert(this.t.chatMessages).values(row);
        return row;
      });
      return { conversation, message };
    }
    const insert = this.stmts.get('insert_conversation', (o) =>
      o.insert(c).values({
        id: ph('id'),
        userId: ph('userId'),
        title: ph('title'),
        titleLocked: ph('titleLocked'),
        preview: ph('preview'),
        isActive: ph('isActive'),
        createdAt: ph('createdAt'),
        updatedAt: ph('updatedAt'),
      }),
    );
    const message = await this.group(async () => {
      await insert.execute(conversation as unknown as Record<string, unknown>);
      return this.insertMessage({ ...msg, conversationId: conversation.id }, 1, now);
    });
    return { conversation, message };
  }
}
