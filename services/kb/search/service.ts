/**
 * The KB's full-text index: an in-process inverted index over the `.md` files, kept current one file at a
 * time by the operations that change files. It lives in memory beside the service, so it behaves the same
 * whatever database (or none) the deployment uses, and a search never forks a process.
 *
 * Layout, chosen for memory (10,000 files must fit comfortably in a small container):
 *  - documents get small integer ids; ids of removed documents are reused;
 *  - the dictionary maps words to integer ids (`TermTable`), and each term's postings are one growable
 *    Uint32Array of packed (doc id, fields, frequency) numbers, unordered, so adding a document appends
 *    and removing one swaps the last posting into its place;
 *  - each document keeps its body text by default (for excerpts, phrase checks, `include_content`, and
 *    to find its terms again on removal); see `storeText` for the leaner variant.
 * Ranking is BM25 with the title / file name and keywords folded in as extra term frequency, so a word
 * in the title counts like three mentions in the body and a keyword like two.
 */
import { contextOf, namespaceOf } from '../paths/namespace.ts';
import type { MatchMode, ParsedDoc, SearchHit, SearchQuery, SearchResult } from '../types.ts';
import { excerptOf } from './excerpt.ts';
import { findPhrase, fold, queryTerms, TermTable } from './terms.ts';

const K1 = 1.2;
const B = 0.75;
const TITLE_WEIGHT = 3;
const KEYWORD_WEIGHT = 2;
const PHRASE_BOOST = 1.5;

/**
 * One posting is one 32-bit number: the document id in the high 22 bits, then two field flags, then the
 * body term frequency in the low 8 bits. BM25 saturates long before 255 mentions, so the cap costs no
 * ranking, and 4 bytes a posting is half of keeping id and frequency apart.
 */
const TF_MASK = 0xff;
const IN_TITLE = 1 << 8;
const IN_KEYWORDS = 1 << 9;
const FIELD_BITS = 10;
const MAX_DOCS = 2 ** (32 - FIELD_BITS);

export interface SearchIndexOptions {
  /**
   * Keep each document's body in memory (default). Without it the index is smaller, and `search` reads
   * bodies through its `getContent` argument, which must then return the file text given to `upsert`.
   */
  storeText?: boolean;
}

interface DocEntry {
  path: string;
  title: string;
  keywords: string[];
  modified: number;
  /** The body, or null when the index does not store text. */
  body: string | null;
  /** Where the body starts in the file text, in characters and in lines. */
  bodyStart: number;
  lineOffset: number;
  /** Distinct term ids of the document (body, title, file name, keywords), kept only without the body. */
  terms: Uint32Array | null;
}

class Postings {
  /** Packed postings (see FIELD_BITS), unordered; the first `n` are in use. */
  data = new Uint32Array(2);
  n = 0;

  add(doc: number, packedTf: number): void {
    if (this.n === this.data.length) {
      // Grow by half rather than double: most postings stop growing after the initial load.
      const next = new Uint32Array(Math.ceil(this.data.length * 1.5));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = doc * 2 ** FIELD_BITS + packedTf;
  }

  delete(doc: number): void {
    const d = this.data;
    for (let i = 0; i < this.n; i++) {
      if (d[i]! >>> FIELD_BITS !== doc) continue;
      d[i] = d[--this.n]!;
      break;
    }
    // Give memory back when a term has shrunk a lot (a big folder deleted).
    if (d.length > 16 && this.n * 4 < d.length) this.data = d.slice(0, this.n * 2);
  }
}

interface Candidate {
  id: number;
  score: number;
  mask: number;
}

type Mode = Exclude<MatchMode, 'auto'>;

export class SearchIndex {
  private readonly storeText: boolean;
  private docs: Array<DocEntry | undefined> = [];
  /** Body length in terms, by doc id (a typed array so the scoring loop stays tight). */
  private lens = new Float64Array(64);
  private byPath = new Map<string, number>();
  private freeDocs: number[] = [];
  private totalLen = 0;

