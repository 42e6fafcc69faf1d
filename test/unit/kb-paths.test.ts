import { describe, expect, test } from 'bun:test';
import {
  checkPath,
  hasTextExtension,
  isConflictCopy,
  isHidden,
  isValidSegment,
  TEXT_EXTENSIONS,
} from '../../services/kb/paths/service.ts';
import { HttpError } from '../../src/http/errors.ts';

type Opts = Parameters<typeof checkPath>[1];
const FILE: Opts = { kind: 'file' };
const DIR: Opts = { kind: 'dir' };

/** The 400 detail checkPath throws, or null when the path passes. */
function rejection(raw: string, opts: Opts = FILE): string | null {
  try {
    checkPath(raw, opts);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return (err as HttpError).detail;
  }
}

describe('rule 1: leading /kb/ and /', () => {
  test('absolute forms are KB-relative', () => {
    expect(checkPath('/notes/a.md', FILE)).toBe('notes/a.md');
    expect(checkPath('/kb/notes/a.md', FILE)).toBe('notes/a.md');
    expect(checkPath('notes/a.md', FILE)).toBe('notes/a.md');
    // Only the absolute form is special: a folder really called kb stays.
    expect(checkPath('kb/notes.md', FILE)).toBe('kb/notes.md');
    expect(checkPath('/etc/passwd', FILE)).toBe('etc/passwd');
  });

  test('root is "" for directories and a 400 for files', () => {
    expect(checkPath('', DIR)).toBe('');
    expect(checkPath('/', DIR)).toBe('');
    expect(checkPath('/kb/', DIR)).toBe('');
    expect(rejection('', FILE)).toStartWith('Invalid path: ');
    expect(rejection('/', FILE)).toStartWith('Invalid path: ');
  });

  test('a directory may end with a slash, a file may not', () => {
    expect(checkPath('notes/', DIR)).toBe('notes');
    expect(checkPath('/notes/sub/', DIR)).toBe('notes/sub');
    expect(rejection('notes/a.md/', FILE)).toBe('Invalid path: empty segment');
    expect(rejection('//notes', DIR)).toBe('Invalid path: empty segment');
  });
});

describe('rule 2: encoded characters', () => {
  test('a URL parameter decoded once must not still hold %XX', () => {
    const msg = 'Invalid path: Encoded characters are not allowed in paths';
    // `%252e%252e%252f` arrives decoded once as `%2e%2e%2f`.
    expect(rejection('%2e%2e%2fsecret', { kind: 'file', fromUrl: true })).toBe(msg);
    expect(rejection('notes/a%20b.md', { kind: 'file', fromUrl: true })).toBe(msg);
    expect(rejection('notes%2F', { kind: 'dir', fromUrl: true })).toBe(msg);
    // `%2e%2e%2fsecret` decoded once is `../secret`: the dot-segment rule answers.
    expect(rejection('../secret', { kind: 'file', fromUrl: true })).toBe('Invalid path: ..');
  });

  test('a percent sign that is no escape is allowed; JSON values are taken literally', () => {
    expect(checkPath('notes/100% done.md', { kind: 'file', fromUrl: true })).toBe('notes/100% done.md');
    expect(checkPath('notes/a%20b.md', FILE)).toBe('notes/a%20b.md');
  });
});

describe('rule 3: invisible and invalid characters', () => {
  test.each([
    ['NUL', 'notes/a\u0000.md'],
    ['control', 'notes/a\u0007.md'],
    ['newline', 'notes/a\n.md'],
    ['DEL', 'notes/a\u007f.md'],
    ['C1', 'notes/a\u0085.md'],
    ['bidi override', 'notes/\u202eevil.md'],
    ['zero-width space', 'notes/a\u200b.md'],
    ['BOM', '\ufeffnotes/a.md'],
    ['line separator', 'notes/a\u2028.md'],
    ['lone surrogate', 'notes/a\ud800.md'],
    ['replacement character', 'notes/a\ufffd.md'],
  ])('%s → 400', (_name, raw) => {
    expect(rejection(raw)).toStartWith('Invalid path: ');
  });

  test('paths are normalised to NFC', () => {
    const decomposed = 'notes/cafe\u0301.md';
    expect(checkPath(decomposed, FILE)).toBe('notes/caf\u00e9.md');
    expect(checkPath('notes/日本語.md', FILE)).toBe('notes/日本語.md');
  });
});

