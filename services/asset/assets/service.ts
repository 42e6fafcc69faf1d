/**
 * Reading stored assets and jobs for their owners: the list with its filters, one asset with fresh signed
 * links, job status, and the access decision for downloads (signed link, else the owner or an admin).
 * Another user's asset and an unknown one look the same from outside: 404 with identical bodies.
 */
import { and, asc, count, desc, eq, gte, lte, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { AssetConfig } from '../config.ts';
import { linkFor, verifyLink } from '../downloads/signing.ts';
import { CATEGORIES, PROVIDERS, usd } from '../types.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Viewer {
  id: string | null;
  admin: boolean;
}

type Query = Record<string, string | undefined>;

const notFound = (id: string) => new HttpError(404, `Asset ${id} not found`);

function queryError(path: string, message: string): HttpError {
  return new HttpError(422, 'Invalid query parameter', { errors: [{ path: `query.${path}`, message }] });
}

function intQuery(q: Query, name: string, def: number, min: number, max: number): number {
  const raw = q[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw queryError(name, `Must be an integer from ${min} to ${max}`);
  return n;
}

function dateQuery(q: Query, name: string): Date | null {
  const raw = q[name];
  if (raw === undefined || raw === '') return null;
  const d = new Date(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(d.getTime()))
    throw queryError(name, 'Must be an ISO-8601 date');
  return d;
}

export class AssetReader {
  constructor(
    private readonly db: Db,
    private readonly config: AssetConfig,
  ) {}

  links(id: string, now = Date.now()): { download_url: string; preview_image_url: string } {
    const { publicUrl, urlTtlSeconds, urlSecret } = this.config;
    return {
      download_url: linkFor(publicUrl, 'file', id, urlTtlSeconds, urlSecret, now),
      preview_image_url: linkFor(publicUrl, 'preview', id, urlTtlSeconds, urlSecret, now),
    };
  }

  private async row(id: string) {
    if (!UUID_RE.test(id)) return null;
    const a = this.db.t.assets;
    const [row] = await this.db.orm.select().from(a).where(eq(a.id, id)).limit(1);
    return row ?? null;
  }

  /** The AssetResponse as first produced, with fresh links; null when the asset does not exist. */
  async response(id: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown> | null> {
    const row = await this.row(id);
    if (!row?.response) return null;
    const r = row.response as Record<string, unknown>;
    return {
      ...r,
      ...extra,
      asset_data: { ...this.links(id), ...(r.asset_data as Record<string, unknown>) },
    };
  }

  async get(viewer: Viewer, id: string): Promise<Record<string, unknown>> {
    const row = await this.row(id);
    if (!row || !(viewer.admin || (viewer.id && row.userId === viewer.id))) throw notFound(id);
    const body = await this.response(id);
    if (!body) throw notFound(id);
    return { ...body, category: row.category, created_at: row.createdAt.toISOString() };
  }

  async list(viewer: Viewer, q: Query): Promise<Record<string, unknown>> {
    const limit = intQuery(q, 'limit', 20, 1, 100);
    const offset = intQuery(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const after = dateQuery(q, 'created_after');
    const before = dateQuery(q, 'created_before');
    const sort = q.sort ?? '-created_at';
    if (sort !== '-created_at' && sort !== 'created_at')
      throw queryError('sort', 'Must be -created_at or created_at');
    if (q.category && !(CATEGORIES as readonly string[]).includes(q.category))
      throw queryError('category', `Must be one of ${CATEGORIES.join(', ')}`);
    if (q.provider && !(PROVIDERS as readonly string[]).includes(q.provider))
      throw queryError('provider', `Must be one of ${PROVIDERS.join(', ')}`);
    const all = q.all === 'true';
    if (all && !viewer.admin) throw new HttpError(403, "Only administrators may list every user's assets");
    const a = this.db.t.assets;
    const where: SQL[] = [];
    if (!all) where.push(eq(a.userId, viewer.id ?? ''));
    if (q.category) where.push(eq(a.category, q.category as never));
    if (q.provider) where.push(eq(a.provider, q.provider));
    if (q.session_id) where.push(eq(a.sessionId, q.session_id));
    if (after) where.push(gte(a.createdAt, after));
    if (before) where.push(lte(a.createdAt, before));
    if (q.q) {
      // Literal, case-insensitive substring: LIKE wildcards in the query are escaped.
      const pattern = `%${q.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(
        sql`(lower(${a.title}) LIKE ${pattern} ESCAPE '\\' OR lower(coalesce(${a.description}, '')) LIKE ${pattern} ESCAPE '\\')`,
      );
    }
    const cond = where.length ? and(...where) : undefined;
    const [{ n }] = (await this.db.orm.select({ n: count() }).from(a).where(cond)) as [{ n: number }];
    const rows = await this.db.orm
      .select()
      .from(a)
      .where(cond)
      .orderBy(sort === 'created_at' ? asc(a.createdAt) : desc(a.createdAt))
      .limit(limit)
      .offset(offset);
    const now = Date.now();
    return {
      assets: rows.map((r) => {
        const data = ((r.response as Record<string, unknown> | null)?.asset_data ?? {}) as Record<
          string,
          unknown
        >;
        return {
          asset_id: r.id,
          category: r.category,
          title: r.title,
          style: r.style,
          provider: r.provider,
          file_format: r.fileFormat,
          file_size_mb: data.file_size_mb ?? null,
          cost: usd(r.costMicroUsd),
          quality_score: r.qualityScore,
          license_type: r.licenseType,
          ...this.links(r.id, now),
          session_id: r.sessionId,
          created_at: r.createdAt.toISOString(),
        };
      }),
      total: Number(n),
      limit,
      offset,
      timestamp: new Date().toISOString(),
    };
  }

  /**
   * Who may download: a valid signed link; else the owner or an admin; else 404 for other signed-in users
   * and 403 for anonymous callers (so a link never confirms an id to someone without credentials).
   */
  async downloadable(
    viewer: Viewer,
    kind: 'file' | 'preview',
    id: string,
    exp: string | undefined,
    sig: string | undefined,
  ) {
    const row = await this.row(id);
    if (row && verifyLink(kind, id, exp, sig, this.config.urlSecret)) return row;
    if (!viewer.id) throw new HttpError(403, 'Invalid or expired download link');
    if (!row || !(viewer.admin || row.userId === viewer.id)) throw notFound(id);
    return row;
  }

  // ── jobs ───────────────────────────────────────────────────────────────────────────────────────────

  private jobJson(row: typeof this.db.t.assetJobs.$inferSelect, asset: Record<string, unknown> | null) {
    return {
      job_id: row.id,
      status: row.status,
      progress: row.progress ?? null,
      category: row.category,
      provider: row.provider,
      estimated_cost: usd(row.estimatedCostMicroUsd ?? 0),
      cost: row.status === 'completed' || row.status === 'failed' ? usd(row.costMicroUsd ?? 0) : null,
      asset_id: row.assetId ?? null,
      asset,
      error: row.error ?? null,
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
      completed_at: row.completedAt ? row.completedAt.toISOString() : null,
    };
  }

  async job(viewer: Viewer, id: string): Promise<Record<string, unknown>> {
    const t = this.db.t.assetJobs;
    const row = UUID_RE.test(id)
      ? (await this.db.orm.select().from(t).where(eq(t.id, id)).limit(1))[0]
      : undefined;
    if (!row || !(viewer.admin || row.userId === viewer.id)) throw new HttpError(404, `Job ${id} not found`);
    const asset = row.assetId ? await this.response(row.assetId) : null;
    return this.jobJson(row, asset);
  }

  async jobs(viewer: Viewer, q: Query): Promise<Record<string, unknown>> {
    const limit = intQuery(q, 'limit', 20, 1, 100);
    const offset = intQuery(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const statuses = ['queued', 'processing', 'completed', 'failed'];
    if (q.status && !statuses.includes(q.status))
      throw queryError('status', `Must be one of ${statuses.join(', ')}`);
    const t = this.db.t.assetJobs;
    const where: SQL[] = [eq(t.userId, viewer.id ?? '')];
    if (q.status) where.push(eq(t.status, q.status as never));
    const cond = and(...where);
    const [{ n }] = (await this.db.orm.select({ n: count() }).from(t).where(cond)) as [{ n: number }];
    const rows = await this.db.orm
      .select()
      .from(t)
      .where(cond)
      .orderBy(desc(t.createdAt))
      .limit(limit)
      .offset(offset);
    return { jobs: rows.map((r) => this.jobJson(r, null)), total: Number(n), limit, offset };
  }
}
