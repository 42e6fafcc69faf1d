import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FileStore } from '../../services/kb/files/service.ts';
import { Knowledge, multitaskPlan } from '../../services/kb/knowledge/service.ts';
import type { NavNode } from '../../services/kb/types.ts';
import { HttpError } from '../../src/http/errors.ts';

let base: string;
let root: string;
let knowledge: Knowledge;
const all = () => true;

/** Writes a file with a modification time `age` minutes before a fixed instant (0 = newest). */
function put(rel: string, text: string, age = 0): void {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  const when = new Date(Date.UTC(2025, 11, 1, 10, 0, 0) - age * 60_000);
  utimesSync(abs, when, when);
}

async function httpError(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('expected an HttpError');
}

/** The tree as `path` strings, depth first, to compare shapes at a glance. */
function paths(node: NavNode): string[] {
  return [node.path, ...node.children.flatMap(paths)];
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'kb-knowledge-'));
  root = join(base, 'kb');
  knowledge = new Knowledge(new FileStore(root));
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('context', () => {
  test('N/+B.md: keywords, dependencies, summary and every .md below, newest first', async () => {
    put(
      'gaia/+gaia.md',
      '---\ntitle: Gaia\ntags: [platform]\n---\n# Gaia\nSee [[gaia/architecture]] #kos\n',
      5,
    );
    put('gaia/architecture.md', '# Arch', 1);
    put('gaia/deep/er/notes.md', 'n', 3);
    put('gaia/data.json', '{}', 0);
    put('other/x.md', 'x', 0);
    const ctx = await knowledge.context('gaia', all);
    expect(ctx).toEqual({
      name: 'gaia',
      path: 'gaia/+gaia.md',
      summary: '# Gaia\nSee [[gaia/architecture]] #kos',
      keywords: ['kos', 'platform'],
      dependencies: ['gaia/architecture'],
      files: ['gaia/architecture.md', 'gaia/deep/er/notes.md', 'gaia/+gaia.md'],
      total_files: 3,
    });
  });

  test('resolution order: N/+B.md, then N/+index.md, then <parent>/+B.md', async () => {
    put('teams/eng/+index.md', 'index');
    put('teams/+eng.md', 'parent');
    expect((await knowledge.context('teams/eng', all))?.path).toBe('teams/eng/+index.md');
    put('teams/eng/+eng.md', 'own');
    expect((await knowledge.context('teams/eng', all))?.path).toBe('teams/eng/+eng.md');
    rmSync(join(root, 'teams/eng'), { recursive: true });
    const fallback = await knowledge.context('teams/eng', all);
    expect(fallback?.path).toBe('teams/+eng.md');
    expect(fallback?.files).toEqual(['teams/+eng.md']);
  });

  test('summary is the first 500 characters of the body, ... when cut', async () => {
    put('long/+long.md', `---\ntitle: L\n---\n${'a'.repeat(499)}🙂bc`);
    expect((await knowledge.context('long', all))?.summary).toBe(`${'a'.repeat(499)}🙂...`);
    put('short/+short.md', `\n\n${'b'.repeat(500)}\n`);
    expect((await knowledge.context('short', all))?.summary).toBe('b'.repeat(500));
  });

  test('an index at the root gathers itself, its links and the folder of its name, not the whole KB', async () => {
    put('+lore.md', 'Lore index [[dragons]] [[shared:maps|Maps]] [[missing]] [[data.json]]', 3);
    put('dragons.md', 'd', 1);
    put('shared/maps.md', 'm', 2);
    put('data.json', '{}', 0);
    put('lore/sagas/one.md', 's', 0);
    put('lore/readme.txt', 't', 0);
    put('unrelated.md', 'u', 0);
    const ctx = await knowledge.context('lore', all);
    expect(ctx?.path).toBe('+lore.md');
    expect(ctx?.dependencies).toEqual(['dragons', 'shared:maps|Maps', 'missing', 'data.json']);
    expect(ctx?.files).toEqual(['lore/sagas/one.md', 'dragons.md', 'shared/maps.md', '+lore.md']);
    expect(ctx?.total_files).toBe(4);
  });

  test('unknown contexts, unreadable indexes and unreadable files', async () => {
    expect(await knowledge.context('nope', all)).toBeNull();
    put('users/u1/+u1.md', 'mine');
    put('users/u1/private/p.md', 'p');
    put('users/u1/pub.md', 'pub');
    const noPrivate = (p: string) => !p.startsWith('users/u1/private/');
    expect((await knowledge.context('users/u1', noPrivate))?.files.sort()).toEqual([
      'users/u1/+u1.md',
      'users/u1/pub.md',
    ]);
    expect(await knowledge.context('users/u1', (p) => p !== 'users/u1/+u1.md')).toBeNull();
  });

  test('bad names are the path rules 400; an index behind a link is absent', async () => {
    expect((await httpError(knowledge.context('../etc', all))).status).toBe(400);
    mkdirSync(join(base, 'elsewhere'));
    writeFileSync(join(base, 'elsewhere', '+ext.md'), 'outside');
    mkdirSync(root, { recursive: true });
    symlinkSync(join(base, 'elsewhere'), join(root, 'ext'));
    expect(await knowledge.context('ext', all)).toBeNull();
  });
});

