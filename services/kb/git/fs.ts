/**
 * The file system isomorphic-git writes through. isomorphic-git writes objects, refs and the index in place;
 * a process killed between truncating such a file and filling it leaves it empty. An empty loose object is
 * worse than a missing one: isomorphic-git skips writing an object whose file exists, so the next commit of
 * the same content would point at it and the repository would be corrupt. Here every write goes to a
 * temporary file first and is renamed into place, which is atomic: a reader sees the old file or the new.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { removeStaleFiles } from '../../../src/files.ts';

/**
 * Where the temporary file of `path` goes: inside `.git`, in its top folder under a name Git ignores there
 * (beside a ref it could be read as another ref); in the working tree, a hidden file beside the target.
 */
export function tempPathFor(path: string): string {
  const rand = randomBytes(6).toString('hex');
  const at = path.lastIndexOf('/.git/');
  if (at >= 0) return join(path.slice(0, at + 5), `${GIT_TEMP_PREFIX}${rand}`);
  return join(dirname(path), `.${basename(path)}.${rand}.tmp`);
}

/** Temporary files a killed process may leave in `.git`; removed at start. */
export const GIT_TEMP_PREFIX = 'gaia-tmp-';

async function writeFile(
  path: string,
  data: string | Uint8Array,
  options?: Parameters<typeof fsp.writeFile>[2],
): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await fsp.writeFile(tmp, data, options);
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => {});
    // The target's folder may not exist yet: isomorphic-git creates it on ENOENT and writes again.
    throw err;
  }
}

export const gitFs = { promises: { ...fsp, writeFile } };

/** The same for the small state files Gaia keeps in `.git` (written synchronously, read at start). */
export function writeFileAtomicSync(path: string, data: string): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Removes what `writeFile` left behind in `.git` when the process was killed between its two steps. */
export async function removeGitTemps(gitdir: string): Promise<void> {
  const names = await fsp.readdir(gitdir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(GIT_TEMP_PREFIX))
      .map((n) => fsp.unlink(join(gitdir, n)).catch(() => {})),
  );
}

/**
 * The hidden temporary files of interrupted writes in the working tree: a file's new content
 * (`.<name>.<12 hex>.tmp`) and a cut change being undone (`.<name>.restore.tmp`). Hidden names are never
 * committed or served, but a process killed between writing one and renaming it leaves it on disk for good.
 */
const WORKTREE_TEMP = /^\..+\.(?:[0-9a-f]{12}|restore)\.tmp$/;

/**
 * Removes the working tree's leftover temporary files older than `before` (epoch ms): one written after it
 * belongs to a write in flight, so the sweep can run while the knowledge base serves. `.git` is not walked
 * (its temporaries are `removeGitTemps`'). Returns how many were removed.
 */
export function removeWorktreeTemps(root: string, before: number): Promise<number> {
  return removeStaleFiles(root, { name: WORKTREE_TEMP, before, skipTopLevel: ['.git'] });
}
