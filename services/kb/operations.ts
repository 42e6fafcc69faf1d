/**
 * The one place every KB route family (legacy, JSON API, MCP, chat tools) goes through. The order inside
 * each operation is the point: path rules, then the access decision from path and caller alone (so a 403
 * never depends on whether a file exists), then the file system, Git, the search index and the bus.
 * Writes run inside the Git queue and are committed and indexed before they are acknowledged.
 */
import type { Bus } from '../../src/bus/types.ts';
import { HttpError } from '../../src/http/errors.ts';
import type { Logger } from '../../src/log.ts';
import type { AccessService, Principal } from './access/service.ts';
import type { KbCache } from './cache.ts';
import { parseDocument, validateContent } from './documents/parse.ts';
import type { FileStore } from './files/service.ts';
import type { GitService } from './git/service.ts';
import type { Knowledge } from './knowledge/service.ts';
import { namespaceOf } from './paths/namespace.ts';
import { checkPath } from './paths/service.ts';
import type { SearchIndex } from './search/service.ts';
import type {
  Caller,
  ChangeSource,
  CommitInfo,
  ContextData,
  FileObject,
  GitChanges,
  KbConfig,
  KbOps,
  ListResult,
  NavNode,
  SearchQuery,
  SearchResult,
  SynthesisResult,
  ThreadsResult,
  WriteOptions,
  WriteResult,
} from './types.ts';

export interface OperationsDeps {
  config: KbConfig;
  log: Logger;
  bus: Bus;
  store: FileStore;
  git: GitService;
  index: SearchIndex;
  access: AccessService;
  knowledge: Knowledge;
  cache: KbCache;
  /** Told about every commit made here (peers use it to tell their own events from others'). */
  onCommit?: (sha: string) => void;
}

const DEFAULT_MESSAGE = 'via Gaia API';
const MAX_QUERY_CHARS = 500;
const MAX_TERMS = 32;

export const INITIALISING = 'Knowledge base is initialising';

export class KbOperations implements KbOps {
  constructor(private readonly d: OperationsDeps) {}

  /** The caller's rights, loaded once per operation. */
  principal(caller: Caller): Promise<Principal> {
    return this.d.access.principal(caller);
  }

  private ensureReady(): void {
    if (!this.d.git.ready) throw new HttpError(503, INITIALISING, { headers: { 'retry-after': '5' } });
  }

  private authorOf(caller: Caller): { name: string; email: string } {
    if (caller.email) {
      const local = caller.email.split('@')[0] || caller.email;
      return { name: caller.name?.trim() || local, email: caller.email };
    }
    return { name: caller.name?.trim() || caller.id, email: `${caller.id}@users.gaia.local` };
  }

  private readableFilter(p: Principal): (path: string) => boolean {
    return this.d.access.readFilter(p);
  }

  /** A directory may be entered when readable, or when it leads to something shared with the caller. */
  private assertCanEnter(p: Principal, dir: string): void {
    if (this.d.access.can(p, 'read', dir) || this.d.access.canSeeEntry(p, dir)) return;
    throw new HttpError(403, `Forbidden: no read access to ${dir === '' ? '/' : dir}`);
  }

