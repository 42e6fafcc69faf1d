import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FileStore } from '../../services/kb/files/service.ts';
import { checkPath } from '../../services/kb/paths/service.ts';
import { HttpError } from '../../src/http/errors.ts';

let base: string;
let root: string;
let outside: string;
let store: FileStore;

function put(rel: string, text: string): void {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
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

async function collect(it: AsyncIterable<{ path: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.path);
  return out;
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'kb-files-'));
  root = join(base, 'kb');
  outside = join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.md'), 'top secret');
  store = new FileStore(root);
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('basics', () => {
  test('the root is created when missing', () => {
    expect(existsSync(root)).toBe(true);
    const deeper = join(base, 'a', 'b');
    new FileStore(deeper);
    expect(existsSync(deeper)).toBe(true);
  });

  test('stat, readText, readBytes', async () => {
    put('notes/a.md', 'héllo');
    expect(await store.stat('notes/a.md')).toMatchObject({ kind: 'file', size: 6 });
    expect(await store.stat('notes')).toMatchObject({ kind: 'dir' });
    expect(await store.stat('')).toMatchObject({ kind: 'dir' });
    expect(await store.stat('notes/missing.md')).toBeNull();
    expect(await store.stat('notes/a.md/below.md')).toBeNull();

    const read = await store.readText('notes/a.md');
    expect(read?.text).toBe('héllo');
    expect(read?.size).toBe(6);
    expect(read?.modified).toBeInstanceOf(Date);
    expect(await store.readText('nope.md')).toBeNull();
    expect((await store.readBytes('notes/a.md'))?.bytes).toEqual(new TextEncoder().encode('héllo'));
    const dirRead = await httpError(store.readText('notes'));
    expect(dirRead.status).toBe(400);
    expect(dirRead.detail).toBe('Path is not a file: notes');
  });

  test('a file over the size limit is a 413 to read and to write', async () => {
    const small = new FileStore(root, { maxFileBytes: 10 });
    put('big.md', 'x'.repeat(11));
    put('ok.md', 'x'.repeat(10));
    expect((await httpError(small.readText('big.md'))).status).toBe(413);
    expect((await small.readText('ok.md'))?.size).toBe(10);
    expect((await httpError(small.write('new.md', 'é'.repeat(6)))).status).toBe(413);
    expect(existsSync(join(root, 'new.md'))).toBe(false);
  });
});

describe('write', () => {
  test('creates parents, reports create then update, leaves no temporary files', async () => {
    const first = await store.write('a/b/c.md', 'one');
    expect(first.created).toBe(true);
    expect(first.size).toBe(3);
    const second = await store.write('a/b/c.md', 'two!');
    expect(second.created).toBe(false);
    expect(readFileSync(join(root, 'a/b/c.md'), 'utf8')).toBe('two!');
    expect(readdirSync(join(root, 'a/b'))).toEqual(['c.md']);
  });

  test('a directory in the way, or a file where a directory should be, is a 409', async () => {
    put('notes/a.md', 'x');
    expect((await httpError(store.write('notes', 'x'))).status).toBe(409);
    const blocked = await httpError(store.write('notes/a.md/b.md', 'x'));
    expect(blocked.status).toBe(409);
    expect(blocked.detail).toContain('notes/a.md');
  });

  test('concurrent writes of one file each land whole', async () => {
    const texts = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(texts.map((t) => store.write('race.md', t)));
    expect(texts).toContain(readFileSync(join(root, 'race.md'), 'utf8'));
    expect(readdirSync(root)).toEqual(['race.md']);
  });
});

describe('symbolic links (cloned repositories may contain any)', () => {
  test('a link file to a host file: not readable, not listed, not walked, not writable', async () => {
    put('notes/real.md', 'real');
    symlinkSync('/etc/passwd', join(root, 'notes/link.md'));
    expect(await store.stat('notes/link.md')).toBeNull();
    expect(await store.readText('notes/link.md')).toBeNull();
    expect((await store.list('notes'))?.files.map((f) => f.name)).toEqual(['real.md']);
    expect(await collect(store.walk())).toEqual(['notes/real.md']);
    const err = await httpError(store.write('notes/link.md', 'overwrite'));
    expect(err.status).toBe(400);
    expect(err.detail).toBe('Invalid path: symbolic link');
    expect((await httpError(store.remove('notes/link.md'))).status).toBe(400);
  });

  test('a link inside the tree pointing inside the tree is refused too', async () => {
    put('notes/real.md', 'real');
    symlinkSync(join(root, 'notes/real.md'), join(root, 'notes/alias.md'));
    expect(await store.readText('notes/alias.md')).toBeNull();
    expect((await httpError(store.write('notes/alias.md', 'x'))).status).toBe(400);
    expect(readFileSync(join(root, 'notes/real.md'), 'utf8')).toBe('real');
  });

  test('a linked directory: nothing below it is readable or writable', async () => {
    mkdirSync(join(root, 'notes'));
    symlinkSync('/', join(root, 'notes/ext'));
    symlinkSync(outside, join(root, 'notes/out'));
    expect(await store.stat('notes/ext')).toBeNull();
    expect(await store.readText('notes/ext/etc/passwd')).toBeNull();
    expect(await store.readText('notes/out/secret.md')).toBeNull();
    expect(await store.list('notes/out')).toBeNull();
    expect((await store.list('notes'))?.dirs).toEqual([]);
    expect(await collect(store.walk('notes/out'))).toEqual([]);
    expect(await collect(store.walk())).toEqual([]);

    expect((await httpError(store.write('notes/ext/x.md', 'x'))).status).toBe(400);
    expect((await httpError(store.write('notes/out/new/x.md', 'x'))).status).toBe(400);
    expect(existsSync(join(outside, 'new'))).toBe(false);
    expect(readdirSync(outside)).toEqual(['secret.md']);
    expect(await store.caseConflict('notes/out/x.md')).toBeNull();
  });

  test('a dangling link is refused, not followed into creation', async () => {
    mkdirSync(join(root, 'notes'));
    symlinkSync(join(outside, 'created.md'), join(root, 'notes/dangling.md'));
    expect(await store.stat('notes/dangling.md')).toBeNull();
    expect((await httpError(store.write('notes/dangling.md', 'x'))).status).toBe(400);
    expect(existsSync(join(outside, 'created.md'))).toBe(false);
  });

  test('moves refuse links at either end', async () => {
    put('notes/a.md', 'a');
    symlinkSync(outside, join(root, 'out'));
    expect((await httpError(store.rename('notes/a.md', 'out/a.md'))).status).toBe(400);
    symlinkSync(join(outside, 'secret.md'), join(root, 'notes/s.md'));
    expect((await httpError(store.rename('notes/s.md', 'notes/t.md'))).status).toBe(400);
    expect(readdirSync(outside)).toEqual(['secret.md']);
  });

  test('the root itself may be reached through a link', async () => {
    const linkedRoot = join(base, 'linked');
    symlinkSync(root, linkedRoot);
    const viaLink = new FileStore(linkedRoot);
    await viaLink.write('x.md', 'x');
    expect((await viaLink.readText('x.md'))?.text).toBe('x');
  });
});

