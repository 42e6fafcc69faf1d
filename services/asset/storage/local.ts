/**
 * Files on local disk under one root directory. Writes go to a temporary name beside the target and are renamed
 * into place, so a reader never sees half a file and a crash leaves at most a stray temp file, which
 * `sweepTemps` removes at the next start.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { removeStaleFiles } from '../../../src/files.ts';
import type { AssetStorage, StoredObject } from '../types.ts';
import { assertKey } from './keys.ts';

/** What `put` writes before the rename: `<target>.tmp-<uuid>`. */
const TEMP_NAME = /\.tmp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface LocalStorageOptions {
  /** Root directory; created on first write. */
  root: string;
}

/** Makes the rename itself durable; some filesystems refuse to sync a directory, which is not worth failing for. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Best effort.
  }
}

export class LocalStorage implements AssetStorage {
  readonly type = 'local' as const;
  readonly bucket = null;
  readonly root: string;

  constructor(opts: LocalStorageOptions) {
    this.root = resolve(opts.root);
  }

  /** Absolute path of a key (validated, always inside the root). */
  pathOf(key: string): string {
    return join(this.root, assertKey(key));
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<StoredObject> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.tmp-${randomUUID()}`;
    try {
      const fh = await open(temp, 'wx', 0o644);
      try {
        await fh.writeFile(bytes);
        // The row pointing at this file is written right after; it must not outlive the bytes on a power cut.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, path);
      await syncDir(dirname(path));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return {
      key,
      size: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      contentType,
    };
  }

  sweepTemps(before: number): Promise<number> {
    return removeStaleFiles(this.root, { name: TEMP_NAME, before });
  }

  async get(
    key: string,
    range?: { start: number; end: number },
  ): Promise<{ body: ReadableStream<Uint8Array>; size: number } | null> {
    const path = this.pathOf(key);
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) return null;
      size = st.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const file = Bun.file(path);
    const body = range ? file.slice(range.start, range.end + 1).stream() : file.stream();
    return { body, size };
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
