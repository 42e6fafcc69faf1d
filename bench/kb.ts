/**
 * KB benchmark: the search index on a realistic corpus, against ripgrep on the same files in the same run.
 *  1. Builds a corpus of BENCH_KB_FILES (10,000) markdown files of about 2 KB in a temp dir: frontmatter,
 *     headings, lists, hashtags, wiki links, now and then a code block; words drawn from a vocabulary with
 *     Zipf-like frequencies (a few words everywhere, most words rare), spread over namespaces and folders.
 *  2. Index build: walk + read + parse + index of every file (target < 5 s for 10k files).
 *  3. Search latency over a fixed set of 50 queries of 1–3 terms (common, mid-frequency and rare words,
 *     one that matches nothing) as a caller who may read part of the KB; p50 / p99 per search.
 *  4. The same queries with `rg -F -i -l <first term>` spawned over the corpus, p50 / p99, and the ratio
 *     (target: the index ≥ 3× faster at p50). Skipped with a note when `rg` is not installed.
 *  5. Process RSS and JS heap after indexing, and the cost of keeping one file current (upsert of a changed
 *     file, remove + upsert).
 *  6. The kb service itself on the same corpus (bench/kb-service.ts): clone time, RSS, write → searchable.
 * Knobs: BENCH_KB_FILES (10000), BENCH_KB_REPS (20 index passes over the queries), BENCH_KB_RG_REPS (3),
 * BENCH_KB_WRITES (100), BENCH_KB_SERVICE=0 to skip step 6.
 *
 * Hooks for the full-service figures (write → searchable latency, service RSS, clone time): `makeCorpus`
 * writes the same corpus anywhere (e.g. into a Git working tree to clone from), `buildIndex` and
 * `searchLatency` measure the index alone, and `QUERIES` is the shared query set.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from '../services/kb/documents/parse.ts';
import { SearchIndex } from '../services/kb/search/service.ts';
import type { SearchQuery } from '../services/kb/types.ts';
import { benchKbService } from './kb-service.ts';
import { percentile } from './lib.ts';

const FILES = Number(process.env.BENCH_KB_FILES ?? 10_000);
const REPS = Number(process.env.BENCH_KB_REPS ?? 20);
const RG_REPS = Number(process.env.BENCH_KB_RG_REPS ?? 3);

// ── corpus ──────────────────────────────────────────────────────────────────────────────────────────────

/** Deterministic PRNG (mulberry32) so every run searches the same corpus. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The most frequent words, in rank order: English function words, then the KB's own subject matter. */
const COMMON = (
  'the of and to a in is that for it as with was on be by this are from or at an not have which but ' +
  'they we you all can has more one will there their its also when other if may into about these would ' +
  'some new only time been then used two first after should use each like over our than most any such ' +
  'make through where many work much same while each because between both under system data service ' +
  'team user project design release model test server client request response config deploy build ' +
  'query index search file document note meeting review plan issue status update change version api ' +
  'database cache queue token session account network storage policy support customer product feature'
).split(' ');

/** Mid-frequency and rare words the query set uses; placed at fixed ranks in the vocabulary. */
const PLACED: Array<[rank: number, word: string]> = [
  [180, 'latency'],
  [220, 'kubernetes'],
  [260, 'migration'],
  [300, 'onboarding'],
  [350, 'roadmap'],
  [420, 'incident'],
  [500, 'postgres'],
  [600, 'retention'],
  [750, 'dragon'],
  [900, 'lair'],
  [1100, 'invoice'],
  [1400, 'webhook'],
  [1800, 'quarterly'],
  [2400, 'sharding'],
  [3200, 'backpressure'],
  [4500, 'gryphon'],
  [6000, 'idempotency'],
  [8000, 'tessellation'],
  [11000, 'obsidian'],
  [15000, 'zeitgeist'],
];

const VOCAB_SIZE = 20_000;

/** A pronounceable made-up word for every other rank, so the long tail looks like real vocabulary. */
function vocabulary(seed: number): string[] {
  const rand = rng(seed);
  const onsets = [
    'b',
    'c',
    'd',
    'f',
    'g',
    'k',
    'l',
    'm',
    'n',
    'p',
    'r',
    's',
    't',
    'v',
    'tr',
    'st',
    'pl',
    'gr',
  ];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'ea', 'io', 'ou'];
  const codas = ['', 'n', 'r', 's', 't', 'l', 'nd', 'st', 'ck', 'x'];
  const used = new Set<string>([...COMMON, ...PLACED.map(([, w]) => w)]);
  const words: string[] = [...COMMON];
  const placed = new Map(PLACED);
  while (words.length < VOCAB_SIZE) {
    const fixed = placed.get(words.length);
    if (fixed) {
      words.push(fixed);
      continue;
    }
    let w = '';
    const syllables = 2 + Math.floor(rand() * 3);
    for (let s = 0; s < syllables; s++) {
      w += onsets[Math.floor(rand() * onsets.length)]! + vowels[Math.floor(rand() * vowels.length)]!;
      if (s === syllables - 1) w += codas[Math.floor(rand() * codas.length)]!;
    }
    if (used.has(w)) continue;
    used.add(w);
    words.push(w);
  }
  return words;
}

