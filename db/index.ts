/**
 * Opening the database: SQLite by default, PostgreSQL when DATABASE_URL says so.
 *
 * Services see one API for both: `db.orm` is typed as drizzle's PostgreSQL database over the PostgreSQL
 * tables, and `db.t` as those tables. On SQLite both are really the bun-sqlite ones; the query builder
 * (`select`, `insert … onConflictDoUpdate`, `update`, `delete`, `returning`) behaves alike, so services use
 * only that, plus `db.tx` for transactions and `db.all` for raw SQL (never `orm.execute` or
 * `orm.transaction`, which exist on PostgreSQL only).
 */

import { Database } from 'bun:sqlite';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SQL } from 'drizzle-orm';
import { drizzle as drizzleSqlite } from 'drizzle-orm/bun-sqlite';
import { drizzle as drizzlePg, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { acquireFileMutex, type Mutex } from './lock.ts';
import { type MigrateTarget, MigrationError, migrate, pendingMigrations } from './migrate.ts';
import type { Schema } from './schema/define.ts';
import { pgSchema } from './schema/pg.ts';
import { sqliteSchema } from './schema/sqlite.ts';

export { MigrationError } from './migrate.ts';
export type { Schema } from './schema/define.ts';
export {
  assignDefaultRole,
  DEV_API_KEY_HASH,
  DEV_API_KEY_ID,
  DEV_USER_EMAIL,
  DEV_USER_ID,
  MU_PERSONA_ID,
  WELCOME_CONVERSATION_ID,
} from './seed.ts';

/** The query builder services use; typed as PostgreSQL for both dialects (see the file comment). */
export type Orm = PostgresJsDatabase<Schema>;

export type DbKind = 'sqlite' | 'postgresql';

export interface DbLog {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
}

export interface OpenDbOptions {
  url: string;
  kind: DbKind;
  /** File path, or `:memory:`; only for SQLite. */
  sqlitePath: string;
  poolMax: number;
  /** Apply pending migrations and run the seeds; when false, a pending migration is an error. */
  autoMigrate: boolean;
  seedDev: boolean;
  isProduction: boolean;
  log?: DbLog;
  /**
   * PostgreSQL only: how long one statement may take, counting the wait for a connection, before it fails
   * as `DatabaseUnavailableError` (default 5000). A statement that gave up is withdrawn if it was still
   * queued and aborted by the server otherwise, so it cannot take effect after its caller was answered.
   */
  queryTimeoutMs?: number;
  /** PostgreSQL only: how long opening a connection may take, in seconds (default 2). */
  connectTimeoutS?: number;
}

export const DEFAULT_QUERY_TIMEOUT_MS = 5000;
export const DEFAULT_CONNECT_TIMEOUT_S = 2;

export interface Db {
  kind: DbKind;
  orm: Orm;
  t: Schema;
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. A `tx` inside
   * another one becomes a savepoint of the outer transaction.
   */
  tx<T>(fn: (tx: Orm) => Promise<T>): Promise<T>;
  /** Runs raw SQL and returns its rows (column names as the database spells them). */
  all<T = Record<string, unknown>>(q: SQL): Promise<T[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Pool figures for metrics: how many connections it may open, what is in flight, what failed. */
  stats(): DbStats;
}

export interface DbStats {
  /** Connections the pool may open (1 for SQLite, one file handle). */
  poolSize: number;
  /**
   * Statements and transactions started and not yet answered, the wait for a connection included. Above
   * `poolSize` requests are queueing for connections.
   */
  inFlight: number;
  /** Statements that failed because the database was out of reach, and those that failed otherwise. */
  errors: { unavailable: number; other: number };
}

const silentLog: DbLog = { info: () => {}, warn: () => {} };

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  const log = opts.log ?? silentLog;
  const db =
    opts.kind === 'sqlite'
      ? openSqlite(opts.sqlitePath)
      : openPostgres(opts.url, {
          poolMax: opts.poolMax,
          queryTimeoutMs: opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
          connectTimeoutS: opts.connectTimeoutS ?? DEFAULT_CONNECT_TIMEOUT_S,
        });
  try {
    const target = migrateTargetOf(db);
    if (opts.autoMigrate) {
      await migrate(target, { seed: { seedDev: opts.seedDev, isProduction: opts.isProduction }, log });
    } else {
      const pending = await pendingMigrations(target);
      if (pending.length > 0) {
        throw new MigrationError(
          `The database has ${pending.length} pending migration(s) (${pending.map((m) => m.file).join(', ')}) ` +
            'and DATABASE_AUTO_MIGRATE=false: run `bun run db:migrate` first.',
        );
      }
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

// ── SQLite ──────────────────────────────────────────────────────────────────────────────────────────────

interface SqliteDb extends Db {
  kind: 'sqlite';
  client: Database;
  mutex: Mutex;
}

function openSqlite(path: string): SqliteDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const client = new Database(path, { create: true });
  // busy_timeout first, so switching to WAL waits for another process instead of failing.
  client.exec('PRAGMA busy_timeout = 5000');
  client.exec('PRAGMA journal_mode = WAL');
  client.exec('PRAGMA synchronous = NORMAL');
  client.exec('PRAGMA foreign_keys = ON');
  const orm = drizzleSqlite(client, { schema: sqliteSchema }) as unknown as Orm;
  const file = acquireFileMutex(path);
  const inTx = new AsyncLocalStorage<{ depth: number }>();
  let closed = false;

  /*
   * drizzle's bun-sqlite transactions are synchronous, so they cannot span awaits. Instead a transaction
   * is `BEGIN IMMEDIATE` … `COMMIT` on the single connection, serialised by an async mutex shared by every
   * connection to this file in the process (lock.ts). Caveat of the single connection: a statement issued
   * outside `tx` while another caller's transaction is open runs inside that transaction (and is undone
   * with it). SQLite has one writer anyway; callers keep transactions short and never await network I/O
   * inside them.
   */
  const tx = async <T>(fn: (tx: Orm) => Promise<T>): Promise<T> => {
    const outer = inTx.getStore();
    if (outer) {
      const name = `gaia_sp_${++outer.depth}`;
      client.exec(`SAVEPOINT ${name}`);
      try {
        const result = await fn(orm);
        client.exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        if (client.inTransaction) {
          client.exec(`ROLLBACK TO ${name}`);
          client.exec(`RELEASE ${name}`);
        }
        throw err;
      } finally {
        outer.depth--;
      }
    }
    return file.mutex.run(() =>
      inTx.run({ depth: 0 }, async () => {
        client.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(orm);
          client.exec('COMMIT');
          return result;
        } catch (err) {
          // Some errors (SQLITE_FULL, SQLITE_IOERR…) already rolled the transaction back.
          if (client.inTransaction) client.exec('ROLLBACK');
          throw err;
        }
      }),
    );
  };

  return {
    kind: 'sqlite',
    orm,
    t: sqliteSchema,
    client,
    mutex: file.mutex,
    tx,
    all: async <T>(q: SQL) => (orm as unknown as { all(q: SQL): T[] }).all(q),
    ping: async () => {
      client.query('SELECT 1').get();
    },
    // bun:sqlite runs each statement to its end before anything else runs: nothing is ever waiting.
    stats: () => ({ poolSize: 1, inFlight: 0, errors: { unavailable: 0, other: 0 } }),
    close: async () => {
      if (closed) return;
      closed = true;
      file.release();
      client.close();
    },
  };
}

// ── PostgreSQL ──────────────────────────────────────────────────────────────────────────────────────────

interface PostgresDb extends Db {
  kind: 'postgresql';
  url: string;
}

function openPostgres(
  url: string,
  o: { poolMax: number; queryTimeoutMs: number; connectTimeoutS: number },
): PostgresDb {
  const raw = postgres(url, {
    max: o.poolMax,
    // postgres.js waits 30 s for a connection by default and retries with a backoff that grows to 20 s;
    // during an outage requests would pile up behind that. Fail fast and retry often, so an outage costs
    // each request at most the query timeout and the first request after it succeeds at once.
    connect_timeout: o.connectTimeoutS,
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    // The server aborts what the client has stopped waiting for, so no statement commits after a caller
    // was told it failed.
    connection: { statement_timeout: o.queryTimeoutMs },
    // `CREATE TABLE IF NOT EXISTS` and friends send NOTICEs; they are not worth a log line.
    onnotice: () => {},
  });
  const stats: DbStats = { poolSize: o.poolMax, inFlight: 0, errors: { unavailable: 0, other: 0 } };
  const client = guardSql(raw, o.queryTimeoutMs, stats);
  const orm = drizzlePg(client, { schema: pgSchema });
  const inTx = new AsyncLocalStorage<Orm>();
  let closed = false;

  const tx = async <T>(fn: (tx: Orm) => Promise<T>): Promise<T> => {
    const outer = inTx.getStore();
    // Inside a transaction, drizzle's nested `transaction` is a savepoint on the same connection.
    const run = outer ? outer.transaction.bind(outer) : orm.transaction.bind(orm);
    return run((t) => inTx.run(t as unknown as Orm, () => fn(t as unknown as Orm)));
  };

  return {
    kind: 'postgresql',
    orm,
    t: pgSchema,
    url,
    tx,
    all: async <T>(q: SQL) => [...(await orm.execute(q))] as T[],
    ping: async () => {
      await client.unsafe('SELECT 1');
    },
    stats: () => ({ ...stats, errors: { ...stats.errors } }),
    close: async () => {
      if (closed) return;
      closed = true;
      await raw.end({ timeout: 5 });
    },
  };
}

/**
 * The database could not answer: refused, unreachable, timed out, or the connection was lost. Services
 * answer 503 for it, never 500. The message names no statement, parameter or address.
 */
export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(reason: string) {
    super(`database unavailable: ${reason}`);
    this.name = 'DatabaseUnavailableError';
  }
}

// Socket errors, postgres.js connection errors, SQLSTATEs for a server that is shutting down, starting or
// full, and SQLite's "another writer holds the file past busy_timeout".
const UNAVAILABLE_CODES = new Set([
  'DATABASE_UNAVAILABLE',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  '57014', // statement_timeout (set to the query timeout) fired on the server
  '57P01',
  '57P02',
  '57P03',
  '53300',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
]);

/** Whether `err` (or what it wraps: drizzle puts the driver's error in `cause`) means the database is out of reach. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && typeof e === 'object' && i < 5;
    e = e.cause as never, i++
  ) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = typeof e.code === 'string' ? e.code : undefined;
    // SQLSTATE class 08: connection exceptions.
    if (code && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  }
  return false;
}

type Sql = postgres.Sql;
type PendingQuery = ReturnType<Sql['unsafe']>;

/**
 * A query that fails with DatabaseUnavailableError once `ms` pass without an answer. postgres.js queries are
 * lazy (they start on `then`) and drizzle may call `.values()` first, so this stays lazy too.
 */
class TimedQuery implements PromiseLike<unknown> {
  private run?: Promise<unknown>;
  constructor(
    private readonly q: PendingQuery,
    private readonly ms: number,
    private readonly stats: DbStats,
  ) {}

  values(): this {
    this.q.values();
    return this;
  }

  // biome-ignore lint/suspicious/noThenProperty: drizzle awaits the driver's query objects; this is one.
  then<A = unknown, B = never>(
    onFulfilled?: ((v: unknown) => A | PromiseLike<A>) | null,
    onRejected?: ((e: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.run ??= counted(
      this.stats,
      new Promise((resolve, reject) => {
        const q = this.q as PendingQuery & { state?: unknown };
        const timer = setTimeout(() => {
          reject(new DatabaseUnavailableError(`no answer within ${this.ms} ms`));
          // Still waiting for a connection: withdraw it, so it cannot run once the database is back. One
          // already sent is aborted by the server's statement_timeout or fails with its connection.
          if (!q.state) q.cancel();
        }, this.ms);
        q.then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          (e) => {
            clearTimeout(timer);
            reject(e);
          },
        );
      }),
    );
    return this.run.then(onFulfilled, onRejected);
  }
}

/**
 * Keeps `stats` in step with one statement or transaction: in flight until it settles. Failed statements
 * are counted; a failed transaction is not counted again (the statement that failed it already was).
 */
function counted<T>(stats: DbStats, run: Promise<T>, countErrors = true): Promise<T> {
  stats.inFlight++;
  return run.then(
    (v) => {
      stats.inFlight--;
      return v;
    },
    (err) => {
      stats.inFlight--;
      if (countErrors) {
        if (isDatabaseUnavailable(err)) stats.errors.unavailable++;
        else stats.errors.other++;
      }
      throw err;
    },
  );
}

/**
 * Puts the query timeout on everything drizzle runs: each statement, the wait for a transaction's
 * connection, and its COMMIT. A transaction whose caller already got an error never starts late: its body
 * throws at once and postgres.js rolls it back.
 */
function guardSql(sql: Sql, ms: number, stats: DbStats): Sql {
  const timedOut = () => new DatabaseUnavailableError(`no answer within ${ms} ms`);
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === 'unsafe')
        return (query: string, params?: unknown[], opts?: object) =>
          new TimedQuery(target.unsafe(query, params as never, opts as never), ms, stats);
      if (prop === 'savepoint')
        return (a: unknown, b?: unknown) => {
          const fn = (typeof a === 'function' ? a : b) as (s: Sql) => unknown;
          const wrapped = (s: Sql) => fn(guardSql(s, ms, stats));
          const t = target as unknown as { savepoint(...args: unknown[]): Promise<unknown> };
          return typeof a === 'function' ? t.savepoint(wrapped) : t.savepoint(a, wrapped);
        };
      if (prop === 'begin')
        return (a: unknown, b?: unknown) => {
          const fn = (typeof a === 'function' ? a : b) as (s: Sql) => unknown;
          const options = typeof a === 'string' ? a : undefined;
          return counted(
            stats,
            new Promise((resolve, reject) => {
              let phase: 'waiting' | 'running' | 'abandoned' = 'waiting';
              let commitTimer: ReturnType<typeof setTimeout> | undefined;
              const startTimer = setTimeout(() => {
                if (phase !== 'waiting') return;
                phase = 'abandoned';
                reject(timedOut());
              }, ms);
              const body = async (s: Sql) => {
                clearTimeout(startTimer);
                if (phase === 'abandoned') throw timedOut();
                phase = 'running';
                try {
                  const result = await fn(guardSql(s, ms, stats));
                  commitTimer = setTimeout(() => reject(timedOut()), ms);
                  return result;
                } catch (err) {
                  // Answer now: the ROLLBACK that follows may itself wait on a dead connection.
                  reject(err);
                  throw err;
                }
              };
              const t = target as unknown as { begin(...args: unknown[]): Promise<unknown> };
              (options === undefined ? t.begin(body) : t.begin(options, body)).then(
                (v) => {
                  clearTimeout(commitTimer);
                  resolve(v);
                },
                (e) => {
                  clearTimeout(startTimer);
                  clearTimeout(commitTimer);
                  reject(e);
                },
              );
            }),
            false,
          );
        };
      return Reflect.get(target, prop, receiver);
    },
  });
}