  private async assertDirectory(dir: string): Promise<void> {
    if (dir === '') return;
    const st = await this.d.store.stat(dir);
    if (!st) throw new HttpError(404, `Directory not found: ${dir}`);
    if (st.kind !== 'dir') throw new HttpError(400, `Path is not a directory: ${dir}`);
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────────────────

  async read(caller: Caller, raw: string, opts: { raw?: boolean } = {}): Promise<FileObject> {
    const path = checkPath(raw, { kind: 'file' });
    const p = await this.principal(caller);
    this.d.access.assert(p, 'read', path);
    this.ensureReady();
    const st = await this.d.store.stat(path);
    if (!st) throw new HttpError(404, `File not found: ${path}`);
    if (st.kind === 'dir') throw new HttpError(400, `Path is not a file: ${path}`);
    if (st.size > this.d.config.maxFileBytes)
      throw new HttpError(413, `File is larger than ${this.d.config.maxFileBytes} bytes`);
    const file = await this.d.store.readText(path);
    if (!file) throw new HttpError(404, `File not found: ${path}`);
    await this.d.access.recordAdminRead(p, path);
    return this.fileObject(path, file.text, file.size, file.modified, opts.raw === true);
  }

  private fileObject(path: string, text: string, size: number, modified: Date, raw: boolean): FileObject {
    const doc = parseDocument(path, text);
    const obj: FileObject = {
      path,
      namespace: namespaceOf(path).name,
      title: doc.title,
      frontmatter: doc.frontmatter,
      content: doc.content,
      keywords: doc.keywords,
      wiki_links: doc.wikiLinks,
      size,
      modified: modified.toISOString(),
      is_index: doc.isIndex,
      sha: this.d.git.blobSha(text),
    };
    if (raw) obj.raw_content = text;
    return obj;
  }

  async list(
    caller: Caller,
    raw: string,
    opts: { recursive?: boolean; pattern?: string; mdOnly?: boolean } = {},
  ): Promise<ListResult> {
    const dir = checkPath(raw, { kind: 'dir' });
    const p = await this.principal(caller);
    this.assertCanEnter(p, dir);
    this.ensureReady();
    await this.assertDirectory(dir);
    const access = this.d.access;
    const glob = opts.pattern && opts.pattern !== '*' ? new Bun.Glob(opts.pattern) : null;
    const fileOk = (name: string, path: string) =>
      (!opts.mdOnly || name.toLowerCase().endsWith('.md')) &&
      (!glob || glob.match(name)) &&
      access.can(p, 'read', path);
    const join = (a: string, b: string) => (a === '' ? b : `${a}/${b}`);
    const out: ListResult = { path: dir === '' ? '/' : dir, directories: [], files: [] };

    if (opts.recursive) {
      const dirs = new Set<string>();
      for await (const f of this.d.store.walk(dir)) {
        const name = f.path.slice(f.path.lastIndexOf('/') + 1);
        if (!fileOk(name, f.path)) continue;
        out.files.push({
          name,
          path: f.path,
          size: f.size,
          modified: f.modified.toISOString(),
          is_index: isIndexName(name),
        });
        let parent = f.path.slice(0, Math.max(0, f.path.lastIndexOf('/')));
        while (parent.length > dir.length) {
          dirs.add(parent);
          parent = parent.slice(0, Math.max(0, parent.lastIndexOf('/')));
        }
      }
      out.files.sort((a, b) => a.path.localeCompare(b.path));
      for (const d of [...dirs].sort())
        out.directories.push({ name: d.slice(d.lastIndexOf('/') + 1), path: d });
      return out;
    }

    const listing = await this.d.store.list(dir);
    if (!listing) throw new HttpError(404, `Directory not found: ${dir}`);
    for (const name of [...listing.dirs].sort((a, b) => a.localeCompare(b))) {
      const path = join(dir, name);
      if (access.can(p, 'read', path) || access.canSeeEntry(p, path)) out.directories.push({ name, path });
    }
    for (const f of [...listing.files].sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, f.name);
      if (!fileOk(f.name, path)) continue;
      out.files.push({
        name: f.name,
        path,
        size: f.size,
        modified: f.modified.toISOString(),
        is_index: isIndexName(f.name),
      });
    }
    return out;
  }

  async search(
    caller: Caller,
    input: Partial<Omit<SearchQuery, 'contexts'>> & { q: string; contexts?: string[] },
  ): Promise<SearchResult> {
    const q = typeof input.q === 'string' ? input.q : '';
    if (q.trim() === '') throw new HttpError(400, 'Search query must not be empty');
    if (q.length > MAX_QUERY_CHARS)
      throw new HttpError(400, `Search query must be at most ${MAX_QUERY_CHARS} characters`);
    const terms = q
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter(Boolean);
    if (terms.length === 0) throw new HttpError(400, 'Search query must contain a letter or digit');
    if (terms.length > MAX_TERMS)
      throw new HttpError(400, `Search query must have at most ${MAX_TERMS} terms`);
    const p = await this.principal(caller);
    let contexts: string[] | undefined;
    if (input.contexts && input.contexts.length > 0) {
      contexts = [];
      for (const c of input.contexts) {
        const dir = checkPath(c, { kind: 'dir' });
        this.assertCanEnter(p, dir);
        contexts.push(dir);
      }
    }
    this.ensureReady();
    const query: SearchQuery = {
      q,
      match: input.match ?? 'auto',
      limit: input.limit ?? 20,
      offset: input.offset ?? 0,
      contexts,
      includeContent: input.includeContent ?? false,
    };
    return this.d.index.search(query, this.readableFilter(p));
  }

