/**
 * `GET /api/v1/chat/usage?days=30`: the caller's chat spend per UTC day from the `llm_usage` ledger (tokens in
 * and out, cost, provider calls), oldest day first, every day of the window present (zero when idle) so a
 * chart needs no gap filling. Only the caller's rows are ever read; there is no way to name another user.
 */
import { and, eq, gte, type SQL, sql } from 'drizzle-orm';
import { Elysia } from 'elysia';
import type { Db } from '../../../db/index.ts';
import { jsonResponse, validationError } from '../../../src/http/errors.ts';
import { requireUser } from '../../../src/http/service.ts';
import type { ChatContext } from '../context.ts';

const DAY_MS = 86_400_000;
export const DEFAULT_DAYS = 30;
export const MAX_DAYS = 366;

export interface UsageDay {
  date: string;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost: number;
  requests: number;
}

/** The `days` query: an integer 1–366, or the default when absent or empty. */
export function parseDays(raw: string | undefined): number {
  const v = raw?.trim();
  if (v === undefined || v === '') return DEFAULT_DAYS;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_DAYS)
    throw validationError(
      [{ path: 'days', message: `Must be an integer from 1 to ${MAX_DAYS}` }],
      `Invalid days: ${v.slice(0, 20)}`,
    );
  return Number(v);
}

const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

/** Ledger costs are sums of per-call figures with 8 decimals; six are plenty for a person reading them. */
const money = (v: number): number => Math.round(v * 1e6) / 1e6;

/** The UTC calendar day of a row, spelled by each database its own way. */
function dayExpr(db: Db): SQL<string> {
  const at = db.t.llmUsage.createdAt;
  return db.kind === 'sqlite'
    ? sql<string>`strftime('%Y-%m-%d', ${at} / 1000, 'unixepoch')`
    : sql<string>`to_char(${at} at time zone 'UTC', 'YYYY-MM-DD')`;
}

export async function dailyUsage(
  db: Db,
  userId: string,
  days: number,
  now = new Date(),
): Promise<UsageDay[]> {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const start = new Date(today - (days - 1) * DAY_MS);
  const u = db.t.llmUsage;
  const day = dayExpr(db);
  const rows = await db.orm
    .select({
      day,
      input: sql<number | string | null>`sum(${u.inputTokens})`,
      output: sql<number | string | null>`sum(${u.outputTokens})`,
      cost: sql<number | string | null>`sum(${u.costUsd})`,
      requests: sql<number | string>`count(*)`,
    })
    .from(u)
    .where(and(eq(u.userId, userId), gte(u.createdAt, start)))
    .groupBy(day);
  const byDay = new Map(rows.map((r) => [String(r.day), r]));
  const out: UsageDay[] = [];
  for (let i = 0; i < days; i++) {
    const date = dayOf(new Date(start.getTime() + i * DAY_MS));
    const r = byDay.get(date);
    const input = Number(r?.input ?? 0);
    const output = Number(r?.output ?? 0);
    out.push({
      date,
      input_tokens: input,
      output_tokens: output,
      total_tokens: input + output,
      cost: money(Number(r?.cost ?? 0)),
      requests: Number(r?.requests ?? 0),
    });
  }
  return out;
}

export function usageRoutes(ctx: ChatContext) {
  return new Elysia({ name: 'chat-usage' })
    .use(ctx.kernel)
    .get('/api/v1/chat/usage', async ({ identity, query }) => {
      const user = requireUser(identity);
      const days = parseDays((query as Record<string, string | undefined>).days);
      const daily = await dailyUsage(ctx.deps.db, user.id, days);
      const totals = daily.reduce(
        (t, d) => ({
          input_tokens: t.input_tokens + d.input_tokens,
          output_tokens: t.output_tokens + d.output_tokens,
          total_tokens: t.total_tokens + d.total_tokens,
          cost: t.cost + d.cost,
          requests: t.requests + d.requests,
        }),
        { input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: 0, requests: 0 },
      );
      return jsonResponse({
        days,
        start_date: daily[0]!.date,
        end_date: daily[daily.length - 1]!.date,
        currency: 'USD',
        daily,
        totals: { ...totals, cost: money(totals.cost) },
      });
    });
}
