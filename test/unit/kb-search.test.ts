import { describe, expect, test } from 'bun:test';
import { SearchIndex } from '../../services/kb/search/service.ts';
import { fold, queryTerms, TermTable, termsOf } from '../../services/kb/search/terms.ts';
import type { ParsedDoc, SearchQuery, SearchResult } from '../../services/kb/types.ts';

/**
 * A small stand-in for the KB's document parser: frontmatter `title:` and `tags: [..]` lines, `# ` title,
 * hashtags. Enough to hand the index the same shape the service gives it.
 */
function parse(path: string, text: string): ParsedDoc {
  let content = text;
  const frontmatter: Record<string, unknown> = {};
  const fm = /^---\n([\s\S]*?)\n---\n/.exec(text);
  if (fm) {
    content = text.slice(fm[0].length);
    for (const line of fm[1]!.split('\n')) {
      const m = /^(\w+):\s*(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2]!;
      frontmatter[m[1]!] = v.startsWith('[')
        ? v
            .slice(1, -1)
            .split(',')
            .map((s) => s.trim())
        : v;
    }
  }
  const heading = /^# (.+)$/m.exec(content)?.[1];
  const name = path.slice(path.lastIndexOf('/') + 1).replace(/\.[^.]+$/, '');
  const title = typeof frontmatter.title === 'string' ? frontmatter.title : (heading ?? name);
  const tags = [...content.matchAll(/(?:^|[\s(])#([A-Za-z0-9_-]+)/g)].map((m) => m[1]!);
  if (Array.isArray(frontmatter.tags)) tags.push(...(frontmatter.tags as string[]));
  return {
    frontmatter,
    content,
    title,
    keywords: [...new Set(tags)],
    wikiLinks: [],
    isIndex: name.startsWith('+'),
  };
}

const T0 = new Date('2025-12-01T10:00:00.000Z');

function indexOf(files: Record<string, string>, opts?: { storeText?: boolean }): SearchIndex {
  const idx = new SearchIndex(opts);
  for (const [path, text] of Object.entries(files)) idx.upsert(path, text, parse(path, text), T0);
  return idx;
}

function query(q: string, over: Partial<SearchQuery> = {}): SearchQuery {
  return { q, match: 'auto', limit: 20, offset: 0, includeContent: false, ...over };
}

const all = () => true;

function paths(r: SearchResult): string[] {
  return r.results.map((h) => h.path);
}

/** Filler that shares no words with the queries below, to give files a similar length. */
function filler(n: number): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
  return Array.from({ length: n }, (_, i) => words[i % words.length]).join(' ');
}

describe('SearchIndex ranking', () => {
  test('a title hit outranks a single body mention in a file of similar length', () => {
    const idx = indexOf({
      'a/body.md': `# Notes\n\n${filler(40)} dragon ${filler(10)}\n`,
      'b/title.md': `# Dragon\n\n${filler(41)} ${filler(10)}\n`,
    });
    const r = idx.search(query('dragon'), all);
    expect(paths(r)).toEqual(['b/title.md', 'a/body.md']);
    expect(r.results[0]!.score).toBeGreaterThan(r.results[1]!.score);
  });

  test('a file name hit counts like a title hit', () => {
    const idx = indexOf({
      'a/notes.md': `---\ntitle: Notes\n---\n${filler(40)} wyvern\n`,
      'z/wyvern.md': `---\ntitle: Other\n---\n${filler(41)}\n`,
    });
    expect(paths(idx.search(query('wyvern'), all))).toEqual(['z/wyvern.md', 'a/notes.md']);
  });

  test('more occurrences outrank fewer', () => {
    const idx = indexOf({
      'one.md': `${filler(30)} lair ${filler(30)}`,
      'three.md': `${filler(28)} lair lair lair ${filler(30)}`,
      'two.md': `${filler(29)} lair lair ${filler(30)}`,
    });
    expect(paths(idx.search(query('lair'), all))).toEqual(['three.md', 'two.md', 'one.md']);
  });

  test('a keyword outranks a plain body mention, and less than a title', () => {
    const idx = indexOf({
      'body.md': `${filler(30)} goblin ${filler(30)}`,
      'kw.md': `---\ntags: [goblin]\n---\n${filler(31)} ${filler(30)}`,
      'title.md': `---\ntitle: Goblin\n---\n${filler(31)} ${filler(30)}`,
    });
    expect(paths(idx.search(query('goblin'), all))).toEqual(['title.md', 'kw.md', 'body.md']);
  });

  test('a hashtag in the body counts as a keyword on top of its mention', () => {
    const idx = indexOf({
      'a.md': `${filler(30)} tavern ${filler(30)}`,
      'b.md': `${filler(30)} #tavern ${filler(30)}`,
    });
    const r = idx.search(query('#tavern'), all);
    expect(paths(r)).toEqual(['b.md', 'a.md']);
    expect(r.results[0]!.keywords).toEqual(['tavern']);
  });

  test('equal scores are ordered by path', () => {
    const text = `${filler(10)} orc ${filler(10)}`;
    const idx = indexOf({ 'c.md': text, 'a.md': text, 'b/x.md': text });
    const r = idx.search(query('orc'), all);
    expect(paths(r)).toEqual(['a.md', 'b/x.md', 'c.md']);
    expect(new Set(r.results.map((h) => h.score)).size).toBe(1);
  });

  test('a verbatim occurrence of the query adds half the score', () => {
    const idx = indexOf({
      'apart.md': `the dragon sleeps\nnear the lair ${filler(5)}`,
      'verbatim.md': `the dragon lair sleeps\nthe ${filler(5)} near`,
    });
    const r = idx.search(query('dragon lair'), all);
    expect(paths(r)).toEqual(['verbatim.md', 'apart.md']);
    expect(r.results[0]!.score / r.results[1]!.score).toBeCloseTo(1.5, 3);
  });

  test('the verbatim boost reaches a page even when its unboosted score is lower', () => {
    const files: Record<string, string> = {};
    // Twenty files mention both words apart, slightly more often; one has them as a phrase once.
    for (let i = 0; i < 20; i++)
      files[`apart/${String(i).padStart(2, '0')}.md`] = `red ${filler(6)} ruby\nred`;
    files['z/phrase.md'] = `red ruby ${filler(6)}`;
    const idx = indexOf(files);
    const r = idx.search(query('red ruby', { limit: 1 }), all);
    expect(r.total).toBe(21);
    expect(paths(r)).toEqual(['z/phrase.md']);
    const full = idx.search(query('red ruby', { limit: 30 }), all);
    expect(full.results[0]!.path).toBe('z/phrase.md');
    expect(paths(full).slice(1)).toEqual(Object.keys(files).filter((p) => p.startsWith('apart/')));
  });
});

describe('SearchIndex match modes', () => {
  const files = {
    'lore/dragons.md': '# Dragons\n\nSome intro.\nThe dragon lair lies beneath the northern ridge.\n',
    'lore/caves.md': '# Caves\n\nA lair without anything in it.\n',
    'lore/sky.md': '# Sky\n\nA dragon flies over the lair, far away.\n',
  };

  test('all requires every term; any takes one', () => {
    const idx = indexOf(files);
    const allR = idx.search(query('dragon lair', { match: 'all' }), all);
    expect(allR.match).toBe('all');
    expect(paths(allR).sort()).toEqual(['lore/dragons.md', 'lore/sky.md']);
    const anyR = idx.search(query('dragon lair', { match: 'any' }), all);
    expect(anyR.total).toBe(3);
    expect(anyR.results.find((h) => h.path === 'lore/caves.md')!.matched_terms).toEqual(['lair']);
  });

  test('phrase needs the words verbatim on one line, ignoring case', () => {
    const idx = indexOf({
      ...files,
      'lore/split.md': 'the dragon\nlair is here\n',
      'lore/mega.md': 'the megadragon lairs are here\n',
      'lore/caps.md': 'THE DRAGON LAIR!\n',
    });
    const r = idx.search(query('Dragon Lair', { match: 'phrase' }), all);
    expect(r.match).toBe('phrase');
    expect(paths(r).sort()).toEqual(['lore/caps.md', 'lore/dragons.md']);
    expect(r.total).toBe(2);
    expect(r.results.find((h) => h.path === 'lore/caps.md')!.excerpt).toBe('THE DRAGON LAIR!');
  });

  test('a phrase must be in the body: a title or keyword alone does not count', () => {
    const idx = indexOf({
      'basilisk.md': '---\ntags: [lair]\n---\nno mention here\n',
      'body.md': 'a basilisk lair in the text\n',
    });
    expect(paths(idx.search(query('basilisk', { match: 'phrase' }), all))).toEqual(['body.md']);
    expect(paths(idx.search(query('basilisk lair', { match: 'phrase' }), all))).toEqual(['body.md']);
    expect(idx.search(query('basilisk', { match: 'all' }), all).total).toBe(2);
  });

  test('phrase keeps the punctuation between words', () => {
    const idx = indexOf({ 'a.md': 'call foo-bar now\n', 'b.md': 'call foo bar now\n' });
    expect(paths(idx.search(query('foo-bar', { match: 'phrase' }), all))).toEqual(['a.md']);
    expect(paths(idx.search(query('foo-bar', { match: 'all' }), all))).toEqual(['a.md', 'b.md']);
  });

  test('auto runs all and says so when it finds something', () => {
    const idx = indexOf(files);
    const r = idx.search(query('dragon lair'), all);
    expect(r.match).toBe('all');
    expect(r.total).toBe(2);
  });

  test('auto falls back to any when all finds nothing, and reports it', () => {
    const idx = indexOf(files);
    const r = idx.search(query('dragon unicorn'), all);
    expect(r.match).toBe('any');
    expect(paths(r).sort()).toEqual(['lore/dragons.md', 'lore/sky.md']);
    expect(r.results[0]!.matched_terms).toEqual(['dragon']);
  });

  test('auto falls back when the only files with every term are unreadable', () => {
    const idx = indexOf({ 'secret/both.md': 'dragon lair', 'open/one.md': 'dragon' });
    const r = idx.search(query('dragon lair'), (p) => !p.startsWith('secret/'));
    expect(r.match).toBe('any');
    expect(paths(r)).toEqual(['open/one.md']);
  });

  test('regex-looking queries are literal terms', () => {
    const idx = indexOf({
      'a.md': 'an (unclosed[regex here',
      'b.md': 'nothing .* to see',
      'c.md': 'unclosed only',
    });
    const r = idx.search(query('(unclosed[regex'), all);
    expect(r.match).toBe('all');
    expect(paths(r)).toEqual(['a.md']);
    expect(r.results[0]!.matched_terms).toEqual(['unclosed', 'regex']);
    expect(idx.search(query('.*'), all).total).toBe(0);
    expect(paths(idx.search(query('(unclosed[regex', { match: 'phrase' }), all))).toEqual(['a.md']);
  });

  test('unvalidated input does not break it: no terms, too many terms, no mode, empty contexts', () => {
    const idx = indexOf(files);
    expect(idx.search(query('!!! ...'), all)).toMatchObject({ total: 0, results: [] });
    expect(idx.search(query('   '), all).total).toBe(0);
    const many = `${Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')} dragon`;
    expect(idx.search(query(many, { match: 'any' }), all).total).toBe(0);
    expect(idx.search(query(`dragon ${many}`, { match: 'any' }), all).total).toBe(2);
    const noMode = {
      q: 'dragon unicorn',
      limit: 20,
      offset: 0,
      includeContent: false,
    } as unknown as SearchQuery;
    expect(idx.search(noMode, all).match).toBe('any');
    expect(idx.search(query('lair', { contexts: [] }), all).total).toBe(3);
    expect(idx.search(query('lair', { limit: 0 }), all)).toMatchObject({ total: 3, results: [] });
    // A failing access check leaves nothing behind for the next search.
    const before = idx.search(query('dragon lair', { match: 'any' }), all);
    const boom = () => {
      throw new Error('access store down');
    };
    expect(() => idx.search(query('dragon lair', { match: 'any' }), boom)).toThrow('access store down');
    expect(idx.search(query('dragon lair', { match: 'any' }), all)).toMatchObject({
      total: before.total,
      results: before.results.map((h) => ({ path: h.path, score: h.score })),
    });
  });

  test('a term is a whole word, not a substring', () => {
    const idx = indexOf({ 'a.md': 'dragons everywhere', 'b.md': 'one dragon' });
    expect(paths(idx.search(query('dragon'), all))).toEqual(['b.md']);
  });
});

describe('SearchIndex filters and pages', () => {
  const files: Record<string, string> = {
    'notes/a.md': 'wolf',
    'notes/sub/b.md': 'wolf wolf',
    'notes-old/c.md': 'wolf',
    'users/u1/d.md': 'wolf',
    'users/u2/e.md': 'wolf',
    'root.md': 'wolf',
  };

  test('contexts restrict to folder prefixes, by whole segments', () => {
    const idx = indexOf(files);
    expect(paths(idx.search(query('wolf', { contexts: ['notes'] }), all)).sort()).toEqual([
      'notes/a.md',
      'notes/sub/b.md',
    ]);
    expect(paths(idx.search(query('wolf', { contexts: ['users/u1', 'notes/sub'] }), all)).sort()).toEqual([
      'notes/sub/b.md',
      'users/u1/d.md',
    ]);
    expect(idx.search(query('wolf', { contexts: ['nope'] }), all).total).toBe(0);
    expect(idx.search(query('wolf', { contexts: [''] }), all).total).toBe(6);
  });

  test('canRead hides files from results and from total', () => {
    const idx = indexOf(files);
    const r = idx.search(query('wolf'), (p) => !p.startsWith('users/u2/'));
    expect(r.total).toBe(5);
    expect(paths(r)).not.toContain('users/u2/e.md');
  });

  test('pagination walks the full ordering without gaps or repeats', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 25; i++)
      many[`p/${String(i).padStart(2, '0')}.md`] = `${'bear '.repeat(1 + (i % 5))}x`;
    const idx = indexOf(many);
    const whole = paths(idx.search(query('bear', { limit: 100 }), all));
    expect(whole.length).toBe(25);
    const pages: string[] = [];
    for (let off = 0; off < 25; off += 7) {
      const r = idx.search(query('bear', { limit: 7, offset: off }), all);
      expect(r.total).toBe(25);
      expect(r.limit).toBe(7);
      expect(r.offset).toBe(off);
      pages.push(...paths(r));
    }
    expect(pages).toEqual(whole);
    expect(idx.search(query('bear', { offset: 40 }), all).results).toEqual([]);
  });

  test('hits carry namespace, context, title, keywords, modified and optional content', () => {
    const idx = indexOf({
      'users/u1/notes/x.md': '---\ntitle: X File\ntags: [t1, t2]\n---\nhello world\n',
      'top.md': 'hello',
      'lore/dragons.md': '# Dragons\nhello',
    });
    const r = idx.search(query('hello', { includeContent: true }), all);
    const byPath = Object.fromEntries(r.results.map((h) => [h.path, h]));
    expect(byPath['users/u1/notes/x.md']).toMatchObject({
      namespace: 'users/u1',
      context: 'users/u1',
      title: 'X File',
      keywords: ['t1', 't2'],
      modified: '2025-12-01T10:00:00.000Z',
      content: 'hello world\n',
      matched_terms: ['hello'],
    });
    expect(byPath['top.md']).toMatchObject({ namespace: 'root', context: null, title: 'top' });
    expect(byPath['lore/dragons.md']).toMatchObject({ namespace: 'root', context: 'lore', title: 'Dragons' });
    expect(idx.search(query('hello'), all).results[0]!.content).toBeUndefined();
    expect(r.took_ms).toBeGreaterThanOrEqual(0);
  });
});