describe('navigate', () => {
  beforeEach(() => {
    put('+index.md', 'root index #top');
    put('gaia/+gaia.md', '---\ntitle: Gaia\nsummary: The platform\n---\nbody #kos #platform');
    put('gaia/arch/+index.md', 'Arch body #kos #design');
    put('gaia/arch/deep/x.md', 'x');
    put('gaia/arch/deep/deeper/y.md', 'y');
    put('lore/dragons.md', 'no index here');
    put('.git/HEAD', 'ref');
  });

  test('depth counts levels including the start', async () => {
    const one = await knowledge.navigate('/', 1, all);
    expect(one && paths(one)).toEqual(['']);
    const two = await knowledge.navigate('/', 2, all);
    expect(two && paths(two)).toEqual(['', 'gaia', 'lore']);
    const three = await knowledge.navigate('', 3, all);
    expect(three && paths(three)).toEqual(['', 'gaia', 'gaia/arch', 'lore']);
    const all6 = await knowledge.navigate('/', 6, all);
    expect(all6 && paths(all6)).toEqual([
      '',
      'gaia',
      'gaia/arch',
      'gaia/arch/deep',
      'gaia/arch/deep/deeper',
      'lore',
    ]);
  });

  test('nodes carry their index: keywords, frontmatter, summary', async () => {
    const tree = await knowledge.navigate('gaia', 2, all);
    expect(tree).toEqual({
      path: 'gaia',
      name: 'gaia',
      has_index: true,
      keywords: ['kos', 'platform'],
      frontmatter: { title: 'Gaia', summary: 'The platform' },
      summary: 'The platform',
      children: [
        {
          path: 'gaia/arch',
          name: 'arch',
          has_index: true,
          keywords: ['kos', 'design'],
          frontmatter: {},
          summary: 'Arch body #kos #design',
          children: [],
        },
      ],
    });
    const lore = await knowledge.navigate('lore', 1, all);
    expect(lore).toEqual({ path: 'lore', name: 'lore', has_index: false, children: [] });
    const rootNode = await knowledge.navigate('/', 1, all);
    expect(rootNode?.name).toBe('/');
    expect(rootNode?.keywords).toEqual(['top']);
  });

  test('keyword filter keeps matching nodes and the way to them', async () => {
    const design = await knowledge.navigate('/', 6, all, ['Design']);
    expect(design && paths(design)).toEqual(['', 'gaia', 'gaia/arch']);
    const kos = await knowledge.navigate('/', 6, all, ['#kos', 'nothing']);
    expect(kos && paths(kos)).toEqual(['', 'gaia', 'gaia/arch']);
    const none = await knowledge.navigate('/', 6, all, ['absent']);
    expect(none && paths(none)).toEqual(['']);
  });

  test('unreadable directories appear only on the way to something readable', async () => {
    put('users/a/notes/+notes.md', 'a #mine');
    put('users/b/x.md', 'b');
    const canRead = (p: string) => p === '' || !p.startsWith('users') || p.startsWith('users/a');
    const tree = await knowledge.navigate('/', 4, canRead);
    expect(tree && paths(tree)).toEqual([
      '',
      'gaia',
      'gaia/arch',
      'gaia/arch/deep',
      'lore',
      'users',
      'users/a',
      'users/a/notes',
    ]);
    const users = tree?.children.find((c) => c.name === 'users');
    expect(users?.has_index).toBe(false);
  });

  test('missing start is null; a file is a 400; links are not followed', async () => {
    expect(await knowledge.navigate('missing', 3, all)).toBeNull();
    expect((await httpError(knowledge.navigate('lore/dragons.md', 3, all))).status).toBe(400);
    symlinkSync(root, join(root, 'loop'));
    expect(await knowledge.navigate('loop', 3, all)).toBeNull();
    const tree = await knowledge.navigate('/', 2, all);
    expect(tree && paths(tree)).toEqual(['', 'gaia', 'lore']);
  });
});

