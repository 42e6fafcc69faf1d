import { describe, expect, test } from 'bun:test';
import {
  charLength,
  firstChars,
  formatContext,
  formatList,
  formatMultitask,
  formatNavigate,
  formatRead,
  formatSearch,
  formatSynthesis,
  formatThreads,
  kilobytes,
  pyStr,
} from '../../services/kb/legacy/format.ts';
import type {
  ContextData,
  FileObject,
  ListResult,
  SearchHit,
  SearchResult,
  ThreadInfo,
} from '../../services/kb/types.ts';

const hit = (path: string, context: string | null, excerpt: string): SearchHit => ({
  path,
  namespace: 'root',
  context,
  title: path,
  score: 1,
  line_number: 1,
  excerpt,
  matched_terms: [],
  keywords: [],
  modified: '2025-12-01T10:00:00.000Z',
});

const searchResult = (results: SearchHit[], total = results.length): SearchResult => ({
  query: 'q',
  match: 'all',
  total,
  limit: 20,
  offset: 0,
  took_ms: 1,
  results,
});

const file = (over: Partial<FileObject>): FileObject => ({
  path: 'notes/a.md',
  namespace: 'root',
  title: 'A',
  frontmatter: {},
  content: '',
  keywords: [],
  wiki_links: [],
  size: 0,
  modified: '2025-12-01T10:00:00.000Z',
  is_index: false,
  sha: 'a'.repeat(40),
  ...over,
});

describe('formatSearch', () => {
  test('the documented dragon example, byte for byte', () => {
    const r = searchResult([hit('lore/dragons.md', 'lore', 'The dragon sleeps under the ridge.')]);
    expect(formatSearch('dragon', r)).toBe(
      "🔍 **KB Search Results for 'dragon'**\n\nFound 1 results:\n\n**1. lore/dragons.md**\nContext: lore\nExcerpt: The dragon sleeps under the ridge....\n\n",
    );
  });

  test('root files say root; no results renders the header only', () => {
    expect(formatSearch('x', searchResult([hit('README.md', null, 'x marks')]))).toBe(
      "🔍 **KB Search Results for 'x'**\n\nFound 1 results:\n\n**1. README.md**\nContext: root\nExcerpt: x marks...\n\n",
    );
    expect(formatSearch('none', searchResult([]))).toBe(
      "🔍 **KB Search Results for 'none'**\n\nFound 0 results:\n\n",
    );
  });

  test('ten rendered, the rest counted from the total; excerpts cut at 200 characters', () => {
    const hits = Array.from({ length: 20 }, (_, i) => hit(`n/${i}.md`, 'n', `e${i}`));
    const out = formatSearch('e', searchResult(hits, 23));
    expect(out.startsWith("🔍 **KB Search Results for 'e'**\n\nFound 23 results:\n\n**1. n/0.md**\n")).toBe(
      true,
    );
    expect(out).toContain('**10. n/9.md**\nContext: n\nExcerpt: e9...\n\n... and 13 more results.\n');
    expect(out).not.toContain('n/10.md');
    expect(out.endsWith('... and 13 more results.\n')).toBe(true);

    const long = `${'é'.repeat(150)}${'🐉'.repeat(100)}`;
    const cut = formatSearch('e', searchResult([hit('a.md', null, long)]));
    expect(cut).toContain(`Excerpt: ${'é'.repeat(150)}${'🐉'.repeat(50)}...\n\n`);
  });
});

describe('formatRead', () => {
  test('metadata (first five keys, Python-style values) then the body', () => {
    const f = file({
      path: 'gaia/+gaia.md',
      frontmatter: { title: 'Gaia', tags: ['platform', "it's"], draft: false, n: 3, owner: null, extra: 'x' },
      content: '# Gaia\nBody\n',
    });
    expect(formatRead(f)).toBe(
      `📄 **File: gaia/+gaia.md**\n\n**Metadata:**\n- title: Gaia\n- tags: ['platform', "it's"]\n- draft: False\n- n: 3\n- owner: None\n\n**Content:**\n# Gaia\nBody\n`,
    );
  });

  test('no frontmatter: no metadata block', () => {
    expect(formatRead(file({ content: 'hello' }))).toBe('📄 **File: notes/a.md**\n\n**Content:**\nhello');
  });

  test('over 2000 characters: truncated with the full length', () => {
    const body = 'a'.repeat(1999) + '🐉🐉';
    expect(charLength(body)).toBe(2001);
    expect(formatRead(file({ content: body }))).toBe(
      `📄 **File: notes/a.md**\n\n**Content (truncated):**\n${'a'.repeat(1999)}🐉...\n\n*Full content: 2001 characters*`,
    );
    const exact = 'b'.repeat(2000);
    expect(formatRead(file({ content: exact }))).toBe(`📄 **File: notes/a.md**\n\n**Content:**\n${exact}`);
  });
});