  async context(caller: Caller, name: string): Promise<ContextData> {
    const dir = checkPath(name, { kind: 'dir' });
    if (dir === '') throw new HttpError(400, 'Invalid path: context name must not be empty');
    const p = await this.principal(caller);
    this.assertCanEnter(p, dir);
    this.ensureReady();
    const ctx = await this.d.knowledge.context(dir, this.readableFilter(p));
    if (!ctx) throw new HttpError(404, `Context index not found for: ${name}`);
    return ctx;
  }

  async navigate(caller: Caller, raw: string, depth: number, keywords?: string[]): Promise<NavNode> {
    const dir = checkPath(raw, { kind: 'dir' });
    const p = await this.principal(caller);
    this.assertCanEnter(p, dir);
    this.ensureReady();
    await this.assertDirectory(dir);
    const tree = await this.d.knowledge.navigate(dir, depth, this.readableFilter(p), keywords);
    if (!tree) throw new HttpError(404, `Directory not found: ${dir}`);
    return tree;
  }

  async synthesize(
    caller: Caller,
    names: string[],
    focus?: string,
    maxConnections = 10,
  ): Promise<SynthesisResult> {
    const p = await this.principal(caller);
    const dirs: string[] = [];
    for (const n of names) {
      const dir = checkPath(n, { kind: 'dir' });
      this.assertCanEnter(p, dir);
      dirs.push(dir);
    }
    this.ensureReady();
    return this.d.knowledge.synthesize(dirs, this.readableFilter(p), focus, maxConnections);
  }

  async threads(caller: Caller): Promise<ThreadsResult> {
    const p = await this.principal(caller);
    this.ensureReady();
    return this.d.knowledge.threads(caller.id, this.readableFilter(p));
  }

  async history(caller: Caller, raw: string | undefined, limit: number): Promise<CommitInfo[]> {
    const p = await this.principal(caller);
    let path: string | undefined;
    if (raw !== undefined && raw !== '' && raw !== '/') {
      path = checkPath(raw, { kind: 'dir' });
      this.assertCanEnter(p, path);
    } else if (!caller.admin) {
      // The whole log names every file ever written, private ones included.
      throw new HttpError(403, 'Forbidden: no read access to /');
    }
    this.ensureReady();
    return this.d.git.history(path, limit);
  }

  async gitStatus(caller: Caller): Promise<GitChanges> {
    const p = await this.principal(caller);
    this.ensureReady();
    const all = await this.d.git.status();
    const ok = this.readableFilter(p);
    return {
      modified: all.modified.filter(ok),
      added: all.added.filter(ok),
      deleted: all.deleted.filter(ok),
      untracked: all.untracked.filter(ok),
    };
  }

  // ── writes ─────────────────────────────────────────────────────────────────────────────────────────