describe('synthesize', () => {
  beforeEach(() => {
    put('a/+a.md', '#dragon #fire #ice');
    put('b/+b.md', '#Dragon #fire #sea');
    put('c/+c.md', '#sea #sky');
    put('d/+d.md', '#nothing');
    put('notes/one.md', '---\ntags: [sky, dragon]\n---\nbody');
  });

  test('common themes and connections ranked by Jaccard strength', async () => {
    const s = await knowledge.synthesize(['a', 'b', 'c', 'd'], all);
    expect(s.contexts).toEqual(['a', 'b', 'c', 'd']);
    expect(s.common_themes).toEqual(['dragon', 'fire', 'sea']);
    expect(s.potential_connections).toEqual([
      { context1: 'a', context2: 'b', shared_keywords: ['dragon', 'fire'], connection_strength: 2 / 4 },
      { context1: 'b', context2: 'c', shared_keywords: ['sea'], connection_strength: 1 / 4 },
    ]);
  });

  test('max cuts connections; a plain file counts as a one-file context', async () => {
    const s = await knowledge.synthesize(['a', 'b', 'c', 'notes/one.md'], all, undefined, 2);
    expect(s.contexts).toEqual(['a', 'b', 'c', 'notes/one.md']);
    expect(s.potential_connections).toHaveLength(2);
    expect(s.potential_connections[0]).toMatchObject({
      context1: 'a',
      context2: 'b',
      connection_strength: 0.5,
    });
    // c {sea, sky} and the file {sky, dragon}; a {dragon, fire, ice} and the file {sky, dragon} tie at 1/4
    // with b–c, so the cut keeps the strongest two.
    expect(s.potential_connections[1]).toMatchObject({ context1: 'c', context2: 'notes/one.md' });
    expect(s.potential_connections[1]!.connection_strength).toBeCloseTo(1 / 3);
    // Shared by more contexts first, then in order of first appearance.
    expect(s.common_themes).toEqual(['dragon', 'fire', 'sea', 'sky']);
  });

  test('focus moves its themes and connections first', async () => {
    const s = await knowledge.synthesize(['a', 'b', 'c'], all, 'the sea');
    expect(s.common_themes[0]).toBe('sea');
    expect(s.potential_connections[0]).toMatchObject({ context1: 'b', context2: 'c' });
  });

  test('the first name that does not resolve is a 404', async () => {
    const err = await httpError(knowledge.synthesize(['a', 'nope', 'gone'], all));
    expect(err.status).toBe(404);
    expect(err.detail).toBe('Context index not found for: nope');
    const hidden = await httpError(knowledge.synthesize(['a', 'b'], (p) => !p.startsWith('b/')));
    expect(hidden.detail).toBe('Context index not found for: b');
  });
});