describe('formatList', () => {
  const listing = (dirs: number, files: number, size = 2048): ListResult => ({
    path: 'notes',
    directories: Array.from({ length: dirs }, (_, i) => ({ name: `d${i}`, path: `notes/d${i}` })),
    files: Array.from({ length: files }, (_, i) => ({
      name: `f${i}.md`,
      path: `notes/f${i}.md`,
      size,
      modified: '2025-12-01T10:00:00.000Z',
      is_index: false,
    })),
  });

  test('subdirectories then files with sizes', () => {
    expect(formatList('notes', listing(2, 1, 1536))).toBe(
      '📁 **Directory: notes**\n\n**Subdirectories:**\n- 📁 d0/\n- 📁 d1/\n\n**Files:**\n- 📄 f0.md (1.5 KB)\n',
    );
  });

  test('only files keeps the blank line before Files; empty has the header only', () => {
    expect(formatList('/', listing(0, 1, 100))).toBe(
      '📁 **Directory: /**\n\n\n**Files:**\n- 📄 f0.md (0.1 KB)\n',
    );
    expect(formatList('/', listing(0, 0))).toBe('📁 **Directory: /**\n\n');
  });

  test('cuts at 10 directories and 15 files', () => {
    const out = formatList('notes', listing(12, 17));
    expect(out).toContain('- 📁 d9/\n... and 2 more\n\n**Files:**\n');
    expect(out).not.toContain('d10/');
    expect(out.endsWith('- 📄 f14.md (2.0 KB)\n... and 2 more\n')).toBe(true);
  });

  test('kilobytes round like Python :.1f (ties to even on the exact value)', () => {
    expect(kilobytes(0)).toBe('0.0');
    expect(kilobytes(256)).toBe('0.2'); // 0.25 exactly → even
    expect(kilobytes(768)).toBe('0.8'); // 0.75 exactly → even
    expect(kilobytes(52)).toBe('0.1'); // 0.0507…
    expect(kilobytes(51)).toBe('0.0'); // 0.0498…
    expect(kilobytes(10 * 1024 * 1024)).toBe('10240.0');
  });
});

describe('formatContext', () => {
  const ctx = (files: number, deps: string[] = []): ContextData => ({
    name: 'gaia',
    path: 'gaia/+gaia.md',
    summary: 'The platform.',
    keywords: Array.from({ length: 12 }, (_, i) => `k${i}`),
    dependencies: deps,
    files: Array.from({ length: files }, (_, i) => `gaia/f${i}.md`),
    total_files: files,
  });

  test('summary, counts, keywords (10), no dependencies line when there are none', () => {
    expect(formatContext('gaia', ctx(2))).toBe(
      '📚 **KOS Context: gaia**\n\n**Summary:** The platform.\n\n**Files:** 2 documents\n**Keywords:** k0, k1, k2, k3, k4, k5, k6, k7, k8, k9\n\n**Recent Files:**\n- gaia/f0.md\n- gaia/f1.md\n',
    );
  });

  test('dependencies (5) and the file cut at 10', () => {
    const out = formatContext('gaia', ctx(13, ['a', 'b', 'c', 'd', 'e', 'f']));
    expect(out).toContain(
      '**Keywords:** k0, k1, k2, k3, k4, k5, k6, k7, k8, k9\n**Dependencies:** a, b, c, d, e\n\n',
    );
    expect(out.endsWith('- gaia/f9.md\n... and 3 more files.\n')).toBe(true);
  });
});

describe('formatNavigate', () => {
  test('one line per node, two spaces per depth, keywords (5) under the node, no trailing newline', () => {
    const tree = {
      path: '',
      name: 'kb',
      has_index: false,
      children: [
        {
          path: 'gaia',
          name: 'gaia',
          has_index: true,
          keywords: ['a', 'b', 'c', 'd', 'e', 'f'],
          children: [{ path: 'gaia/x', name: 'x', has_index: false, children: [] }],
        },
        { path: 'lore', name: 'lore', has_index: true, keywords: [], children: [] },
      ],
    };
    expect(formatNavigate('/', tree)).toBe(
      "🧭 **KB Navigation from '/'**\n\n- **kb** ()\n  - **gaia** (gaia)\n    Keywords: a, b, c, d, e\n    - **x** (gaia/x)\n  - **lore** (lore)",
    );
  });
});