function migrateTargetOf(db: Db): MigrateTarget {
  if (db.kind === 'sqlite') {
    const s = db as SqliteDb;
    return { kind: 'sqlite', client: s.client, mutex: s.mutex, orm: s.orm, t: s.t };
  }
  return { kind: 'postgresql', url: (db as PostgresDb).url };
}

/** Runs the migrator (and seeds) on an open database, for `bun run db:migrate`. */
export async function migrateDb(
  db: Db,
  opts: { seedDev: boolean; isProduction: boolean; log?: DbLog },
): Promise<{ applied: string[] }> {
  return migrate(migrateTargetOf(db), {
    seed: { seedDev: opts.seedDev, isProduction: opts.isProduction },
    log: opts.log ?? silentLog,
  });
}

export interface DbHealth {
  status: 'healthy' | 'unhealthy';
  database: DbKind;
  responsive: boolean;
  error?: string;
}

/** The `database` entry of `/health`: `SELECT 1` within `timeoutMs`. Never names the URL. */
export async function dbHealth(db: Db, timeoutMs = 1500): Promise<DbHealth> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      db.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'healthy', database: db.kind, responsive: true };
  } catch (err) {
    return { status: 'unhealthy', database: db.kind, responsive: false, error: describeDbError(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A short reason for a failed database call, safe for logs and `/health`: no address, credential, statement
 * parameter or quoted value (PostgreSQL quotes the offending input in messages such as `invalid input
 * syntax for type uuid: "…"`). drizzle's wrapper, whose message carries the parameters, is looked through.
 */
export function describeDbError(err: unknown): string {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (
    let i = 0;
    i < 5 && e && typeof e === 'object' && e.cause && /^Failed query/.test(String(e.message));
    i++
  )
    e = e.cause as typeof e;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code === 'CONNECTION_ENDED' || code === 'CONNECTION_DESTROYED' || code === 'CONNECTION_CLOSED')
    return 'connection closed';
  if (code === 'CONNECT_TIMEOUT') return 'connect timeout';
  let msg = String(e?.message ?? err);
  if (/^Failed query/.test(msg)) msg = 'query failed';
  msg = msg
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/"[^"]*"|'[^']*'/g, '"…"')
    .replace(/\n[\s\S]*/, '')
    .slice(0, 200);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

export type ConstraintKind = 'unique' | 'foreign_key' | 'check' | 'not_null';

const PG_CONSTRAINT_CODES: Record<string, ConstraintKind> = {
  '23505': 'unique',
  '23503': 'foreign_key',
  '23514': 'check',
  '23502': 'not_null',
};
const SQLITE_CONSTRAINT_CODES: Record<string, ConstraintKind> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key',
  SQLITE_CONSTRAINT_CHECK: 'check',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null',
};

/**
 * Which constraint a failed write violated, the same way in both dialects (drizzle wraps PostgreSQL errors
 * in a DrizzleQueryError whose `cause` carries the SQLSTATE; bun:sqlite errors carry an extended code).
 * Lets a service turn a lost race on a unique key into a 409 instead of a 500.
 */
export function constraintViolation(err: unknown): ConstraintKind | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 5;
    e = e.cause as never, i++
  ) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && (PG_CONSTRAINT_CODES[code] ?? SQLITE_CONSTRAINT_CODES[code]))
      return PG_CONSTRAINT_CODES[code] ?? SQLITE_CONSTRAINT_CODES[code];
  }
  return undefined;
}