describe('threads', () => {
  test('shared and personal threads, newest first, with frontmatter defaults', async () => {
    put(
      'kos/sessions/threads/alpha.md',
      '---\ntitle: Alpha work\nstate: active\ncurrent_action: Writing\nnext_steps: [review, ship]\ncontext: {project: gaia}\n---\n\nDid a thing\n\n  Then another  \n',
      10,
    );
    put('kos/sessions/threads/beta.md', 'just notes', 1);
    put('kos/sessions/threads/nested/gamma.md', '---\nstate: active\n---\n', 0);
    put('kos/sessions/threads/readme.txt', 'not a thread', 0);
    put('users/u1/kos/sessions/threads/mine.md', '---\nstate: paused\nnext_steps: one step\n---\n', 5);
    put('users/u2/kos/sessions/threads/theirs.md', '---\nstate: active\n---\n', 0);

    const t = await knowledge.threads('u1', all);
    expect(t.total_threads).toBe(3);
    expect(t.active_count).toBe(1);
    expect(t.threads.map((x) => x.path)).toEqual([
      'kos/sessions/threads/beta.md',
      'users/u1/kos/sessions/threads/mine.md',
      'kos/sessions/threads/alpha.md',
    ]);
    expect(t.threads[2]).toEqual({
      thread_id: 'alpha',
      path: 'kos/sessions/threads/alpha.md',
      title: 'Alpha work',
      state: 'active',
      current_action: 'Writing',
      next_steps: ['review', 'ship'],
      context: { project: 'gaia' },
      last_updated: '2025-12-01T09:50:00.000Z',
      progress_notes: ['Did a thing', '  Then another'],
    });
    expect(t.threads[0]).toMatchObject({
      thread_id: 'beta',
      title: 'beta',
      state: 'unknown',
      current_action: '',
      next_steps: [],
      context: null,
      progress_notes: ['just notes'],
    });
    expect(t.threads[1]?.next_steps).toEqual(['one step']);
  });

  test('unreadable threads are left out; no folders means no threads', async () => {
    expect(await knowledge.threads('u1', all)).toEqual({ threads: [], total_threads: 0, active_count: 0 });
    put('kos/sessions/threads/secret.md', '---\nstate: active\n---\n');
    const t = await knowledge.threads('u1', (p) => !p.endsWith('secret.md'));
    expect(t.total_threads).toBe(0);
    expect((await knowledge.threads('../x', all)).total_threads).toBe(1);
  });
});

describe('multitask', () => {
  test('searches after the last "search for ", split on and, at most three', () => {
    expect(multitaskPlan('Please search for dragons and castles', [])).toEqual([
      { type: 'search', query: 'dragons', limit: 10 },
      { type: 'search', query: 'castles', limit: 10 },
    ]);
    expect(multitaskPlan('search for x then Search for a and b and c and d', [])).toEqual([
      { type: 'search', query: 'a', limit: 10 },
      { type: 'search', query: 'b', limit: 10 },
      { type: 'search', query: 'c', limit: 10 },
    ]);
    // "search" without "search for " searches the text itself.
    expect(multitaskPlan('research lore', [])).toEqual([
      { type: 'search', query: 'research lore', limit: 10 },
    ]);
  });

  test('root contexts named as words add context loads', () => {
    expect(
      multitaskPlan('Tell me about Gaia and the mmoirl-design, not gaiaverse', ['gaia', 'mmoirl', 'lore']),
    ).toEqual([{ type: 'context', name: 'gaia' }]);
    expect(multitaskPlan('search for lore and gaia', ['gaia', 'lore'])).toEqual([
      { type: 'search', query: 'lore', limit: 10 },
      { type: 'search', query: 'gaia', limit: 10 },
      { type: 'context', name: 'gaia' },
      { type: 'context', name: 'lore' },
    ]);
  });

  test('with nothing found: a search of the whole text and a look at the tree', () => {
    expect(multitaskPlan('  what is new?  ', ['gaia'])).toEqual([
      { type: 'search', query: 'what is new?', limit: 5 },
      { type: 'navigate', path: '/', depth: 2 },
    ]);
    expect(new Knowledge(new FileStore(root)).multitaskPlan('', [])).toEqual([
      { type: 'navigate', path: '/', depth: 2 },
    ]);
  });

  test('rootContexts lists loadable top-level contexts', async () => {
    put('+lore.md', 'x');
    put('+index.md', 'x');
    put('gaia/+gaia.md', 'x');
    put('kos/+index.md', 'x');
    put('plain/x.md', 'x');
    put('users/u/+users.md', 'x');
    expect(await knowledge.rootContexts(all)).toEqual(['gaia', 'kos', 'lore']);
    expect(await knowledge.rootContexts((p) => !p.startsWith('kos'))).toEqual(['gaia', 'lore']);
  });
});