describe('SearchIndex excerpts', () => {
  test('the line with most hits, 1-based in the file including frontmatter', () => {
    const text =
      '---\ntitle: T\n---\n# T\nnothing\ndragon once\nthe dragon lair and dragon again\nlair dragon lair\n';
    const idx = indexOf({ 'a.md': text });
    const h = idx.search(query('dragon lair'), all).results[0]!;
    expect(h.line_number).toBe(7);
    expect(text.split('\n')[6]).toBe(h.excerpt);
    expect(h.excerpt).toBe('the dragon lair and dragon again');
  });

  test('a long line is cut to 200 characters around the first hit', () => {
    const line = `${'x'.repeat(500)} needle ${'y'.repeat(500)}`;
    const idx = indexOf({ 'a.md': `intro\n${line}\n` });
    const h = idx.search(query('needle'), all).results[0]!;
    expect(h.line_number).toBe(2);
    expect(h.excerpt.length).toBeLessThanOrEqual(200);
    expect(h.excerpt).toContain('needle');
    expect(line).toContain(h.excerpt);
  });

  test('a title-only match shows the first non-empty line', () => {
    const idx = indexOf({ 'gryphon.md': '\n\nfirst words here\nsecond\n' });
    const h = idx.search(query('gryphon'), all).results[0]!;
    expect(h).toMatchObject({ line_number: 3, excerpt: 'first words here' });
  });

  test('Windows line endings do not leak into excerpts', () => {
    const idx = indexOf({ 'a.md': 'one\r\nthe kraken\r\n' });
    expect(idx.search(query('kraken'), all).results[0]).toMatchObject({
      line_number: 2,
      excerpt: 'the kraken',
    });
  });
});

