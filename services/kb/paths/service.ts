/**
 * The path rules every kb route applies before touching the disk. A path arrives as client input (a JSON
 * value or a URL parameter the router already decoded once) and leaves as a normalised KB-relative path:
 * `/`-separated, NFC, no leading or trailing slash, `""` for the root. Anything that could name a file
 * outside the tree, a hidden file, or a name that another operating system would read differently is
 * refused here, so the file store never has to reason about hostile names.
 */
import { HttpError } from '../../../src/http/errors.ts';

/** Extensions a write may create; only `.md` files are documents, the rest are plain data next to them. */
export const TEXT_EXTENSIONS: readonly string[] = ['.md', '.txt', '.yml', '.yaml', '.json'];

export const MAX_PATH_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_SEGMENTS = 32;

export interface CheckPathOptions {
  kind: 'file' | 'dir';
  /** The value came from a URL path parameter the router has already percent-decoded once. */
  fromUrl?: boolean;
  /** The path is about to be created or overwritten: the extension rule applies. */
  write?: boolean;
}

// Windows opens these as devices whatever the extension (`con.md` is the console), so a clone on Windows
// could not check such a file out; refusing them keeps the tree portable.
const DEVICE_NAMES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
const FORBIDDEN_CHARS = /[\\:*?"<>|]/;
const ENCODED = /%[0-9A-Fa-f]{2}/;
// C0 and C1 controls plus DEL; Cf is the format category (zero-width joiners, bidi overrides, BOM), Zl/Zp the
// line and paragraph separators: all invisible or reorder what a reader sees, so a name could pose as another.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const FORMAT = /[\p{Cf}\p{Zl}\p{Zp}]/u;
const EXTENSION = /\.[^./]+$/;

const encoder = new TextEncoder();

function bad(reason: string): HttpError {
  return new HttpError(400, `Invalid path: ${reason}`);
}

/**
 * Applies the path rules in order and returns the normalised path, or throws a 400 naming the first rule
 * that failed. Symbolic links are the file store's business (they need the disk); everything else is here.
 */
export function checkPath(raw: string, opts: CheckPathOptions): string {
  if (typeof raw !== 'string') throw bad('not a string');
  let path = raw;

  // Rule 1: the Python platform's absolute `/kb/...` form and a plain leading slash both mean the KB root.
  if (path.startsWith('/kb/')) path = path.slice(4);
  else if (path.startsWith('/')) path = path.slice(1);
  if (path === '' || path === '/') {
    if (opts.kind === 'dir') return '';
    throw bad('a file path is required');
  }

  // Rule 2: a router decodes once; a second layer of encoding is how traversal gets smuggled past filters.
  if (opts.fromUrl && ENCODED.test(path)) throw bad('Encoded characters are not allowed in paths');

  // Rule 3. A lone surrogate is what invalid UTF-8 becomes in a JSON string, U+FFFD what a lenient decoder
  // makes of invalid bytes in a URL; either way the client's bytes were not a name.
  if (!path.isWellFormed() || path.includes('\uFFFD')) throw bad('invalid UTF-8');
  if (path.includes('\u0000')) throw bad('NUL character');
  if (CONTROL.test(path)) throw bad('control character');
  if (FORMAT.test(path)) throw bad('invisible Unicode format character');
  path = path.normalize('NFC');

  // Rule 4.
  const forbidden = FORBIDDEN_CHARS.exec(path);
  if (forbidden) throw bad(`character '${forbidden[0]}' is not allowed`);
  // A directory may be written with a trailing slash (`notes/`); a file may not.
  if (opts.kind === 'dir' && path.endsWith('/')) path = path.slice(0, -1);
  const segments = path.split('/');
  for (const seg of segments) checkSegment(seg);

  // Rule 5.
  if (encoder.encode(path).length > MAX_PATH_BYTES) throw bad(`longer than ${MAX_PATH_BYTES} bytes`);
  if (segments.length > MAX_SEGMENTS) throw bad(`more than ${MAX_SEGMENTS} segments`);
  for (const seg of segments) {
    if (encoder.encode(seg).length > MAX_SEGMENT_BYTES)
      throw bad(`a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }

  // Rule 7 (the extension part; size and letter case need the content and the disk).
  if (opts.write && opts.kind === 'file' && !hasTextExtension(path)) {
    throw bad(`extension not allowed (allowed: ${TEXT_EXTENSIONS.join(' ')})`);
  }
  return path;
}

function checkSegment(seg: string): void {
  if (seg === '') throw bad('empty segment');
  // `.` is reported like `..`: both are relative steps, and the client needs the same answer for either.
  if (seg === '.' || seg === '..') throw bad('..');
  if (isHidden(seg)) throw bad('hidden name (starts with .)');
  if (seg.endsWith('.') || seg.endsWith(' ')) throw bad('a name ends with a dot or a space');
  const base = seg.split('.')[0]!.trimEnd();
  if (DEVICE_NAMES.test(base)) throw bad('reserved device name');
}

/**
 * True when `seg` could appear in a valid path. Names found on disk (a clone may bring anything) that fail
 * this are left out of listings and walks, since no request could ever address them.
 */
export function isValidSegment(seg: string): boolean {
  try {
    checkSegment(seg);
  } catch {
    return false;
  }
  if (!seg.isWellFormed() || CONTROL.test(seg) || FORMAT.test(seg) || FORBIDDEN_CHARS.test(seg)) return false;
  if (seg.normalize('NFC') !== seg) return false;
  return encoder.encode(seg).length <= MAX_SEGMENT_BYTES;
}

/** Names starting with `.` (`.git`, `.obsidian`, `.env`) are never served, listed, indexed or written. */
export function isHidden(segment: string): boolean {
  return segment.startsWith('.');
}

/** The copy a pull writes beside a file changed on both sides: `<name>.remote-<7 hex>.<ext>`. */
export function isConflictCopy(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return /\.remote-[0-9a-f]{7}\.[^./]+$/i.test(base);
}

export function hasTextExtension(path: string): boolean {
  const ext = EXTENSION.exec(path.slice(path.lastIndexOf('/') + 1));
  return ext !== null && TEXT_EXTENSIONS.includes(ext[0].toLowerCase());
}

export function isMarkdown(path: string): boolean {
  return path.toLowerCase().endsWith('.md');
}
