/**
 * What the knowledge-base pages read and write through the gateway's `/api/v1/kb` JSON API, with the
 * signed-in user's token (the web UI never touches the KB's files itself). Every call answers either the
 * body or the status and detail the page turns into a message.
 */
import { detailOf, type WebContext } from '../context.ts';

export interface KbMe {
  user_id: string;
  admin: boolean;
  namespaces: Array<{ path: string; access: string[] }>;
  teams: Array<{ name: string; role?: string }>;
  workspaces: Array<{ name: string; owner?: string }>;
}

export interface KbListing {
  path: string;
  directories: Array<{ name: string; path: string }>;
  files: Array<{ name: string; path: string; size: number; modified: string; is_index: boolean }>;
}

export interface KbFile {
  path: string;
  namespace: string;
  title: string;
  frontmatter: Record<string, unknown>;
  content: string;
  keywords: string[];
  wiki_links: string[];
  size: number;
  modified: string;
  is_index: boolean;
  sha: string;
  raw_content?: string;
}

export interface KbAccess {
  path: string;
  namespace: string;
  can: Partial<Record<'read' | 'list' | 'search' | 'write' | 'move' | 'delete' | 'share', boolean>>;
}

export interface KbCommit {
  sha: string;
  author: string;
  email: string;
  date: string;
  message: string;
}

export interface KbSearchHit {
  path: string;
  namespace: string;
  context: string | null;
  title: string;
  score: number;
  line_number: number;
  excerpt: string;
  matched_terms: string[];
  keywords: string[];
  modified: string;
}

export interface KbSearchResult {
  query: string;
  match: 'all' | 'any' | 'phrase';
  total: number;
  limit: number;
  offset: number;
  took_ms: number;
  results: KbSearchHit[];
}

export interface KbWriteResult {
  path: string;
  action: 'create' | 'update' | 'unchanged';
  commit: string | null;
  sha: string;
  warnings: string[];
}

export type KbAnswer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; detail: string; body: Record<string, any> | null };

const API = '/api/v1/kb';

/**
 * The KB's own reading of a path typed by a user: the old absolute `/kb/…` form and a leading slash both
 * mean the KB root; surrounding whitespace is a typing slip. Trailing slashes only mark folders.
 */
export function normalisePath(raw: string | null | undefined): string {
  const p = (raw ?? '').trim();
  const noKb = p.startsWith('/kb/') ? p.slice(3) : p;
  return noKb.replace(/^\/+/, '');
}

export function dirPath(raw: string | null | undefined): string {
  return normalisePath(raw).replace(/\/+$/, '');
}

/** The gateway URL of a file: each segment percent-encoded once, so the KB decodes it exactly once. */
export function fileUrl(path: string): string {
  return `${API}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

async function call<T>(ctx: WebContext, path: string, init: { method?: string; json?: unknown } = {}) {
  const { res, body } = await ctx.apiJson<any>(path, init);
  if (res.ok && body !== null) return { ok: true, status: res.status, body: body as T } as const;
  return {
    ok: false,
    status: res.ok ? 502 : res.status,
    detail: detailOf(body),
    body: body && typeof body === 'object' ? body : null,
  } as const;
}

export function kbMe(ctx: WebContext): Promise<KbAnswer<KbMe>> {
  return call<KbMe>(ctx, `${API}/me`);
}

export function kbList(ctx: WebContext, dir: string): Promise<KbAnswer<KbListing>> {
  return call<KbListing>(ctx, `${API}/list?${new URLSearchParams({ path: dir === '' ? '/' : dir })}`);
}

export function kbFile(ctx: WebContext, path: string, raw = false): Promise<KbAnswer<KbFile>> {
  return call<KbFile>(ctx, raw ? `${fileUrl(path)}?include=raw` : fileUrl(path));
}

export function kbAccess(ctx: WebContext, path: string): Promise<KbAnswer<KbAccess>> {
  return call<KbAccess>(ctx, `${API}/access?${new URLSearchParams({ path })}`);
}

/** The newest commit that touched `path`, or null when there is none or history is unavailable. */
export async function kbLastCommit(ctx: WebContext, path: string): Promise<KbCommit | null> {
  const a = await call<{ commits?: KbCommit[] }>(
    ctx,
    `${API}/history?${new URLSearchParams({ path, limit: '1' })}`,
  );
  return a.ok ? (a.body.commits?.[0] ?? null) : null;
}

export function kbSave(
  ctx: WebContext,
  path: string,
  body: { content: string; message: string; expected_sha: string | null },
): Promise<KbAnswer<KbWriteResult>> {
  return call<KbWriteResult>(ctx, fileUrl(path), { method: 'PUT', json: body });
}

export function kbSearch(
  ctx: WebContext,
  q: string,
  opts: { path?: string; limit?: number; offset?: number } = {},
): Promise<KbAnswer<KbSearchResult>> {
  const params = new URLSearchParams({
    q,
    limit: String(opts.limit ?? 20),
    offset: String(opts.offset ?? 0),
  });
  if (opts.path) params.set('contexts', opts.path);
  return call<KbSearchResult>(ctx, `${API}/search?${params}`);
}