describe('SearchIndex unicode', () => {
  test('terms are letters and digits in any script, case-folded', () => {
    const idx = indexOf({
      'de.md': 'Die Größe des Drachen: 42 Meter.',
      'jp.md': '東京 タワー は高い',
      'ru.md': 'Дракон спит',
      'fr.md': 'Un café noir',
    });
    expect(paths(idx.search(query('GRÖSSE größe'), all))).toEqual(['de.md']);
    expect(idx.search(query('größe'), all).results[0]!.excerpt).toBe('Die Größe des Drachen: 42 Meter.');
    expect(paths(idx.search(query('42'), all))).toEqual(['de.md']);
    expect(paths(idx.search(query('東京'), all))).toEqual(['jp.md']);
    expect(paths(idx.search(query('дракон'), all))).toEqual(['ru.md']);
    // A decomposed é in the query finds the composed one in the file.
    expect(paths(idx.search(query('cafe\u0301'), all))).toEqual(['fr.md']);
    expect(idx.search(query('cafe'), all).total).toBe(0);
  });
});

describe('SearchIndex maintenance', () => {
  test('upsert replaces, remove forgets, only .md files and no hidden paths', () => {
    const idx = indexOf({
      'a.md': 'old words',
      'b.txt': 'old words',
      '.obsidian/c.md': 'old',
      'x/.h/d.md': 'old',
    });
    expect(idx.size).toBe(1);
    expect(idx.paths()).toEqual(['a.md']);
    expect(idx.has('b.txt')).toBe(false);
    idx.upsert('a.md', 'new text', parse('a.md', 'new text'), T0);
    expect(idx.size).toBe(1);
    expect(idx.search(query('old'), all).total).toBe(0);
    expect(idx.search(query('new'), all).total).toBe(1);
    idx.upsert('a.remote-abc1234.md', 'old again', parse('a.remote-abc1234.md', 'old again'), T0);
    expect(paths(idx.search(query('old'), all))).toEqual(['a.remote-abc1234.md']);
    idx.remove('a.md');
    idx.remove('missing.md');
    expect(idx.has('a.md')).toBe(false);
    expect(idx.search(query('new'), all).total).toBe(0);
    idx.clear();
    expect(idx.size).toBe(0);
    expect(idx.search(query('old'), all).total).toBe(0);
  });

  test.each([true, false])(
    'many upserts and removals leave the same answers as a fresh build (storeText %p)',
    (storeText) => {
      const words = ['ash', 'birch', 'cedar', 'elm', 'fir', 'oak', 'pine', 'yew'];
      const text = (i: number, round: number) =>
        Array.from({ length: 20 }, (_, j) => words[(i * 7 + j * (round + 3)) % words.length]).join(' ');
      const live = new SearchIndex({ storeText });
      const final: Record<string, string> = {};
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 60; i++) {
          const path = `d${i % 6}/f${i}.md`;
          if ((i + round) % 5 === 0) {
            live.remove(path);
            delete final[path];
          } else {
            const t = text(i, round);
            live.upsert(path, t, parse(path, t), T0);
            final[path] = t;
          }
        }
      }
      const fresh = indexOf(final);
      expect(live.size).toBe(fresh.size);
      // Nothing of removed versions lingers: same dictionary, same postings.
      const { postingBytes: _, ...liveStats } = live.stats();
      const { postingBytes: __, ...freshStats } = fresh.stats();
      expect(liveStats).toEqual({ ...freshStats, textChars: storeText ? freshStats.textChars : 0 });
      const content = (p: string) => final[p]!;
      for (const q of ['oak', 'ash elm', 'pine yew cedar', 'fir birch']) {
        for (const match of ['all', 'any', 'phrase'] as const) {
          const a = live.search(query(q, { match, limit: 100 }), all, content);
          const b = fresh.search(query(q, { match, limit: 100 }), all);
          expect(a.total).toBe(b.total);
          expect(a.results.map((h) => [h.path, h.score, h.line_number])).toEqual(
            b.results.map((h) => [h.path, h.score, h.line_number]),
          );
        }
      }
    },
  );

  test('without stored text, bodies come from getContent', () => {
    const files = { 'a.md': '---\ntitle: A\n---\nline one\nthe basilisk stares\n' };
    const idx = indexOf(files, { storeText: false });
    const r = idx.search(query('basilisk stares', { includeContent: true }), all, (p) => files[p as 'a.md']);
    expect(r.results[0]).toMatchObject({
      line_number: 5,
      excerpt: 'the basilisk stares',
      content: 'line one\nthe basilisk stares\n',
    });
    expect(
      idx.search(query('basilisk stares', { match: 'phrase' }), all, (p) => files[p as 'a.md']).total,
    ).toBe(1);
  });
});

