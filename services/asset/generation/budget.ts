/**
 * The per-user daily budget. Today's spend is what the user's jobs since 00:00 UTC cost plus what they still
 * hold reserved; a new job's estimate is reserved in the same transaction that checks it, under a per-user
 * lock (PostgreSQL: a transaction-scoped advisory lock on the user id; SQLite: its single writer), so
 * concurrent requests on any number of instances sharing the database cannot overspend together.
 */
import { and, eq, gte, sql } from 'drizzle-orm';
import type { Db, Orm } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import { type Micro, usd } from '../types.ts';

export function startOfUtcDay(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/** What the user has spent or reserved today. */
export async function spentToday(db: Db, orm: Orm, userId: string, now = new Date()): Promise<Micro> {
  const j = db.t.assetJobs;
  const rows = await orm
    .select({
      total: sql<number>`coalesce(sum(coalesce(${j.costMicroUsd}, 0) + coalesce(${j.reservedMicroUsd}, 0)), 0)`,
    })
    .from(j)
    .where(and(eq(j.userId, userId), gte(j.createdAt, startOfUtcDay(now))));
  return Number(rows[0]?.total ?? 0);
}

/**
 * Checks the daily cap and runs `insert` (which records the reservation) in one locked transaction.
 * `capMicro` 0 means no cap. Throws the 402 of the budget rule when the estimate does not fit.
 */
export async function reserve<T>(
  db: Db,
  userId: string,
  estimate: Micro,
  capMicro: Micro,
  insert: (tx: Orm) => Promise<T>,
): Promise<T> {
  return db.tx(async (tx) => {
    if (db.kind === 'postgresql')
      await (tx as unknown as { execute(q: ReturnType<typeof sql>): Promise<unknown> }).execute(
        sql`SELECT pg_advisory_xact_lock(hashtext(${`asset-budget:${userId}`}))`,
      );
    if (capMicro > 0) {
      const used = await spentToday(db, tx, userId);
      if (used + estimate > capMicro)
        throw new HttpError(
          402,
          `Daily asset budget exceeded: $${usd(used).toFixed(4)} of $${usd(capMicro).toFixed(4)} used today`,
        );
    }
    return insert(tx);
  });
}