describe('formatSynthesis', () => {
  test('themes, then connections (5, with 3 shared keywords each)', () => {
    const conns = Array.from({ length: 6 }, (_, i) => ({
      context1: 'a',
      context2: `c${i}`,
      shared_keywords: ['x', 'y', 'z', 'w'],
      connection_strength: 4,
    }));
    const out = formatSynthesis(['a', 'b'], {
      contexts: ['a', 'b'],
      common_themes: ['x', 'y'],
      potential_connections: conns,
    });
    expect(out).toBe(
      '🔮 **Cross-Domain Synthesis**\n\nContexts analyzed: a, b\n\n**Common Themes:**\n- x\n- y\n\n**Connections Found:**\n' +
        '- a ↔ c0: x, y, z\n- a ↔ c1: x, y, z\n- a ↔ c2: x, y, z\n- a ↔ c3: x, y, z\n- a ↔ c4: x, y, z\n',
    );
  });

  test('nothing in common: header only', () => {
    expect(formatSynthesis(['a'], { contexts: ['a'], common_themes: [], potential_connections: [] })).toBe(
      '🔮 **Cross-Domain Synthesis**\n\nContexts analyzed: a\n\n',
    );
  });
});

describe('formatThreads', () => {
  const thread = (i: number): ThreadInfo => ({
    thread_id: `t${i}`,
    path: `kos/sessions/threads/t${i}.md`,
    title: `Thread ${i}`,
    state: i === 0 ? 'active' : 'paused',
    current_action: i === 0 ? 'writing' : '',
    next_steps: [],
    context: null,
    last_updated: '2025-12-01T10:00:00.000Z',
    progress_notes: [],
  });

  test('totals then one block per thread (max 10)', () => {
    expect(formatThreads({ threads: [thread(0)], total_threads: 1, active_count: 1 })).toBe(
      '🧵 **Active KOS Threads**\n\nTotal: 1 | Active: 1\n\n**Thread 0**\n- ID: t0\n- State: active\n- Current: writing\n- Updated: 2025-12-01T10:00:00.000Z\n\n',
    );
    const many = Array.from({ length: 12 }, (_, i) => thread(i));
    const out = formatThreads({ threads: many, total_threads: 12, active_count: 1 });
    expect(out.startsWith('🧵 **Active KOS Threads**\n\nTotal: 12 | Active: 1\n\n')).toBe(true);
    expect(out).toContain('**Thread 9**\n- ID: t9\n- State: paused\n- Current: \n');
    expect(out).not.toContain('Thread 10');
  });
});

describe('formatMultitask', () => {
  test('counts, key findings from searches, contexts and reads, then errors', () => {
    const ctx: ContextData = {
      name: 'gaia',
      path: 'gaia/+gaia.md',
      summary: '',
      keywords: [],
      dependencies: [],
      files: ['gaia/+gaia.md', 'gaia/a.md'],
      total_files: 2,
    };
    const out = formatMultitask([
      {
        ok: true,
        result: { ...searchResult([hit('a.md', null, 'x'), hit('b.md', null, 'x')]), query: 'dragon' },
      },
      { ok: true, result: { ...searchResult([]), query: 'nothing' } },
      { ok: true, result: ctx },
      { ok: true, result: file({ path: 'n/a.md', content: 'héllo' }) },
      { ok: true, result: { path: '', name: 'kb', has_index: false, children: [] } },
      { ok: false, error: 'Context index not found for: nope' },
    ]);
    expect(out).toBe(
      '⚡ **Multi-Task KB Execution Complete**\n\n**Tasks Executed:** 6\n**Successful:** 5\n**Failed:** 1\n\n' +
        "**Key Findings:**\n- Found 2 matches for 'dragon'\n- Loaded context 'gaia' with 2 files\n- Read file 'n/a.md' (5 characters)\n" +
        '\n**Errors:**\n- Context index not found for: nope\n',
    );
  });

  test('no findings and no errors: counts only; findings cut at 10', () => {
    expect(formatMultitask([])).toBe(
      '⚡ **Multi-Task KB Execution Complete**\n\n**Tasks Executed:** 0\n**Successful:** 0\n**Failed:** 0\n\n',
    );
    const many = Array.from({ length: 12 }, (_, i) => ({
      ok: true as const,
      result: { ...searchResult([hit('a.md', null, 'x')]), query: `q${i}` },
    }));
    const out = formatMultitask(many);
    expect(out).toContain("- Found 1 matches for 'q9'\n");
    expect(out).not.toContain("'q10'");
  });
});

describe('helpers', () => {
  test('pyStr renders like Python str()', () => {
    expect(pyStr('plain')).toBe('plain');
    expect(pyStr(['a', 1, true, null])).toBe("['a', 1, True, None]");
    expect(pyStr({ k: 'v', n: [1.5] })).toBe("{'k': 'v', 'n': [1.5]}");
    expect(pyStr(['a\nb', 'x\\y'])).toBe("['a\\nb', 'x\\\\y']");
    expect(pyStr(1e-7)).toBe('1e-07');
    expect(pyStr(new Date('2025-01-02T00:00:00Z'))).toBe('2025-01-02');
  });

  test('firstChars counts code points', () => {
    expect(firstChars('🐉🐉🐉', 2)).toBe('🐉🐉');
    expect(firstChars('abc', 5)).toBe('abc');
  });
});
