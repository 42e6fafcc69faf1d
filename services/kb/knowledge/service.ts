/**
 * The "knowledge" reads of the KB, built on index files (`+name.md`): loading a context, walking the tree of
 * indexes, comparing contexts by their keywords, listing work threads, and deriving a multitask plan.
 * Whether the caller may read something is decided elsewhere and passed in as `canRead`; these methods
 * only leave out what it refuses, so nothing unreadable shapes an answer.
 */
import { HttpError } from '../../../src/http/errors.ts';
import { isIndexPath, parseDocument, resolveWikiLink } from '../documents/parse.ts';
import type { FileStore, WalkEntry } from '../files/service.ts';
import { checkPath, isMarkdown } from '../paths/service.ts';
import type {
  ContextData,
  NavNode,
  ParsedDoc,
  SynthesisResult,
  ThreadInfo,
  ThreadsResult,
} from '../types.ts';

export type CanRead = (path: string) => boolean;

/** One step of a multitask request, run later under the caller's permissions. */
export type Task =
  | { type: 'search'; query: string; limit: number }
  | { type: 'context'; name: string }
  | { type: 'navigate'; path: string; depth: number };

const CONTEXT_SUMMARY_CHARS = 500;
const NAV_SUMMARY_CHARS = 200;
const THREAD_DIR = 'kos/sessions/threads';

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '' : path.slice(0, i);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** The first `max` characters (code points, so no emoji is cut in half), `...` appended when cut. */
function clip(text: string, max: number): string {
  const chars = Array.from(text.trim());
  return chars.length > max ? `${chars.slice(0, max).join('')}...` : chars.join('');
}

function newestFirst(a: { path: string; modified: Date }, b: { path: string; modified: Date }): number {
  const d = b.modified.getTime() - a.modified.getTime();
  return d !== 0 ? d : a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function lowerTerms(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}_-]+/u)
    .filter((t) => t !== '');
}

export class Knowledge {
  constructor(private readonly store: FileStore) {}

  private async readDoc(path: string): Promise<{ doc: ParsedDoc; modified: Date } | null> {
    const file = await this.store.readText(path);
    return file ? { doc: parseDocument(path, file.text), modified: file.modified } : null;
  }

  private async isReadableFile(path: string, canRead: CanRead): Promise<boolean> {
    if (!canRead(path)) return false;
    return (await this.store.stat(path))?.kind === 'file';
  }

  /**
   * The index of context `name` (already normalised): `N/+B.md`, `N/+index.md`, then `<parent>/+B.md`.
   * An index the caller may not read counts as absent, so its existence is not revealed.
   */
  async findContextIndex(name: string, canRead: CanRead): Promise<string | null> {
    if (name === '') return null;
    const b = baseName(name);
    for (const candidate of [`${name}/+${b}.md`, `${name}/+index.md`, join(parentOf(name), `+${b}.md`)]) {
      if (await this.isReadableFile(candidate, canRead)) return candidate;
    }
    return null;
  }

  /** Context `name` (raw input; path rules apply), or null when no readable index is found. */
  async context(name: string, canRead: CanRead): Promise<ContextData | null> {
    const n = checkPath(name.trim(), { kind: 'dir' });
    const index = await this.findContextIndex(n, canRead);
    if (!index) return null;
    const read = await this.readDoc(index);
    if (!read) return null;
    const { doc } = read;
    const dir = parentOf(index);

    const found = new Map<string, WalkEntry>();
    const add = (e: WalkEntry) => {
      if (isMarkdown(e.path) && canRead(e.path)) found.set(e.path, e);
    };
    if (dir !== '') {
      for await (const e of this.store.walk(dir)) add(e);
    } else {
      // An index at the root must not make the whole KB its context: it gathers itself, what it links to,
      // and the folder of the same name when there is one.
      const self = await this.store.stat(index);
      if (self) add({ path: index, size: self.size, modified: self.modified });
      for (const link of doc.wikiLinks) {
        for (const candidate of resolveWikiLink(index, link)) {
          const st = await this.store.stat(candidate);
          if (st?.kind !== 'file') continue;
          add({ path: candidate, size: st.size, modified: st.modified });
          break;
        }
      }
      const folder = baseName(n);
      if ((await this.store.stat(folder))?.kind === 'dir') {
        for await (const e of this.store.walk(folder)) add(e);
      }
    }
    const files = [...found.values()].sort(newestFirst).map((e) => e.path);
    return {
      name: n,
      path: index,
      summary: clip(doc.content, CONTEXT_SUMMARY_CHARS),
      keywords: doc.keywords,
      dependencies: doc.wikiLinks,
      files,
      total_files: files.length,
    };
  }