/** Samples ranks with probability ∝ 1 / (rank + 1)^1.05 (Zipf), by binary search on the cumulative sum. */
function zipfSampler(n: number, rand: () => number): () => number {
  const cum = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / (r + 1) ** 1.05;
    cum[r] = sum;
  }
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Folders the files are spread over: every kind of namespace, a few levels deep. */
function folders(rand: () => number): string[] {
  const out: string[] = [];
  const topics = ['architecture', 'runbooks', 'research', 'meetings', 'specs', 'lore', 'howto', 'archive'];
  for (const t of topics) out.push(`kos/${t}`, `gaia/${t}`, `shared/${t}`);
  for (let u = 0; u < 40; u++) {
    const id = `${(0x10000000 + Math.floor(rand() * 0xefffffff)).toString(16)}-4a1b-4c2d-8e3f-${String(u).padStart(12, '0')}`;
    for (const sub of ['private', 'workspace', 'published']) out.push(`users/${id}/${sub}`);
  }
  for (const t of ['eng', 'design', 'sales', 'support', 'ops', 'data']) {
    for (const sub of ['notes', 'decisions', 'onboarding']) out.push(`teams/${t}/${sub}`);
  }
  for (const w of ['launch-2026', 'atlas', 'migration', 'game-jam'])
    out.push(`workspaces/${w}`, `workspaces/${w}/docs`);
  return out;
}

export interface CorpusInfo {
  dir: string;
  files: number;
  bytes: number;
  /** KB-relative paths, in creation order. */
  paths: string[];
}

/**
 * Writes `n` markdown files of about 2 KB under `dir` (created if missing). The same `seed` gives the same
 * corpus byte for byte, so figures from different runs and machines compare.
 */
export function makeCorpus(dir: string, n: number, seed = 1): CorpusInfo {
  const rand = rng(seed);
  const vocab = vocabulary(seed);
  const pick = zipfSampler(vocab.length, rand);
  const word = () => vocab[pick()]!;
  const dirs = folders(rand);
  const paths: string[] = [];
  let bytes = 0;

  const sentence = (): string => {
    const len = 6 + Math.floor(rand() * 14);
    const ws: string[] = [];
    for (let i = 0; i < len; i++) ws.push(word());
    const s = ws.join(' ');
    return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
  };
  const tag = () => vocab[40 + Math.floor(rand() * 400)]!;

  for (let i = 0; i < n; i++) {
    const folder = dirs[Math.floor(rand() * dirs.length)]!;
    const titleWords = [word(), word(), word()];
    const slug = `${titleWords.join('-').replace(/[^a-z0-9-]/g, '')}-${i}`;
    const path = `${folder}/${slug}.md`;
    const title = titleWords.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');
    const tags = [tag(), tag()];
    const parts: string[] = [];
    if (rand() < 0.8) {
      parts.push(
        '---',
        `title: ${title}`,
        `tags: [${tags.join(', ')}]`,
        `created: 2025-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
        '---',
      );
    }
    parts.push(`# ${title}`, '', `${sentence()} ${sentence()} #${tag()}`, '');
    while (parts.join('\n').length < 1900) {
      const r = rand();
      if (r < 0.15) parts.push(`## ${word()} ${word()}`, '');
      else if (r < 0.3) {
        for (let k = 0; k < 3; k++) parts.push(`- ${sentence()}`);
        parts.push('');
      } else if (r < 0.36) parts.push('```ts', `const ${word()} = await ${word()}(${word()});`, '```', '');
      else if (r < 0.5 && paths.length > 0) {
        const target = paths[Math.floor(rand() * paths.length)]!.replace(/\.md$/, '');
        parts.push(`See [[${target}]] and #${tag()} for ${sentence().toLowerCase()}`, '');
      } else parts.push(`${sentence()} ${sentence()} ${sentence()}`, '');
    }
    const text = `${parts.join('\n')}\n`;
    mkdirSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, path), text);
    paths.push(path);
    bytes += Buffer.byteLength(text);
  }
  return { dir, files: n, bytes, paths };
}

// ── index ───────────────────────────────────────────────────────────────────────────────────────────────

function walk(root: string, rel = '', out: string[] = []): string[] {
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(root, p, out);
    else if (e.isFile() && e.name.endsWith('.md')) out.push(p);
  }
  return out;
}

