/**
 * The KB working tree on disk. Paths given here have already passed `checkPath`; what this layer adds is
 * what only the disk can tell: symbolic links (a cloned repository may contain links to anywhere, so a link
 * at the target or at any existing ancestor makes the path unreadable and unwritable), real paths that
 * leave the root, hidden names found on disk, and atomic replacement of file content.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { HttpError } from '../../../src/http/errors.ts';
import { isValidSegment } from '../paths/service.ts';
import type { DirListing, FileStat } from '../types.ts';

export interface FileStoreOptions {
  /** Largest file read or written through the store; larger ones are a 413. */
  maxFileBytes?: number;
}

export interface FileText {
  text: string;
  size: number;
  modified: Date;
}

export interface WalkEntry {
  path: string;
  size: number;
  modified: Date;
}

/** How the segments of a path relate to the disk, found by `lstat`-ing them from the root down. */
interface Probe {
  /** A link at the target or at an existing ancestor. */
  symlink: boolean;
  /** A non-directory sits where an ancestor directory would be (`a.md/b.md` with `a.md` a file). */
  blockedBy: string | null;
  /** `lstat` of the target itself, when it exists. */
  target: Stats | null;
}

function symlinkError(): HttpError {
  return new HttpError(400, 'Invalid path: symbolic link');
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class FileStore {
  readonly root: string;
  private readonly realRoot: string;
  private readonly maxFileBytes: number;

  constructor(root: string, opts: FileStoreOptions = {}) {
    this.root = resolve(root);
    mkdirSync(this.root, { recursive: true });
    // The root itself may legitimately sit behind a link (`/tmp` on macOS); only what is inside is judged.
    this.realRoot = realpathSync(this.root);
    this.maxFileBytes = opts.maxFileBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Absolute path of a checked KB-relative path. */
  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, ...rel.split('/'));
  }

  private async probe(rel: string): Promise<Probe> {
    if (rel === '') return { symlink: false, blockedBy: null, target: await lstat(this.root) };
    const segs = rel.split('/');
    let cur = this.root;
    for (let i = 0; i < segs.length; i++) {
      cur = join(cur, segs[i]!);
      let st: Stats;
      try {
        st = await lstat(cur);
      } catch (err) {
        if (isMissing(err)) return { symlink: false, blockedBy: null, target: null };
        throw err;
      }
      if (st.isSymbolicLink()) return { symlink: true, blockedBy: null, target: null };
      if (i === segs.length - 1) return { symlink: false, blockedBy: null, target: st };
      if (!st.isDirectory())
        return { symlink: false, blockedBy: segs.slice(0, i + 1).join('/'), target: null };
    }
    return { symlink: false, blockedBy: null, target: null };
  }

  /** The real path of `abs` stays inside the root (a second guard after the per-segment link check). */
  private async inside(abs: string): Promise<boolean> {
    try {
      const real = await realpath(abs);
      return real === this.realRoot || real.startsWith(this.realRoot + sep);
    } catch {
      return false;
    }
  }

  /** File or directory at `rel`; null when missing, when a link is involved, or for other node types. */
  async stat(rel: string): Promise<FileStat | null> {
    const p = await this.probe(rel);
    if (p.symlink || !p.target) return null;
    const st = p.target;
    if (!st.isFile() && !st.isDirectory()) return null;
    if (!(await this.inside(this.abs(rel)))) return null;
    return { kind: st.isFile() ? 'file' : 'dir', size: st.size, modified: st.mtime };
  }

  /**
   * Opens without following a final link and re-checks the opened file, so a link swapped in between the
   * check and the open cannot redirect the read.
   */
  private async openFile(rel: string): Promise<Awaited<ReturnType<typeof open>> | null> {
    const s = await this.stat(rel);
    if (!s) return null;
    if (s.kind !== 'file') throw new HttpError(400, `Path is not a file: ${rel}`);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.abs(rel), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return null;
      throw err;
    }
    const st = await fh.stat();
    const again = await this.probe(rel);
    if (!st.isFile() || again.symlink || !again.target || !(await this.inside(this.abs(rel)))) {
      await fh.close();
      return null;
    }
    return fh;
  }

  /**
   * The file's bytes; null when missing or behind a link. A directory is a 400 (`Path is not a file`),
   * a file over the size limit a 413.
   */
  async readBytes(rel: string): Promise<{ bytes: Uint8Array; size: number; modified: Date } | null> {
    const fh = await this.openFile(rel);
    if (!fh) return null;
    try {
      const st = await fh.stat();
      if (st.size > this.maxFileBytes) throw new HttpError(413, `File too large: ${rel}`);
      const bytes = new Uint8Array(await fh.readFile());
      return { bytes, size: bytes.byteLength, modified: st.mtime };
    } finally {
      await fh.close();
    }
  }

  async readText(rel: string): Promise<FileText | null> {
    const r = await this.readBytes(rel);
    if (!r) return null;
    return { text: new TextDecoder().decode(r.bytes), size: r.size, modified: r.modified };
  }

  /**
   * Subdirectories and files of a directory, sorted by name. Hidden names, links and names no request
   * could address are left out. Null when missing or behind a link; a file is a 400.
   */
  async list(dir: string): Promise<DirListing | null> {
    const s = await this.stat(dir);
    if (!s) return null;
    if (s.kind !== 'dir') throw new HttpError(400, `Path is not a directory: ${dir}`);
    const dirs: string[] = [];
    const files: DirListing['files'] = [];
    for (const e of await this.entries(dir)) {
      if (e.isDirectory()) dirs.push(e.name);
      else if (e.isFile()) {
        const rel = dir === '' ? e.name : `${dir}/${e.name}`;
        try {
          const st = await stat(this.abs(rel));
          files.push({ name: e.name, size: st.size, modified: st.mtime });
        } catch (err) {
          if (!isMissing(err)) throw err; // removed while listing
        }
      }
    }
    return { dirs, files };
  }

  private async entries(dir: string): Promise<Dirent[]> {
    let ents: Dirent[];
    try {
      ents = await readdir(this.abs(dir), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    return ents
      .filter((e) => !e.isSymbolicLink() && isValidSegment(e.name))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every regular file below `under` (the whole tree by default), depth first in name order. */
  async *walk(under = ''): AsyncIterable<WalkEntry> {
    const s = await this.stat(under);
    if (!s) return;
    if (s.kind === 'file') {
      yield { path: under, size: s.size, modified: s.modified };
      return;
    }
    yield* this.walkDir(under);
  }

  /**
   * Reads a file `walk` has just produced, for bulk indexing. The walk saw every ancestor as a real
   * directory (links are never entered), so only the last component needs guarding, which the open does
   * by refusing to follow a link. Synchronous: thousands of small reads cost far less without a thread hop
   * each. Null when the file is gone, became a link or is over the size limit.
   */
  readWalked(rel: string): FileText | null {
    let fd: number;
    try {
      fd = openSync(this.abs(rel), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > this.maxFileBytes) return null;
      return { text: readFileSync(fd, 'utf8'), size: st.size, modified: st.mtime };
    } finally {
      closeSync(fd);
    }
  }

  private async *walkDir(dir: string): AsyncIterable<WalkEntry> {
    for (const e of await this.entries(dir)) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory()) yield* this.walkDir(rel);
      else if (e.isFile()) {
        try {
          const st = await stat(this.abs(rel));
          yield { path: rel, size: st.size, modified: st.mtime };
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
      }
    }
  }

  /**
   * Replaces (or creates) the file atomically: the content goes to a hidden temporary name in the same
   * directory and is renamed over the target, so readers see the old or the new file, never half of one.
   */
  async write(
    rel: string,
    text: string | Uint8Array,
  ): Promise<{ created: boolean; size: number; modified: Date }> {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    if (bytes.byteLength > this.maxFileBytes) throw new HttpError(413, `File too large: ${rel}`);
    if (rel === '') throw new HttpError(400, 'Invalid path: a file path is required');
    const p = await this.probe(rel);
    if (p.symlink) throw symlinkError();
    if (p.blockedBy !== null)
      throw new HttpError(409, `Path conflicts with an existing file: ${p.blockedBy}`);
    if (p.target?.isDirectory()) throw new HttpError(409, `Path is a directory: ${rel}`);
    if (p.target && !p.target.isFile()) throw new HttpError(400, `Path is not a file: ${rel}`);

    const slash = rel.lastIndexOf('/');
    const parent = slash === -1 ? '' : rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    await mkdir(this.abs(parent), { recursive: true });
    // mkdir follows links; check again now that the parents exist, before anything is written through them.
    const after = await this.probe(rel);
    if (after.symlink) throw symlinkError();
    if (!(await this.inside(this.abs(parent)))) throw symlinkError();

    const tmp = join(this.abs(parent), `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    try {
      await rename(tmp, this.abs(rel));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    const st = await stat(this.abs(rel));
    return { created: p.target === null, size: st.size, modified: st.mtime };
  }

  /** Deletes a file and any parent directories it leaves empty (never the root). False when missing. */
  async remove(rel: string): Promise<boolean> {
    if (rel === '') throw new HttpError(400, 'Invalid path: a file path is required');
    const p = await this.probe(rel);
    if (p.symlink) throw symlinkError();
    if (!p.target) return false;
    if (!p.target.isFile()) throw new HttpError(400, `Path is not a file: ${rel}`);
    await unlink(this.abs(rel));
    await this.pruneEmptyParents(rel);
    return true;
  }

  private async pruneEmptyParents(rel: string): Promise<void> {
    const segs = rel.split('/');
    for (let n = segs.length - 1; n > 0; n--) {
      try {
        await rmdir(this.abs(segs.slice(0, n).join('/')));
      } catch {
        return; // not empty (or already gone): nothing above can be empty either
      }
    }
  }

  /**
   * Moves a file. False when the source is missing; 409 when the destination exists (a change of letter
   * case only is allowed where the file system folds case), 400 for links on either side.
   */
  async rename(from: string, to: string): Promise<boolean> {
    const src = await this.probe(from);
    if (src.symlink) throw symlinkError();
    if (!src.target) return false;
    if (!src.target.isFile()) throw new HttpError(400, `Path is not a file: ${from}`);
    const dst = await this.probe(to);
    if (dst.symlink) throw symlinkError();
    if (dst.blockedBy !== null)
      throw new HttpError(409, `Path conflicts with an existing file: ${dst.blockedBy}`);
    if (dst.target) {
      const sameFile = dst.target.ino === src.target.ino && dst.target.dev === src.target.dev;
      if (!sameFile || from === to) throw new HttpError(409, `Destination already exists: ${to}`);
    }
    const slash = to.lastIndexOf('/');
    const parent = slash === -1 ? '' : to.slice(0, slash);
    await mkdir(this.abs(parent), { recursive: true });
    const after = await this.probe(to);
    if (after.symlink || !(await this.inside(this.abs(parent)))) throw symlinkError();
    await rename(this.abs(from), this.abs(to));
    await this.pruneEmptyParents(from);
    return true;
  }

  /**
   * An existing path that differs from `rel` only in letter case at the first segment that does not exist
   * exactly (`notes/A.md` while `notes/a.md` exists, or `Notes/x.md` while `notes/` exists). Such a pair
   * cannot be checked out together on case-insensitive file systems, so creating it is refused.
   */
  async caseConflict(rel: string): Promise<string | null> {
    if (rel === '') return null;
    const segs = rel.split('/');
    let dir = '';
    for (const seg of segs) {
      let names: string[];
      try {
        names = await readdir(this.abs(dir));
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
      const here = dir === '' ? seg : `${dir}/${seg}`;
      if (names.includes(seg)) {
        dir = here;
        continue;
      }
      const folded = seg.normalize('NFC').toLowerCase();
      const other = names.find((n) => n.normalize('NFC').toLowerCase() === folded);
      return other === undefined ? null : dir === '' ? other : `${dir}/${other}`;
    }
    return null;
  }
}
