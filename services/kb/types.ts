/**
 * The shapes the kb service's parts agree on: the file store, the Git layer, the search index and the
 * access model are built separately and meet in `operations.ts`, which every route family (legacy, JSON,
 * MCP, chat tools) calls. Response shapes are snake_case because that is what clients read.
 */
export type { KbConfig } from './config.ts';

/** Who is asking: the verified identity the gateway signed. */
export interface Caller {
  id: string;
  email: string | null;
  name: string | null;
  admin: boolean;
  authType: 'jwt' | 'api_key';
  keyId: string | null;
  rid: string;
}

/** Where a write came from (the `source` of `gaia.kb.file.changed`). */
export type ChangeSource = 'api' | 'mcp' | 'pull';

// ── documents ───────────────────────────────────────────────────────────────────────────────────────────

/** A `.md` (or other text) file understood: frontmatter, body, title, keywords, wiki links. */
export interface ParsedDoc {
  frontmatter: Record<string, unknown>;
  /** The body: the file without its frontmatter block (the whole file when there is none or it is bad). */
  content: string;
  title: string;
  /** Hashtags then frontmatter tags, without `#`, de-duplicated, in order of first appearance. */
  keywords: string[];
  /** Inner text of each `[[link]]`, once each, in order. */
  wikiLinks: string[];
  isIndex: boolean;
  /** Set when a frontmatter block exists but is not a YAML mapping (a 422 on a validated write). */
  frontmatterError?: string;
}

// ── files ───────────────────────────────────────────────────────────────────────────────────────────────

export interface FileStat {
  kind: 'file' | 'dir';
  size: number;
  modified: Date;
}

export interface DirListing {
  dirs: string[];
  files: Array<{ name: string; size: number; modified: Date }>;
}

// ── search ──────────────────────────────────────────────────────────────────────────────────────────────

export type MatchMode = 'all' | 'any' | 'phrase' | 'auto';

export interface SearchQuery {
  q: string;
  match: MatchMode;
  limit: number;
  offset: number;
  /** Normalised path prefixes (already access-checked); undefined = everything readable. */
  contexts?: string[];
  includeContent: boolean;
}

export interface SearchHit {
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
  content?: string;
}

export interface SearchResult {
  query: string;
  match: Exclude<MatchMode, 'auto'>;
  total: number;
  limit: number;
  offset: number;
  took_ms: number;
  results: SearchHit[];
}

// ── JSON API objects ───────────────────────────────────────────────────────────────────────────────────

export interface FileObject {
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

export interface ListResult {
  path: string;
  directories: Array<{ name: string; path: string }>;
  files: Array<{ name: string; path: string; size: number; modified: string; is_index: boolean }>;
}

export interface WriteResult {
  path: string;
  action: 'create' | 'update' | 'unchanged';
  commit: string | null;
  sha: string;
  warnings: string[];
}

export interface ContextData {
  name: string;
  /** The index file's path. */
  path: string;
  summary: string;
  keywords: string[];
  dependencies: string[];
  files: string[];
  total_files: number;
}

export interface NavNode {
  path: string;
  name: string;
  has_index: boolean;
  keywords?: string[];
  frontmatter?: Record<string, unknown>;
  summary?: string;
  children: NavNode[];
}

export interface SynthesisResult {
  contexts: string[];
  common_themes: string[];
  potential_connections: Array<{
    context1: string;
    context2: string;
    shared_keywords: string[];
    connection_strength: number;
  }>;
}

export interface ThreadInfo {
  thread_id: string;
  path: string;
  title: string;
  state: string;
  current_action: string;
  next_steps: string[];
  context: unknown;
  last_updated: string;
  progress_notes: string[];
}

export interface ThreadsResult {
  threads: ThreadInfo[];
  total_threads: number;
  active_count: number;
}

export interface CommitInfo {
  sha: string;
  author: string;
  email: string;
  date: string;
  message: string;
}

export interface GitChanges {
  modified: string[];
  added: string[];
  deleted: string[];
  untracked: string[];
}

// ── access ──────────────────────────────────────────────────────────────────────────────────────────────

export type Permission = 'read' | 'write' | 'delete';
export type AccessAction = 'read' | 'write' | 'move' | 'delete' | 'share';

// ── operations ──────────────────────────────────────────────────────────────────────────────────────────

export interface WriteOptions {
  message?: string;
  /** undefined: no check; null: the file must not exist yet; a sha: the current blob must match. */
  expectedSha?: string | null;
  validate?: boolean;
  source?: ChangeSource;
}

/**
 * Everything the KB does for a caller, with the access decision made first (from path and identity),
 * then the file system, then Git, then the index, then the bus. Paths are raw client input: each method
 * applies the path rules itself. Failures are `HttpError`s carrying the client-facing status and detail.
 */
export interface KbOps {
  read(caller: Caller, path: string, opts?: { raw?: boolean }): Promise<FileObject>;
  write(caller: Caller, path: string, content: string, opts?: WriteOptions): Promise<WriteResult>;
  remove(
    caller: Caller,
    path: string,
    opts?: { message?: string; source?: ChangeSource },
  ): Promise<{ path: string; action: 'delete'; commit: string }>;
  move(
    caller: Caller,
    from: string,
    to: string,
    opts?: { message?: string; source?: ChangeSource },
  ): Promise<{ from: string; to: string; action: 'move'; commit: string }>;
  list(
    caller: Caller,
    dir: string,
    opts?: { recursive?: boolean; pattern?: string; mdOnly?: boolean },
  ): Promise<ListResult>;
  search(
    caller: Caller,
    q: Partial<Omit<SearchQuery, 'contexts'>> & { q: string; contexts?: string[] },
  ): Promise<SearchResult>;
  context(caller: Caller, name: string): Promise<ContextData>;
  navigate(caller: Caller, path: string, depth: number, keywords?: string[]): Promise<NavNode>;
  synthesize(
    caller: Caller,
    contexts: string[],
    focus?: string,
    maxConnections?: number,
  ): Promise<SynthesisResult>;
  threads(caller: Caller): Promise<ThreadsResult>;
  history(caller: Caller, path: string | undefined, limit: number): Promise<CommitInfo[]>;
}