  async write(caller: Caller, raw: string, content: string, opts: WriteOptions = {}): Promise<WriteResult> {
    const path = checkPath(raw, { kind: 'file', write: true });
    const p = await this.principal(caller);
    this.d.access.assert(p, 'write', path);
    if (Buffer.byteLength(content, 'utf8') > this.d.config.maxFileBytes)
      throw new HttpError(413, `Content is larger than ${this.d.config.maxFileBytes} bytes`);
    let warnings: string[] = [];
    if (opts.validate !== false) {
      const v = validateContent(path, content);
      if (v.errors.length > 0) throw new HttpError(422, 'Content validation failed', { errors: v.errors });
      warnings = v.warnings;
    }
    this.ensureReady();
    const message = opts.message ?? DEFAULT_MESSAGE;
    const { store, git } = this.d;
    const result = await git.exclusive(async (): Promise<WriteResult & { created: boolean }> => {
      const st = await store.stat(path);
      if (st?.kind === 'dir') throw new HttpError(400, `Path is not a file: ${path}`);
      const prev = st ? await store.readText(path) : null;
      const currentSha = prev ? git.blobSha(prev.text) : null;
      if (opts.expectedSha !== undefined && opts.expectedSha !== currentSha)
        throw new HttpError(409, 'File changed since it was read', {
          body: { detail: 'File changed since it was read', current_sha: currentSha },
        });
      if (!prev) {
        const twin = await store.caseConflict(path);
        if (twin) throw new HttpError(409, `A file differing only in letter case exists: ${twin}`);
      }
      const sha = git.blobSha(content);
      if (prev && prev.text === content)
        return { path, action: 'unchanged', commit: null, sha, warnings, created: false };
      git.beginChange([path]);
      await store.write(path, content);
      let commit: string;
      try {
        commit = await git.commit({
          add: [path],
          remove: [],
          message: `${prev ? 'Update' : 'Create'} ${path}: ${message}`,
          author: this.authorOf(caller),
          userId: caller.id,
        });
      } catch (err) {
        // Never leave an uncommitted change behind a failed request.
        if (prev) await store.write(path, prev.text).catch(() => {});
        else await store.remove(path).catch(() => {});
        this.d.log.error('kb commit failed', { path, error: (err as Error).message });
        throw new HttpError(500, 'KB write failed');
      }
      this.d.index.upsert(path, content, parseDocument(path, content), new Date());
      this.d.cache.clearDerived();
      return { path, action: prev ? 'update' : 'create', commit, sha, warnings, created: !prev };
    });
    if (result.commit)
      this.afterCommit(caller, path, null, result.action as 'create' | 'update', result.commit, opts.source);
    const { created: _created, ...out } = result;
    return out;
  }

  async remove(
    caller: Caller,
    raw: string,
    opts: { message?: string; source?: ChangeSource } = {},
  ): Promise<{ path: string; action: 'delete'; commit: string }> {
    const path = checkPath(raw, { kind: 'file', write: true });
    const p = await this.principal(caller);
    this.d.access.assert(p, 'delete', path);
    this.ensureReady();
    const { store, git } = this.d;
    const commit = await git.exclusive(async () => {
      const st = await store.stat(path);
      if (st?.kind !== 'file') throw new HttpError(404, `Source file not found: ${path}`);
      const prev = await store.readText(path);
      git.beginChange([path]);
      await store.remove(path);
      try {
        const sha = await git.commit({
          add: [],
          remove: [path],
          message: `Delete ${path}: ${opts.message ?? DEFAULT_MESSAGE}`,
          author: this.authorOf(caller),
          userId: caller.id,
        });
        this.d.index.remove(path);
        this.d.cache.clearDerived();
        return sha;
      } catch (err) {
        if (prev) await store.write(path, prev.text).catch(() => {});
        this.d.log.error('kb commit failed', { path, error: (err as Error).message });
        throw new HttpError(500, 'KB delete failed');
      }
    });
    this.afterCommit(caller, path, null, 'delete', commit, opts.source);
    return { path, action: 'delete', commit };
  }

  async move(
    caller: Caller,
    rawFrom: string,
    rawTo: string,
    opts: { message?: string; source?: ChangeSource } = {},
  ): Promise<{ from: string; to: string; action: 'move'; commit: string }> {
    const from = checkPath(rawFrom, { kind: 'file', write: true });
    const to = checkPath(rawTo, { kind: 'file', write: true });
    const p = await this.principal(caller);
    this.d.access.assert(p, 'delete', from);
    this.d.access.assert(p, 'write', to);
    this.ensureReady();
    const { store, git } = this.d;
    const commit = await git.exclusive(async () => {
      const src = await store.stat(from);
      if (src?.kind !== 'file') throw new HttpError(404, `Source file not found: ${from}`);
      if (await store.stat(to)) throw new HttpError(409, `Destination already exists: ${to}`);
      const twin = await store.caseConflict(to);
      if (twin && twin !== from) throw new HttpError(409, `Destination already exists: ${twin}`);
      const file = await store.readText(from);
      git.beginChange([from, to]);
      await store.rename(from, to);
      try {
        const sha = await git.commit({
          add: [to],
          remove: [from],
          message: `Move ${from} to ${to}: ${opts.message ?? DEFAULT_MESSAGE}`,
          author: this.authorOf(caller),
          userId: caller.id,
        });
        this.d.index.remove(from);
        if (file) this.d.index.upsert(to, file.text, parseDocument(to, file.text), new Date());
        this.d.cache.clearDerived();
        return sha;
      } catch (err) {
        await store.rename(to, from).catch(() => {});
        this.d.log.error('kb commit failed', { from, to, error: (err as Error).message });
        throw new HttpError(500, 'KB move failed');
      }
    });
    this.afterCommit(caller, to, from, 'move', commit, opts.source);
    return { from, to, action: 'move', commit };
  }