export interface BuildResult {
  index: SearchIndex;
  ms: number;
  /** The parts of `ms`: walking and reading, parsing, indexing. */
  readMs: number;
  parseMs: number;
  indexMs: number;
  files: number;
}

/** Walk + read + parse + index, the way the service fills its index on start. */
export function buildIndex(dir: string, index = new SearchIndex()): BuildResult {
  const t0 = performance.now();
  let parseMs = 0;
  let indexMs = 0;
  const paths = walk(dir);
  for (const p of paths) {
    const full = join(dir, p);
    const text = readFileSync(full, 'utf8');
    const mtime = statSync(full).mtime;
    const t1 = performance.now();
    const doc = parseDocument(p, text);
    const t2 = performance.now();
    index.upsert(p, text, doc, mtime);
    parseMs += t2 - t1;
    indexMs += performance.now() - t2;
  }
  const ms = performance.now() - t0;
  return { index, ms, readMs: ms - parseMs - indexMs, parseMs, indexMs, files: paths.length };
}

// ── queries ─────────────────────────────────────────────────────────────────────────────────────────────

/** 50 queries: common, mid and rare words alone and in pairs and triples, and one that matches nothing. */
export const QUERIES: string[] = [
  'the',
  'system',
  'search',
  'deploy',
  'customer',
  'latency',
  'kubernetes',
  'migration',
  'onboarding',
  'roadmap',
  'incident',
  'postgres',
  'retention',
  'dragon',
  'lair',
  'invoice',
  'webhook',
  'quarterly',
  'sharding',
  'backpressure',
  'gryphon',
  'idempotency',
  'tessellation',
  'obsidian',
  'zeitgeist',
  'dragon lair',
  'search index',
  'release plan',
  'data model',
  'user session',
  'api token',
  'postgres migration',
  'kubernetes deploy',
  'incident review',
  'customer support',
  'webhook retry',
  'cache latency',
  'roadmap quarterly',
  'sharding postgres',
  'team onboarding',
  'gryphon lair',
  'service latency network',
  'deploy release version',
  'database migration plan',
  'search index query',
  'user account policy',
  'incident review status',
  'dragon lair gryphon',
  'idempotency webhook request',
  'nonexistentword',
];

/** A caller who may read the organisation's folders, `shared/`, their own space and one team. */
export function sampleReader(paths: string[]): (path: string) => boolean {
  const me = (paths.find((p) => p.startsWith('users/')) ?? 'users/nobody').split('/').slice(0, 2).join('/');
  return (p) =>
    p.startsWith('kos/') ||
    p.startsWith('gaia/') ||
    p.startsWith('shared/') ||
    p.startsWith(`${me}/`) ||
    p.startsWith('teams/eng/');
}

export interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

function latency(values: number[]): Latency {
  const v = [...values].sort((a, b) => a - b);
  return { p50: percentile(v, 50), p99: percentile(v, 99), samples: v.length };
}

/** Runs every query `reps` times (after one warm-up pass) and reports per-search latency in ms. */
export function searchLatency(
  index: SearchIndex,
  canRead: (path: string) => boolean,
  reps = REPS,
): Latency & { hits: number } {
  const q = (text: string): SearchQuery => ({
    q: text,
    match: 'auto',
    limit: 20,
    offset: 0,
    includeContent: false,
  });
  let hits = 0;
  for (const text of QUERIES) hits += index.search(q(text), canRead).total;
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (const text of QUERIES) {
      const t0 = performance.now();
      index.search(q(text), canRead);
      times.push(performance.now() - t0);
    }
  }
  return { ...latency(times), hits };
}

/** ripgrep over the same files: one spawn per query, its first term, fixed-string and case-insensitive. */
export async function rgLatency(dir: string, reps = RG_REPS): Promise<Latency | null> {
  if (Bun.which('rg') === null) return null;
  const times: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    for (const text of QUERIES) {
      const term = text.split(' ')[0]!;
      const t0 = performance.now();
      const proc = Bun.spawn(['rg', '-F', '-i', '-l', '--', term, dir], { stdout: 'pipe', stderr: 'ignore' });
      await new Response(proc.stdout).arrayBuffer();
      await proc.exited;
      // The first pass warms the page cache and is not counted.
      if (r > 0) times.push(performance.now() - t0);
    }
  }
  return latency(times);
}