describe('rule 4: characters and segments', () => {
  test.each([
    'a\\b.md',
    '..\\x',
    'C:',
    'C:/x.md',
    'a:b.md',
    'a*.md',
    'a?.md',
    'a".md',
    'a<.md',
    'a>.md',
    'a|b.md',
  ])('%p → 400', (raw) => {
    expect(rejection(raw)).toStartWith('Invalid path: character');
  });

  test('dot segments are reported as ..', () => {
    for (const raw of ['../../etc/passwd', 'gaia/../../x', './a.md', 'a/./b.md', 'a/..', '..']) {
      expect(rejection(raw)).toBe('Invalid path: ..');
    }
    expect(rejection('..', DIR)).toBe('Invalid path: ..');
  });

  test('hidden segments', () => {
    for (const raw of ['.git/config', '.github/x.md', 'notes/.secret.md', '.obsidian', 'a/.hidden/b.md']) {
      expect(rejection(raw)).toBe('Invalid path: hidden name (starts with .)');
    }
  });

  test('empty segments, trailing dots and spaces, device names', () => {
    expect(rejection('a//b.md')).toBe('Invalid path: empty segment');
    expect(rejection('notes./a.md')).toBe('Invalid path: a name ends with a dot or a space');
    expect(rejection('notes /a.md')).toBe('Invalid path: a name ends with a dot or a space');
    expect(rejection('a.md.')).toBe('Invalid path: a name ends with a dot or a space');
    for (const raw of ['CON', 'con.md', 'notes/NUL.txt', 'COM1/a.md', 'lpt9.md', 'Aux.md', 'prn']) {
      expect(rejection(raw)).toBe('Invalid path: reserved device name');
    }
    // Names that merely start like a device are ordinary.
    expect(checkPath('console.md', FILE)).toBe('console.md');
    expect(checkPath('com10.md', FILE)).toBe('com10.md');
    expect(checkPath('notes/a b.md', FILE)).toBe('notes/a b.md');
    expect(checkPath('gaia/+gaia.md', FILE)).toBe('gaia/+gaia.md');
  });
});

describe('rule 5: lengths', () => {
  test('1024 bytes is the limit for the whole path', () => {
    const seg = 'a'.repeat(200);
    const ok = [seg, seg, seg, seg, 'b'.repeat(1024 - 4 * 201 - 3)].join('/') + '.md';
    expect(new TextEncoder().encode(ok).length).toBe(1024);
    expect(checkPath(ok, FILE)).toBe(ok);
    expect(rejection(`x${ok}`)).toBe('Invalid path: longer than 1024 bytes');
    expect(rejection(`${'a/'.repeat(999)}b.md`)).toStartWith('Invalid path: ');
  });

  test('bytes, not characters, are counted', () => {
    // 128 two-byte characters are 256 bytes.
    expect(rejection(`${'é'.repeat(128)}.md`)).toBe('Invalid path: a segment is longer than 255 bytes');
    expect(checkPath(`${'é'.repeat(125)}.md`, FILE)).toBe(`${'é'.repeat(125)}.md`);
    expect(rejection(`${'a'.repeat(253)}.md`)).toBe('Invalid path: a segment is longer than 255 bytes');
  });

  test('32 segments at most', () => {
    expect(checkPath(`${'d/'.repeat(31)}a.md`, FILE)).toBe(`${'d/'.repeat(31)}a.md`);
    expect(rejection(`${'d/'.repeat(32)}a.md`)).toBe('Invalid path: more than 32 segments');
    expect(rejection(`${'d/'.repeat(39)}a.md`)).toBe('Invalid path: more than 32 segments');
  });
});

describe('rule 7: extensions on writes', () => {
  test('text extensions pass, case-insensitively', () => {
    for (const p of ['a.md', 'a.txt', 'a.yml', 'a.yaml', 'a.json', 'A.MD', 'n/b.Json']) {
      expect(checkPath(p, { kind: 'file', write: true })).toBe(p);
    }
    expect([...TEXT_EXTENSIONS]).toEqual(['.md', '.txt', '.yml', '.yaml', '.json']);
  });

  test('anything else is a 400 on write and fine on read', () => {
    for (const p of ['notes/run.sh', 'notes/a.exe', 'notes/README', 'notes/a.md.bak', 'notes/md']) {
      expect(rejection(p, { kind: 'file', write: true })).toStartWith('Invalid path: extension not allowed');
      expect(checkPath(p, FILE)).toBe(p);
    }
  });

  test('the first failing rule decides', () => {
    // Dot segment (rule 4) before extension (rule 7).
    expect(rejection('../run.sh', { kind: 'file', write: true })).toBe('Invalid path: ..');
    // Encoded (rule 2) before forbidden characters (rule 4).
    expect(rejection('a%2e:b', { kind: 'file', fromUrl: true })).toBe(
      'Invalid path: Encoded characters are not allowed in paths',
    );
    // Control characters (rule 3) before length (rule 5).
    expect(rejection(`${'a'.repeat(2000)}\u0000`)).toBe('Invalid path: NUL character');
  });
});

describe('helpers', () => {
  test('isHidden / isValidSegment', () => {
    expect(isHidden('.git')).toBe(true);
    expect(isHidden('git')).toBe(false);
    expect(isValidSegment('notes')).toBe(true);
    expect(isValidSegment('.git')).toBe(false);
    expect(isValidSegment('a:b')).toBe(false);
    expect(isValidSegment('a\u202e')).toBe(false);
    expect(isValidSegment('con')).toBe(false);
    expect(isValidSegment('cafe\u0301')).toBe(false);
  });

  test('isConflictCopy', () => {
    expect(isConflictCopy('notes/a.remote-1a2b3c4.md')).toBe(true);
    expect(isConflictCopy('a.remote-abcdef0.json')).toBe(true);
    expect(isConflictCopy('a.remote-1a2b3c.md')).toBe(false);
    expect(isConflictCopy('a.remote-1a2b3cz.md')).toBe(false);
    expect(isConflictCopy('remote-1a2b3c4.md')).toBe(false);
    expect(isConflictCopy('notes.remote-1a2b3c4.md/x.md')).toBe(false);
  });

  test('hasTextExtension', () => {
    expect(hasTextExtension('a/b.YAML')).toBe(true);
    expect(hasTextExtension('a.md/b')).toBe(false);
  });
});