  /**
   * Commits made for the service itself (team and workspace scaffolding): one commit for several files,
   * authored by the caller, files that already exist are left as they are.
   */
  async commitFiles(
    caller: Caller,
    files: Array<{ path: string; content: string }>,
    message: string,
  ): Promise<string | null> {
    this.ensureReady();
    const { store, git } = this.d;
    const written: string[] = [];
    const commit = await git.exclusive(async () => {
      for (const f of files) {
        const path = checkPath(f.path, { kind: 'file', write: true });
        if (await store.stat(path)) continue;
        git.beginChange([...written, path]);
        await store.write(path, f.content);
        written.push(path);
      }
      if (written.length === 0) return null;
      try {
        const sha = await git.commit({
          add: written,
          remove: [],
          message,
          author: this.authorOf(caller),
          userId: caller.id,
        });
        for (const path of written) {
          const text = files.find((f) => checkPath(f.path, { kind: 'file' }) === path)!.content;
          this.d.index.upsert(path, text, parseDocument(path, text), new Date());
        }
        this.d.cache.clearDerived();
        return sha;
      } catch (err) {
        for (const path of written) await store.remove(path).catch(() => {});
        this.d.log.error('kb commit failed', { error: (err as Error).message });
        throw new HttpError(500, 'KB write failed');
      }
    });
    if (commit) for (const path of written) this.afterCommit(caller, path, null, 'create', commit, 'api');
    return commit;
  }

  private afterCommit(
    caller: Caller,
    path: string,
    oldPath: string | null,
    action: 'create' | 'update' | 'delete' | 'move',
    commit: string,
    source: ChangeSource = 'api',
  ): void {
    this.d.onCommit?.(commit);
    this.d.bus
      .publish('gaia.kb.file.changed', {
        path,
        old_path: oldPath,
        action,
        namespace: namespaceOf(path).name,
        commit,
        user_id: caller.id,
        source,
        timestamp: new Date().toISOString(),
      })
      .catch((err) => this.d.log.warn('kb event not published', { error: (err as Error).message }));
    if (this.d.config.pushEnabled) this.d.git.requestPush();
  }

  // ── index upkeep ───────────────────────────────────────────────────────────────────────────────────

  /** Reads every file again; at start, after a clone, and on `POST /index/rebuild`. */
  async rebuildIndex(): Promise<number> {
    const { store, index } = this.d;
    const fresh: Array<[string, string, Date]> = [];
    for await (const f of store.walk('')) {
      if (!f.path.toLowerCase().endsWith('.md')) continue;
      const file = store.readWalked(f.path);
      if (file) fresh.push([f.path, file.text, file.modified]);
    }
    index.clear();
    for (const [path, text, modified] of fresh) index.upsert(path, text, parseDocument(path, text), modified);
    this.d.cache.clearDerived();
    return fresh.length;
  }

  /** Brings the index up to date with what a pull changed, before the pull's completion is announced. */
  async applyPulled(changed: Array<{ path: string; action: 'create' | 'update' | 'delete' }>): Promise<void> {
    const { store, index } = this.d;
    for (const c of changed) {
      if (!c.path.toLowerCase().endsWith('.md')) continue;
      if (c.action === 'delete') {
        index.remove(c.path);
        continue;
      }
      const file = await store.readText(c.path);
      if (file) index.upsert(c.path, file.text, parseDocument(c.path, file.text), file.modified);
      else index.remove(c.path);
    }
    this.d.cache.clearDerived();
  }
}

function isIndexName(name: string): boolean {
  return name.startsWith('+') && name.toLowerCase().endsWith('.md');
}
