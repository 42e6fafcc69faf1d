/**
 * Cost analytics from real generation records. The orchestrator reads the records for the range this
 * module validated; everything reported here is summed from those rows, never estimated.
 */
import { HttpError, validationError } from '../../../src/http/errors.ts';
import type { Category, Micro, ProviderId } from '../types.ts';
import { usd } from '../types.ts';

/** One generation as stored: what it cost and what it produced. */
export interface GenerationRow {
  created_at: Date;
  provider: ProviderId;
  category: Category;
  cost_micro: number;
  status: 'completed' | 'failed';
  operation: string;
  credits?: number | null;
  audio_seconds?: number | null;
}

export type AnalyticsQuery = Record<string, string | undefined>;

export interface AnalyticsRange {
  /** `YYYY-MM-DD`, inclusive. */
  startDate: string;
  endDate: string;
  /** First instant of the start day (UTC). */
  start: Date;
  /** First instant after the end day (UTC): read `created_at >= start AND created_at < endExclusive`. */
  endExclusive: Date;
  /** The provider as the routes name it (`dalle` for `openai`), when filtered. */
  provider: string | null;
  /** The asset provider behind `provider`. */
  providerId: ProviderId | null;
  /** Every user's records (admins only). */
  all: boolean;
}

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const MAX_DAYS = 366;
const TOP_OPERATIONS = 10;

/** The names the analytics route accepts for a provider filter, and the asset provider each means. */
const FILTERS: Record<string, ProviderId> = {
  dalle: 'openai',
  openai: 'openai',
  stability: 'stability',
  meshy: 'meshy',
  elevenlabs: 'elevenlabs',
  mubert: 'mubert',
  local: 'local',
};

const IMAGE_CATEGORIES = new Set<Category>(['image', 'texture']);
const MODEL_CATEGORIES = new Set<Category>(['environment', 'character', 'prop']);

const dayOf = (d: Date): string => d.toISOString().slice(0, 10);
const keyOf = (p: ProviderId): string => (p === 'openai' ? 'dalle' : p);

/** A strict `YYYY-MM-DD` calendar date at 00:00 UTC, or null. */
function parseDay(raw: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  // Date.UTC rolls 2025-02-30 over to March; a rolled date was not a real one.
  return dayOf(d) === raw ? d : null;
}

function dateParam(query: AnalyticsQuery, name: 'start_date' | 'end_date'): Date | null {
  const raw = query[name]?.trim();
  if (!raw) return null;
  const d = parseDay(raw);
  if (!d) {
    throw validationError(
      [{ path: name, message: 'Must be a date as YYYY-MM-DD' }],
      `Invalid ${name}: ${raw} (expected YYYY-MM-DD)`,
    );
  }
  return d;
}

export function analyticsRange(query: AnalyticsQuery, caller: { admin: boolean }, now: Date): AnalyticsRange {
  const allRaw = query.all?.trim().toLowerCase();
  if (allRaw !== undefined && allRaw !== '' && allRaw !== 'true' && allRaw !== 'false') {
    throw validationError([{ path: 'all', message: 'Must be true or false' }], `Invalid all: ${query.all}`);
  }
  const all = allRaw === 'true';
  if (all && !caller.admin) throw new HttpError(403, 'Admin access required');

  let start = dateParam(query, 'start_date');
  let end = dateParam(query, 'end_date');
  // Defaults: the 30 days ending today, or 30 days ending at / starting from the one date given.
  if (!end) end = start ? new Date(start.getTime() + (DEFAULT_DAYS - 1) * DAY_MS) : parseDay(dayOf(now))!;
  if (!start) start = new Date(end.getTime() - (DEFAULT_DAYS - 1) * DAY_MS);
  if (start > end) {
    throw validationError(
      [{ path: 'start_date', message: 'Must not be after end_date' }],
      'start_date is after end_date',
    );
  }
  const days = Math.round((end.getTime() - start.getTime()) / DAY_MS) + 1;
  if (days > MAX_DAYS) {
    throw validationError(
      [{ path: 'end_date', message: `The range may cover at most ${MAX_DAYS} days` }],
      `Date range of ${days} days exceeds ${MAX_DAYS} days`,
    );
  }

  const rawProvider = query.provider?.trim().toLowerCase();
  let provider: string | null = null;
  let providerId: ProviderId | null = null;
  if (rawProvider) {
    const id = Object.hasOwn(FILTERS, rawProvider) ? FILTERS[rawProvider] : undefined;
    if (!id) {
      throw validationError(
        [{ path: 'provider', message: `Must be one of ${Object.keys(FILTERS).join(', ')}` }],
        `Unknown provider: ${query.provider}`,
      );
    }
    providerId = id;
    provider = keyOf(id);
  }
  return {
    startDate: dayOf(start),
    endDate: dayOf(end),
    start,
    endExclusive: new Date(end.getTime() + DAY_MS),
    provider,
    providerId,
    all,
  };
}

export function analyticsBody(
  rows: readonly GenerationRow[],
  range: AnalyticsRange,
): Record<string, unknown> {
  let total: Micro = 0;
  const byProvider = new Map<string, Micro>();
  const byDay = new Map<string, Micro>();
  const byOperation = new Map<string, { cost: Micro; count: number }>();
  let images = 0;
  let models = 0;
  let audioSeconds = 0;
  let credits = 0;
  let completed = 0;
  let failed = 0;

  for (const row of rows) {
    const at = row.created_at.getTime();
    if (!(at >= range.start.getTime() && at < range.endExclusive.getTime())) continue;
    const c = Number.isFinite(row.cost_micro) ? row.cost_micro : 0;
    total += c;
    const key = keyOf(row.provider);
    byProvider.set(key, (byProvider.get(key) ?? 0) + c);
    const day = dayOf(row.created_at);
    byDay.set(day, (byDay.get(day) ?? 0) + c);
    const op = byOperation.get(row.operation) ?? { cost: 0, count: 0 };
    op.cost += c;
    op.count += 1;
    byOperation.set(row.operation, op);
    // Credits are what the provider consumed, which a failed task may also have done.
    if (row.credits) credits += row.credits;
    if (row.status === 'failed') {
      failed++;
      continue;
    }
    completed++;
    if (IMAGE_CATEGORIES.has(row.category)) images++;
    else if (MODEL_CATEGORIES.has(row.category)) models++;
    else if (row.category === 'audio') audioSeconds += row.audio_seconds ?? 0;
  }

  const body: Record<string, unknown> = {
    period: { start_date: range.startDate, end_date: range.endDate },
    total_cost: usd(total),
    cost_breakdown: Object.fromEntries(
      [...byProvider].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, usd(v)]),
    ),
    usage_metrics: {
      total_images: images,
      total_3d_models: models,
      total_audio_seconds: Math.round(audioSeconds * 100) / 100,
      total_credits: Math.round(credits * 100) / 100,
      total_generations: completed,
      failed_generations: failed,
    },
    cost_trends: [...byDay]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([date, c]) => ({ date, daily_cost: usd(c) })),
    top_cost_operations: [...byOperation]
      .sort(([an, a], [bn, b]) => b.cost - a.cost || b.count - a.count || (an < bn ? -1 : 1))
      .slice(0, TOP_OPERATIONS)
      .map(([operation, o]) => ({ operation, cost: usd(o.cost), count: o.count })),
  };
  if (range.provider) {
    body.filtered_provider = range.provider;
    body.provider_cost = usd(byProvider.get(range.provider) ?? 0);
  }
  return body;
}