  private dict = new TermTable();
  private postings: Array<Postings | undefined> = [];
  /**
   * Per-search accumulators by doc id, all zero between searches. Reusing them spares two allocations
   * the size of the index on every search (searches are synchronous, so they never overlap).
   */
  private scores = new Float64Array(0);
  private masks = new Uint32Array(0);
  /** Per-upsert work space, by term id; all zero between upserts. */
  private scratch = new Uint32Array(1024);

  constructor(opts: SearchIndexOptions = {}) {
    this.storeText = opts.storeText ?? true;
  }

  get size(): number {
    return this.byPath.size;
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  /** Sizes, for health reports and the benchmark: files, distinct terms, postings and their bytes. */
  stats(): { files: number; terms: number; postings: number; postingBytes: number; textChars: number } {
    let postings = 0;
    let postingBytes = 0;
    for (const p of this.postings) {
      if (!p) continue;
      postings += p.n;
      postingBytes += p.data.byteLength;
    }
    let textChars = 0;
    for (const d of this.docs) if (d?.body) textChars += d.body.length;
    return { files: this.byPath.size, terms: this.dict.size, postings, postingBytes, textChars };
  }

  /** Indexed paths, sorted. */
  paths(): string[] {
    return [...this.byPath.keys()].sort();
  }

  clear(): void {
    this.docs = [];
    this.lens = new Float64Array(64);
    this.byPath.clear();
    this.freeDocs = [];
    this.totalLen = 0;
    this.dict = new TermTable();
    this.postings = [];
    this.scratch = new Uint32Array(1024);
    this.scores = new Float64Array(0);
    this.masks = new Uint32Array(0);
  }

  /**
   * Adds or replaces a file. Anything that is not a `.md` file, or that sits under a hidden segment, is
   * not searchable: it is dropped from the index instead.
   */
  upsert(path: string, text: string, doc: ParsedDoc, modified: Date): void {
    this.remove(path);
    if (!isSearchable(path)) return;
    if (this.freeDocs.length === 0 && this.docs.length >= MAX_DOCS)
      throw new Error(`Search index is full (${MAX_DOCS} files)`);

    const body = doc.content;
    let bodyStart = text.endsWith(body) ? text.length - body.length : text.indexOf(body);
    if (bodyStart < 0) bodyStart = 0;
    let lineOffset = 0;
    for (let i = text.indexOf('\n'); i >= 0 && i < bodyStart; i = text.indexOf('\n', i + 1)) lineOffset++;

    const { docTerms, words } = this.collect(body, doc.title, path, doc.keywords);
    const id = this.freeDocs.pop() ?? this.docs.length;
    for (const tid of docTerms) {
      let p = this.postings[tid];
      if (!p) {
        p = new Postings();
        this.postings[tid] = p;
      }
      p.add(id, this.scratch[tid]!);
      this.scratch[tid] = 0;
    }
    this.docs[id] = {
      path: detach(path),
      title: detach(doc.title),
      keywords: doc.keywords.map(detach),
      // An unreadable mtime must not make every later search that hits this file fail on toISOString.
      modified: Number.isFinite(modified.getTime()) ? modified.getTime() : Date.now(),
      body: this.storeText ? body : null,
      bodyStart,
      lineOffset,
      // With the body at hand its terms can be found again on removal; without it they must be kept.
      terms: this.storeText ? null : new Uint32Array(docTerms),
    };
    if (id >= this.lens.length) {
      const next = new Float64Array(Math.max(id + 1, this.lens.length * 2));
      next.set(this.lens);
      this.lens = next;
    }
    this.lens[id] = words;
    this.totalLen += words;
    this.byPath.set(this.docs[id]!.path, id);
  }

  remove(path: string): void {
    const id = this.byPath.get(path);
    if (id === undefined) return;
    const doc = this.docs[id]!;
    let terms: ArrayLike<number> | null = doc.terms;
    if (terms === null) {
      terms = this.collect(doc.body ?? '', doc.title, doc.path, doc.keywords).docTerms;
      for (let i = 0; i < terms.length; i++) this.scratch[terms[i]!] = 0;
    }
    for (let i = 0; i < terms.length; i++) {
      const tid = terms[i]!;
      const p = this.postings[tid]!;
      p.delete(id);
      if (p.n === 0) this.dropTerm(tid);
    }
    this.totalLen -= this.lens[id]!;
    this.lens[id] = 0;
    this.docs[id] = undefined;
    this.byPath.delete(path);
    this.freeDocs.push(id);
  }

  /**
   * Runs a query for one caller: `canRead` decides which files exist for them, so `total` and the pages
   * only ever count readable files. `getContent` is needed only by an index that does not store text.
   */
  search(
    q: SearchQuery,
    canRead: (path: string) => boolean,
    getContent?: (path: string) => string,
  ): SearchResult {
    const t0 = performance.now();
    const text = typeof q.q === 'string' ? q.q : '';
    const requested: MatchMode = q.match ?? 'auto';
    const terms = queryTerms(text);
    const limit = Math.max(0, Math.floor(Number.isFinite(q.limit) ? q.limit : 20));
    const offset = Math.max(0, Math.floor(Number.isFinite(q.offset) ? q.offset : 0));
    // An empty list restricts nothing, like no list at all.
    const prefixes = q.contexts?.length
      ? q.contexts.map((c) => c.replace(/^\/+/, '').replace(/\/+$/, ''))
      : undefined;
    const phrase = fold(text.trim());
    const ctx: RunContext = { terms, phrase, prefixes, canRead, getContent };

    let match: Mode = requested === 'any' || requested === 'phrase' ? requested : 'all';
    let found = this.candidates(ctx, match);
    // `auto` widens to `any` only when requiring every term found nothing the caller can read.
    if (requested === 'auto' && found.length === 0 && terms.length > 1) {
      match = 'any';
      found = this.candidates(ctx, match);
    }
    const total = found.length;
    // Ranking may reorder or consume `found`, so the count is taken first.
    const page = this.rank(ctx, found, match, offset + limit).slice(offset);

    const results: SearchHit[] = page.map((c) => this.hit(ctx, c, match, q.includeContent));
    return {
      query: text,
      match,
      total,
      limit,
      offset,
      took_ms: Math.round((performance.now() - t0) * 100) / 100,
      results,
    };
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The distinct terms of a document with their packed frequencies left in `scratch` (indexed by term
   * id, so each word costs one dictionary probe). The caller must zero those scratch slots again.
   */
  private collect(
    body: string,
    title: string,
    path: string,
    keywords: string[],
  ): { docTerms: number[]; words: number } {
    const docTerms: number[] = [];
    let words = 0;
    this.dict.scan(fold(body), (tid) => {
      const v = this.slot(tid);
      if (v === 0) docTerms.push(tid);
      if ((v & TF_MASK) !== TF_MASK) this.scratch[tid] = v + 1;
      words++;
    });
    const flag = (text: string, bit: number) => {
      this.dict.scan(fold(text), (tid) => {
        if (this.slot(tid) === 0) docTerms.push(tid);
        this.scratch[tid]! |= bit;
      });
    };
    flag(`${title} ${fileStem(path)}`, IN_TITLE);
    flag(keywords.join(' '), IN_KEYWORDS);
    return { docTerms, words };
  }

  /** The scratch value of a term id, growing the scratch array when the dictionary has grown. */
  private slot(tid: number): number {
    if (tid >= this.scratch.length) {
      const next = new Uint32Array(Math.max(tid + 1, this.scratch.length * 2));
      next.set(this.scratch);
      this.scratch = next;
    }
    return this.scratch[tid]!;
  }

  private dropTerm(tid: number): void {
    this.dict.delete(tid);
    this.postings[tid] = undefined;
  }

  private bodyOf(id: number, getContent?: (path: string) => string): string {
    const doc = this.docs[id]!;
    if (doc.body !== null) return doc.body;
    return getContent ? getContent(doc.path).slice(doc.bodyStart) : '';
  }

  private inScope(path: string, prefixes: string[] | undefined): boolean {
    if (!prefixes) return true;
    for (const p of prefixes) {
      // Folder prefixes match whole segments: `notes` covers `notes/a.md`, not `notes-old/a.md`.
      if (p === '' || path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47)) return true;
    }
    return false;
  }

  /** Every readable, in-scope document the mode accepts, with its BM25 score and which terms it has. */
  private candidates(ctx: RunContext, mode: Mode): Candidate[] {
    const { terms } = ctx;
    if (terms.length === 0) return [];
    const lists: Array<{ bit: number; p: Postings }> = [];
    for (let i = 0; i < terms.length; i++) {
      const tid = this.dict.find(terms[i]!);
      if (tid >= 0) lists.push({ bit: 1 << i, p: this.postings[tid]! });
      else if (mode !== 'any') return [];
    }
    if (lists.length === 0) return [];
    const requireAll = mode !== 'any';
    // A phrase lies on a body line, so each of its terms must occur in the body itself.
    const bodyOnly = mode === 'phrase';
    // Rarest first: with `all`, later (longer) lists then only touch documents still in the running.
    lists.sort((a, b) => a.p.n - b.p.n);

    const n = this.byPath.size;
    const avgdl = n > 0 ? this.totalLen / n : 0;
    if (this.scores.length < this.docs.length) {
      this.scores = new Float64Array(this.docs.length + 1024);
      this.masks = new Uint32Array(this.docs.length + 1024);
    }
    const scores = this.scores;
    const masks = this.masks;
    const touched: number[] = [];
    const lens = this.lens;
    let have = 0;
    for (const { bit, p } of lists) {
      const df = p.n;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      const d = p.data;
      const end = p.n;
      for (let i = 0; i < end; i++) {
        const packed = d[i]!;
        const doc = packed >>> FIELD_BITS;
        const m = masks[doc]!;
        if (requireAll && m !== have) continue;
        if (bodyOnly && (packed & TF_MASK) === 0) continue;
        const tf =
          (packed & TF_MASK) +
          (packed & IN_TITLE ? TITLE_WEIGHT : 0) +
          (packed & IN_KEYWORDS ? KEYWORD_WEIGHT : 0);
        const norm = avgdl > 0 ? K1 * (1 - B + (B * lens[doc]!) / avgdl) : K1;
        scores[doc] = scores[doc]! + (idf * tf * (K1 + 1)) / (tf + norm);
        if (m === 0) touched.push(doc);
        masks[doc] = m | bit;
      }
      have |= bit;
    }

    const out: Candidate[] = [];
    try {
      for (const doc of touched) {
        const mask = masks[doc]!;
        if (requireAll && mask !== have) continue;
        const path = this.docs[doc]!.path;
        if (!this.inScope(path, ctx.prefixes) || !ctx.canRead(path)) continue;
        out.push({ id: doc, score: scores[doc]!, mask });
      }
    } finally {
      // The accumulators are reused by the next search (even if `canRead` threw): clear what was used.
      for (const doc of touched) {
        scores[doc] = 0;
        masks[doc] = 0;
      }
    }
    if (mode === 'phrase') return this.withPhrase(ctx, out);
    return out;
  }

  /** Phrase mode: keep documents where the query text occurs verbatim on one body line. */
  private withPhrase(ctx: RunContext, found: Candidate[]): Candidate[] {
    if (ctx.phrase.includes('\n')) return [];
    // A one-word phrase with nothing around it is that word, and every candidate has it in its body.
    const verify = !(ctx.terms.length === 1 && ctx.phrase === ctx.terms[0]);
    const out: Candidate[] = [];
    for (const c of found) {
      if (verify && findPhrase(fold(this.bodyOf(c.id, ctx.getContent)), ctx.phrase) < 0) continue;
      c.score *= PHRASE_BOOST;
      out.push(c);
    }
    return out;
  }

  /**
   * The first `k` candidates in final order (score descending, path ascending). Outside phrase mode a
   * verbatim occurrence of a multi-term query adds half the score; checking it means reading the body,
   * so only candidates that could still reach the first `k` are checked: a candidate whose boosted score
   * stays below the k-th best final score so far cannot get in, nor can anything after it.
   */
  private rank(ctx: RunContext, found: Candidate[], mode: Mode, k: number): Candidate[] {
    if (k <= 0 || found.length === 0) return [];
    const byRank = (a: Candidate, b: Candidate) => this.compare(a, b);
    const boostable = mode !== 'phrase' && ctx.terms.length > 1 && !ctx.phrase.includes('\n');
    if (!boostable) {
      if (k * 4 >= found.length) return found.sort(byRank).slice(0, k);
      return topK(found, k, byRank);
    }
    const heap = new CandidateHeap(found, byRank);
    const best: Candidate[] = [];
    for (let next = heap.pop(); next; next = heap.pop()) {
      if (best.length === k && next.score * PHRASE_BOOST < best[k - 1]!.score) break;
      const body = fold(this.bodyOf(next.id, ctx.getContent));
      const scored = findPhrase(body, ctx.phrase) >= 0 ? { ...next, score: next.score * PHRASE_BOOST } : next;
      insertSorted(best, scored, byRank);
      if (best.length > k) best.pop();
    }
    return best;
  }

  private compare(a: Candidate, b: Candidate): number {
    if (a.score !== b.score) return b.score - a.score;
    const pa = this.docs[a.id]!.path;
    const pb = this.docs[b.id]!.path;
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  }

  private hit(ctx: RunContext, c: Candidate, mode: Mode, includeContent: boolean): SearchHit {
    const doc = this.docs[c.id]!;
    const body = this.bodyOf(c.id, ctx.getContent);
    const ex = excerptOf(body, ctx.terms, mode === 'phrase' ? ctx.phrase : null);
    const hit: SearchHit = {
      path: doc.path,
      namespace: namespaceOf(doc.path).name,
      context: contextOf(doc.path),
      title: doc.title,
      score: Math.round(c.score * 10000) / 10000,
      line_number: doc.lineOffset + ex.line,
      excerpt: ex.text,
      matched_terms: ctx.terms.filter((_, i) => (c.mask & (1 << i)) !== 0),
      keywords: doc.keywords,
      modified: new Date(doc.modified).toISOString(),
    };
    if (includeContent) hit.content = body;
    return hit;
  }
}

interface RunContext {
  terms: string[];
  /** The whole query, folded, for phrase matching and the verbatim boost. */
  phrase: string;
  prefixes: string[] | undefined;
  canRead: (path: string) => boolean;
  getContent?: (path: string) => string;
}

function isSearchable(path: string): boolean {
  if (!path.endsWith('.md')) return false;
  return !path.split('/').some((seg) => seg.startsWith('.'));
}

/**
 * A copy of `s` that shares no storage with a larger string. Words cut out of a document by a regex keep
 * the whole document alive while they are referenced; a term key (or title) outliving its document
 * would otherwise pin megabytes of text that is no longer indexed.
 */
function detach(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

function fileStem(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return name.endsWith('.md') ? name.slice(0, -3) : name;
}

function insertSorted<T>(arr: T[], item: T, cmp: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]!, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  arr.splice(lo, 0, item);
}

/** The `k` best of `items` in order, without sorting them all (most searches want 20 of thousands). */
function topK<T>(items: T[], k: number, cmp: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  for (const it of items) {
    if (best.length === k && cmp(it, best[k - 1]!) >= 0) continue;
    insertSorted(best, it, cmp);
    if (best.length > k) best.pop();
  }
  return best;
}

/** A binary heap handing out candidates best first; built in linear time from the whole list. */
class CandidateHeap {
  private readonly a: Candidate[];
  constructor(
    items: Candidate[],
    private readonly cmp: (x: Candidate, y: Candidate) => number,
  ) {
    this.a = items;
    for (let i = (items.length >>> 1) - 1; i >= 0; i--) this.down(i);
  }

  pop(): Candidate | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const a = this.a;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.cmp(a[l]!, a[m]!) < 0) m = l;
      if (r < n && this.cmp(a[r]!, a[m]!) < 0) m = r;
      if (m === i) return;
      const t = a[i]!;
      a[i] = a[m]!;
      a[m] = t;
      i = m;
    }
  }
}