/** Keeping one file current in a full index: a changed file re-indexed, and a file removed and re-added. */
export function updateCost(index: SearchIndex, dir: string, n = 200): { upsertMs: number; moveMs: number } {
  const picks = index.paths().slice(0, n);
  let t0 = performance.now();
  for (const p of picks) {
    const text = `${readFileSync(join(dir, p), 'utf8')}\nAppended line about a dragon lair.\n`;
    index.upsert(p, text, parseDocument(p, text), new Date());
  }
  const upsertMs = (performance.now() - t0) / picks.length;
  t0 = performance.now();
  for (const p of picks) {
    const text = readFileSync(join(dir, p), 'utf8');
    index.remove(p);
    index.upsert(p, text, parseDocument(p, text), new Date());
  }
  return { upsertMs, moveMs: (performance.now() - t0) / picks.length };
}

// ── report ──────────────────────────────────────────────────────────────────────────────────────────────

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
const ms = (x: number) => `${x.toFixed(x < 10 ? 3 : 1)} ms`;

interface ChildReport {
  rssStart: number;
  buildMs: number;
  readMs: number;
  parseMs: number;
  indexMs: number;
  files: number;
  rss: number;
  heap: number;
  stats: ReturnType<SearchIndex['stats']>;
  reader: Latency & { hits: number };
  admin: Latency & { hits: number };
  update: { upsertMs: number; moveMs: number };
}

/**
 * The index side, in a process of its own so its RSS is what a service holding this index would carry
 * (not the corpus generator's garbage).
 */
function child(dir: string): ChildReport {
  const rssStart = process.memoryUsage().rss;
  const built = buildIndex(dir);
  Bun.gc(true);
  const mem = process.memoryUsage();
  const reader = searchLatency(built.index, sampleReader(built.index.paths()));
  const admin = searchLatency(built.index, () => true, Math.max(1, Math.floor(REPS / 4)));
  const update = updateCost(built.index, dir);
  return {
    rssStart,
    buildMs: built.ms,
    readMs: built.readMs,
    parseMs: built.parseMs,
    indexMs: built.indexMs,
    files: built.files,
    rss: mem.rss,
    heap: mem.heapUsed,
    stats: built.index.stats(),
    reader,
    admin,
    update,
  };
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-kb-bench-'));
  try {
    const t0 = performance.now();
    const corpus = makeCorpus(dir, FILES);
    console.log(
      `corpus: ${corpus.files} files, ${mb(corpus.bytes)} (${Math.round(corpus.bytes / corpus.files)} B avg), written in ${ms(performance.now() - t0)}`,
    );

    const proc = Bun.spawn([process.execPath, import.meta.path, 'child', dir], {
      stdout: 'pipe',
      stderr: 'inherit',
      env: process.env,
    });
    const out = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`kb bench child failed: ${out.slice(0, 500)}`);
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as ChildReport;

    console.log(
      `index build (walk + read + parse + index): ${ms(r.buildMs)} for ${r.files} files (target < 5000 ms) ${r.buildMs < 5000 ? 'OK' : 'SLOW'}`,
    );
    console.log(`  of which walk + read ${ms(r.readMs)}, parse ${ms(r.parseMs)}, index ${ms(r.indexMs)}`);
    console.log(
      `index process after build: rss ${mb(r.rss)} (${mb(r.rssStart)} at start; target for the whole kb service < 250 MB), js heap ${mb(r.heap)}`,
    );
    console.log(
      `index contents: ${r.stats.terms} terms, ${r.stats.postings} postings in ${mb(r.stats.postingBytes)}, ${mb(r.stats.textChars)} chars of body text kept`,
    );
    console.log(
      `index search, ${QUERIES.length} queries x ${REPS}, caller reads part of the KB: p50 ${ms(r.reader.p50)}  p99 ${ms(r.reader.p99)}  (${r.reader.hits} readable hits over the set)`,
    );
    console.log(`index search, caller reads everything: p50 ${ms(r.admin.p50)}  p99 ${ms(r.admin.p99)}`);

    const rg = await rgLatency(dir);
    if (rg === null) console.log('rg not installed: comparison skipped');
    else {
      console.log(
        `rg -F -i -l <first term>, ${QUERIES.length} queries x ${RG_REPS}: p50 ${ms(rg.p50)}  p99 ${ms(rg.p99)}`,
      );
      const ratio = rg.p50 / r.reader.p50;
      console.log(
        `index vs rg at p50: ${ratio.toFixed(1)}x faster (target >= 3x) ${ratio >= 3 ? 'OK' : 'SLOW'}`,
      );
    }
    console.log(
      `keeping current in a ${r.files}-file index: upsert of a changed file ${ms(r.update.upsertMs)}, remove + upsert ${ms(r.update.moveMs)} (both include parsing)`,
    );

    // The whole kb service on the same corpus, cloned from a loopback Git remote.
    if (process.env.BENCH_KB_SERVICE !== '0') await benchKbService(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  if (process.argv[2] === 'child') console.log(JSON.stringify(child(process.argv[3]!)));
  else await main();
}