  /**
   * The tree of directories from `start`, `depth` levels including the start itself (1 = the start
   * alone), each with its index's keywords, frontmatter and summary. With `keywords`, only directories
   * whose index shares one of them are kept, plus the directories leading to them. Null when the start is
   * not an existing directory the store may serve; a file is a 400.
   */
  async navigate(
    start: string,
    depth: number,
    canRead: CanRead,
    keywords?: string[],
  ): Promise<NavNode | null> {
    const s = checkPath(start, { kind: 'dir' });
    const st = await this.store.stat(s);
    if (!st) return null;
    if (st.kind !== 'dir') throw new HttpError(400, `Path is not a directory: ${s}`);
    const filter = keywords?.map((k) => k.trim().replace(/^#/, '').toLowerCase()).filter((k) => k !== '');
    const tree = await this.navNode(
      s,
      1,
      Math.max(1, Math.floor(depth)),
      canRead,
      filter?.length ? filter : null,
    );
    return tree.node;
  }

  private async navNode(
    dir: string,
    level: number,
    depth: number,
    canRead: CanRead,
    filter: string[] | null,
  ): Promise<{ node: NavNode; keep: boolean }> {
    const node: NavNode = {
      path: dir,
      name: dir === '' ? '/' : baseName(dir),
      has_index: false,
      children: [],
    };
    const listing = await this.store.list(dir).catch(() => null);
    if (!listing) return { node, keep: false };

    const index = this.pickIndex(
      dir,
      listing.files.map((f) => f.name).filter((f) => canRead(join(dir, f))),
    );
    let matches = filter === null;
    if (index) {
      const read = await this.readDoc(index).catch(() => null);
      if (read) {
        const fmSummary = read.doc.frontmatter.summary;
        node.has_index = true;
        node.keywords = read.doc.keywords;
        node.frontmatter = read.doc.frontmatter;
        node.summary =
          typeof fmSummary === 'string' && fmSummary.trim() !== ''
            ? fmSummary.trim()
            : clip(read.doc.content, NAV_SUMMARY_CHARS);
        if (filter) {
          const own = new Set(read.doc.keywords.map((k) => k.toLowerCase()));
          matches = filter.some((k) => own.has(k));
        }
      }
    }

    let keptChild = false;
    if (level < depth) {
      for (const name of listing.dirs) {
        const childPath = join(dir, name);
        const child = await this.navNode(childPath, level + 1, depth, canRead, filter);
        // An unreadable directory appears only as the way to something readable below it.
        if (!child.keep) continue;
        node.children.push(child.node);
        keptChild = true;
      }
    }
    const visible = canRead(dir) || node.has_index || keptChild;
    return { node, keep: visible && (matches || keptChild) };
  }

  /** A directory's own index: `+<dir name>.md`, else `+index.md`, else the first `+*.md` by name. */
  private pickIndex(dir: string, names: string[]): string | null {
    const indexes = names.filter((n) => isIndexPath(n)).sort();
    if (indexes.length === 0) return null;
    const own = dir === '' ? null : `+${baseName(dir)}.md`;
    const chosen =
      (own && indexes.find((n) => n === own)) ?? indexes.find((n) => n === '+index.md') ?? indexes[0]!;
    return join(dir, chosen);
  }

  /**
   * Compares contexts by keyword: themes shared by two or more, and for each pair sharing keywords the
   * Jaccard ratio |shared| / |union|, strongest first, at most `max`. A name that is not a context but a
   * readable file counts as a context of that one file. Keywords compare case-insensitively; a `focus`
   * moves the themes and connections that mention its terms to the front.
   */
  async synthesize(names: string[], canRead: CanRead, focus?: string, max = 10): Promise<SynthesisResult> {
    const contexts: Array<{ name: string; keywords: string[] }> = [];
    for (const raw of names) {
      const name = raw.trim();
      if (name === '') continue;
      const loaded = await this.loadForSynthesis(name, canRead);
      if (!loaded) throw new HttpError(404, `Context index not found for: ${name}`);
      if (!contexts.some((c) => c.name === loaded.name)) contexts.push(loaded);
    }

    const focusTerms = focus ? lowerTerms(focus) : [];
    const focused = (kw: string) => focusTerms.some((t) => kw.toLowerCase().includes(t));

    // Per lower-cased keyword: its first spelling, in how many contexts it occurs, when it was first seen.
    const seen = new Map<string, { text: string; count: number; order: number }>();
    const sets = contexts.map((c) => {
      const set = new Map<string, string>();
      for (const k of c.keywords) if (!set.has(k.toLowerCase())) set.set(k.toLowerCase(), k);
      for (const [low, text] of set) {
        const e = seen.get(low);
        if (e) e.count++;
        else seen.set(low, { text, count: 1, order: seen.size });
      }
      return set;
    });
    const common_themes = [...seen.values()]
      .filter((e) => e.count >= 2)
      .sort(
        (a, b) => Number(focused(b.text)) - Number(focused(a.text)) || b.count - a.count || a.order - b.order,
      )
      .map((e) => e.text);

    const connections: Array<
      SynthesisResult['potential_connections'][number] & { order: number; focus: boolean }
    > = [];
    for (let i = 0; i < contexts.length; i++) {
      for (let j = i + 1; j < contexts.length; j++) {
        const a = sets[i]!;
        const b = sets[j]!;
        const shared = [...a.entries()].filter(([low]) => b.has(low)).map(([, text]) => text);
        if (shared.length === 0) continue;
        const union = new Set([...a.keys(), ...b.keys()]).size;
        connections.push({
          context1: contexts[i]!.name,
          context2: contexts[j]!.name,
          shared_keywords: shared,
          connection_strength: shared.length / union,
          order: connections.length,
          focus: shared.some(focused),
        });
      }
    }
    connections.sort(
      (x, y) =>
        Number(y.focus) - Number(x.focus) ||
        y.connection_strength - x.connection_strength ||
        x.order - y.order,
    );
    return {
      contexts: contexts.map((c) => c.name),
      common_themes,
      potential_connections: connections
        .slice(0, Math.max(0, Math.floor(max)))
        .map(({ order: _o, focus: _f, ...c }) => c),
    };
  }

  private async loadForSynthesis(
    name: string,
    canRead: CanRead,
  ): Promise<{ name: string; keywords: string[] } | null> {
    const ctx = await this.context(name, canRead);
    if (ctx) return { name: ctx.name, keywords: ctx.keywords };
    let path: string;
    try {
      path = checkPath(name, { kind: 'file' });
    } catch {
      return null;
    }
    if (!(await this.isReadableFile(path, canRead))) return null;
    const read = await this.readDoc(path);
    return read ? { name: path, keywords: read.doc.keywords } : null;
  }

  /**
   * Work threads: the `.md` files directly in the shared threads folder and in the caller's own, newest
   * first. Frontmatter gives title, state, current action, next steps and context; body lines are notes.
   */
  async threads(callerId: string, canRead: CanRead): Promise<ThreadsResult> {
    const dirs = [THREAD_DIR];
    try {
      if (callerId !== '' && !callerId.includes('/')) {
        dirs.push(checkPath(`users/${callerId}/${THREAD_DIR}`, { kind: 'dir' }));
      }
    } catch {
      // An id that is no valid folder name has no personal threads folder.
    }
    const entries: Array<ThreadInfo & { modified: Date }> = [];
    for (const dir of dirs) {
      const listing = await this.store.list(dir).catch(() => null);
      if (!listing) continue;
      for (const f of listing.files) {
        const path = join(dir, f.name);
        if (!isMarkdown(path) || !canRead(path)) continue;
        const read = await this.readDoc(path).catch(() => null);
        if (read) entries.push({ ...threadInfo(path, read.doc, read.modified), modified: read.modified });
      }
    }
    entries.sort(newestFirst);
    const threads = entries.map(({ modified: _m, ...t }) => t);
    return {
      threads,
      total_threads: threads.length,
      active_count: threads.filter((t) => t.state === 'active').length,
    };
  }

  /**
   * Names of the contexts at the top of the tree the caller can load: folders with their own index
   * (`x/+x.md` or `x/+index.md`) and index files at the root (`+x.md` → `x`). Multitask matches these.
   */
  async rootContexts(canRead: CanRead): Promise<string[]> {
    const root = await this.store.list('');
    if (!root) return [];
    const names = new Set<string>();
    for (const f of root.files) {
      if (isIndexPath(f.name) && f.name !== '+index.md' && canRead(f.name)) names.add(f.name.slice(1, -3));
    }
    for (const d of root.dirs) {
      if (names.has(d)) continue;
      for (const candidate of [`${d}/+${d}.md`, `${d}/+index.md`]) {
        if (await this.isReadableFile(candidate, canRead)) {
          names.add(d);
          break;
        }
      }
    }
    return [...names].sort();
  }

  multitaskPlan(text: string, rootContexts: string[]): Task[] {
    return multitaskPlan(text, rootContexts);
  }
}

function threadInfo(path: string, doc: ParsedDoc, modified: Date): ThreadInfo {
  const fm = doc.frontmatter;
  const stem = baseName(path).slice(0, -3);
  const str = (v: unknown, fallback: string) =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : fallback;
  const steps = fm.next_steps;
  const next_steps = Array.isArray(steps)
    ? steps.filter((s) => s !== null && typeof s !== 'object').map((s) => String(s))
    : typeof steps === 'string' && steps.trim() !== ''
      ? [steps]
      : [];
  const title = str(fm.title, '').trim();
  return {
    thread_id: stem,
    path,
    title: title === '' ? stem : title,
    state: str(fm.state, '').trim() || 'unknown',
    current_action: str(fm.current_action, ''),
    next_steps,
    context: fm.context ?? null,
    last_updated: modified.toISOString(),
    progress_notes: doc.content
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== ''),
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Turns a free-text request into tasks: up to three searches taken from after the last "search for "
 * (split on " and ") when the text mentions searching, a context load for each root context named as a
 * word, and when nothing was found, a search of the whole text plus a shallow look at the tree.
 */
export function multitaskPlan(text: string, rootContexts: string[]): Task[] {
  const tasks: Task[] = [];
  if (/search/i.test(text)) {
    let tail = text;
    for (const m of text.matchAll(/search for /gi)) tail = text.slice(m.index + m[0].length);
    let count = 0;
    for (const part of tail.split(/ and /i)) {
      const query = part.trim();
      if (query === '') continue;
      tasks.push({ type: 'search', query, limit: 10 });
      if (++count === 3) break;
    }
  }
  for (const name of rootContexts) {
    if (name === '') continue;
    // A "word" here is bounded by anything that cannot be part of a context name.
    const re = new RegExp(`(?<![\\p{L}\\p{N}_-])${escapeRegExp(name)}(?![\\p{L}\\p{N}_-])`, 'iu');
    if (re.test(text) && !tasks.some((t) => t.type === 'context' && t.name === name)) {
      tasks.push({ type: 'context', name });
    }
  }
  if (tasks.length === 0) {
    if (text.trim() !== '') tasks.push({ type: 'search', query: text.trim(), limit: 5 });
    tasks.push({ type: 'navigate', path: '/', depth: 2 });
  }
  return tasks;
}