describe('TermTable', () => {
  test('scan cuts the same words as the query tokenizer, on mixed scripts and odd characters', () => {
    const alphabet = [
      'a',
      'Z',
      '7',
      ' ',
      '-',
      '#',
      'é',
      'e\u0301',
      'ß',
      'İ',
      '東',
      'я',
      '😀',
      '𝒜',
      '\ud800',
      '\t',
      '_',
      '٣',
    ];
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const table = new TermTable();
    for (let n = 0; n < 300; n++) {
      let s = '';
      for (let i = 0; i < 1 + Math.floor(rand() * 30); i++)
        s += alphabet[Math.floor(rand() * alphabet.length)];
      const folded = fold(s);
      const ids: number[] = [];
      table.scan(folded, (id) => ids.push(id));
      expect(ids.map((id) => table.name(id))).toEqual(termsOf(folded));
      for (const t of queryTerms(s)) expect(table.find(t)).toBeGreaterThanOrEqual(0);
    }
  });

  test('ids survive heavy deletion and reuse (probe chains stay intact)', () => {
    const table = new TermTable();
    const live = new Map<string, number>();
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3000; i++) {
        const w = `w${(i * 7919 + round * 31) % 5000}`;
        table.scan(w, (id) => live.set(w, id));
      }
      let k = 0;
      for (const [w, id] of [...live]) {
        if (k++ % 3 === round % 3) {
          table.delete(id);
          live.delete(w);
        }
      }
      for (const [w, id] of live) expect(table.find(w)).toBe(id);
      expect(table.size).toBe(live.size);
    }
    expect(table.find('never-added')).toBe(-1);
  });
});
