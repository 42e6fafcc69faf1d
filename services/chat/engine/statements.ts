/**
 * Prepared statements for the chat hot path, built once per chat instance.
 *
 * Why: on every call drizzle rebuilds the SQL text from the query builder (mergeQueries,
 * buildQueryFromSourceParams, escapeName…) and, on bun:sqlite, compiles it again with sqlite3_prepare; the
 * two were the largest part of a chat request's CPU. A statement built once with `sql.placeholder` skips
 * both. On PostgreSQL, naming the statement also makes drizzle ask postgres-js for a server-side prepared
 * statement (cached per connection), where unnamed queries are parsed by the server every time.
 *
 * The statements are bound to `db.orm`. On SQLite that is the only connection, so they run inside an open
 * `db.tx` too; on PostgreSQL they run on the pool, outside any transaction, so `group` never opens one there.
 * Placeholders in `values()`/`set()` go through the column's encoder, but without drizzle's null check:
 * pass null only to plain text and number columns (never to timestamps, booleans or JSON).
 */
import type { Db, Orm } from '../../../db/index.ts';

export interface Prepared<R> {
  execute(values?: Record<string, unknown>): Promise<R>;
}

export class Statements {
  private readonly cache = new Map<string, Prepared<unknown>>();

  constructor(private readonly db: Db) {}

  /** The statement named `name`, built by `build` on first use. */
  get<R>(name: string, build: (orm: Orm) => { prepare(name: string): Prepared<R> }): Prepared<R> {
    let p = this.cache.get(name) as Prepared<R> | undefined;
    if (!p) {
      p = build(this.db.orm).prepare(`chat_${name}`);
      this.cache.set(name, p as Prepared<unknown>);
    }
    return p;
  }

  /**
   * Runs several hot-path writes as one unit of work. SQLite: one transaction, so one WAL commit instead of
   * one per statement (measured: only 10–20 µs a request, most of a commit's cost is the pages written) and
   * the step's writes land together; a statement that fails inside it, e.g. a unique violation, undoes only
   * itself, so callers may catch and go on. PostgreSQL: the statements stay autocommit on the pool, as before, because
   * a transaction would cost two more round trips (BEGIN, COMMIT) and could not use the pool's prepared
   * statements.
   */
  group<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.kind === 'sqlite' ? this.db.tx(() => fn()) : fn();
  }
}