describe('hidden and unaddressable names on disk', () => {
  test('list and walk skip dot names, .git included, and names no path could reach', async () => {
    put('.git/config', '[core]');
    put('.obsidian/x.md', 'x');
    put('notes/.secret.md', 's');
    put('notes/a.md', 'a');
    put('notes/b:c.md', 'colon');
    put('notes/sub/d.txt', 'd');
    const listing = await store.list('notes');
    expect(listing?.dirs).toEqual(['sub']);
    expect(listing?.files.map((f) => f.name)).toEqual(['a.md']);
    expect((await store.list(''))?.dirs).toEqual(['notes']);
    expect(await collect(store.walk())).toEqual(['notes/a.md', 'notes/sub/d.txt']);
    expect(await collect(store.walk('notes/sub'))).toEqual(['notes/sub/d.txt']);
    expect(await collect(store.walk('notes/a.md'))).toEqual(['notes/a.md']);
    expect(await collect(store.walk('missing'))).toEqual([]);
  });

  test('list of a file is a 400, of a missing directory null', async () => {
    put('notes/a.md', 'a');
    expect((await httpError(store.list('notes/a.md'))).status).toBe(400);
    expect(await store.list('nope')).toBeNull();
  });
});

describe('remove and rename', () => {
  test('remove deletes the file and the directories it leaves empty, never the root', async () => {
    put('a/b/c/only.md', 'x');
    put('a/keep.md', 'k');
    expect(await store.remove('a/b/c/only.md')).toBe(true);
    expect(existsSync(join(root, 'a/b'))).toBe(false);
    expect(existsSync(join(root, 'a/keep.md'))).toBe(true);
    expect(await store.remove('a/keep.md')).toBe(true);
    expect(existsSync(join(root, 'a'))).toBe(false);
    expect(existsSync(root)).toBe(true);
    expect(await store.remove('a/keep.md')).toBe(false);
    put('top.md', 't');
    expect(await store.remove('top.md')).toBe(true);
    expect(existsSync(root)).toBe(true);
  });

  test('rename moves, creates parents, prunes the old ones, refuses existing destinations', async () => {
    put('from/deep/a.md', 'a');
    put('other.md', 'o');
    expect(await store.rename('from/deep/a.md', 'to/new/b.md')).toBe(true);
    expect(readFileSync(join(root, 'to/new/b.md'), 'utf8')).toBe('a');
    expect(existsSync(join(root, 'from'))).toBe(false);
    const clash = await httpError(store.rename('to/new/b.md', 'other.md'));
    expect(clash.status).toBe(409);
    expect(clash.detail).toBe('Destination already exists: other.md');
    expect(readFileSync(join(root, 'other.md'), 'utf8')).toBe('o');
    expect(await store.rename('missing.md', 'x.md')).toBe(false);
  });
});

describe('caseConflict', () => {
  test('an existing sibling differing only in letter case', async () => {
    put('notes/a.md', 'a');
    expect(await store.caseConflict('notes/A.md')).toBe('notes/a.md');
    expect(await store.caseConflict('Notes/x.md')).toBe('notes');
    expect(await store.caseConflict('NOTES/A.md')).toBe('notes');
    expect(await store.caseConflict('notes/a.md')).toBeNull();
    expect(await store.caseConflict('notes/b.md')).toBeNull();
    expect(await store.caseConflict('new/dir/x.md')).toBeNull();
  });

  test('letter case beyond ASCII and composed forms', async () => {
    put('notes/Ärger.md', 'x');
    expect(await store.caseConflict(checkPath('notes/ärger.md', { kind: 'file' }))).toBe('notes/Ärger.md');
  });
});

describe('walk order and metadata', () => {
  test('walk yields size and modification time', async () => {
    put('b.md', 'bb');
    put('a/x.md', 'x');
    const when = new Date('2025-01-02T03:04:05.000Z');
    utimesSync(join(root, 'b.md'), when, when);
    const entries: Array<{ path: string; size: number; modified: Date }> = [];
    for await (const e of store.walk()) entries.push(e);
    expect(entries.map((e) => e.path)).toEqual(['a/x.md', 'b.md']);
    expect(entries[1]!.size).toBe(2);
    expect(entries[1]!.modified.toISOString()).toBe('2025-01-02T03:04:05.000Z');
  });
});
