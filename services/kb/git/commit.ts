/**
 * Fast commits for API writes. isomorphic-git's `add` + `commit` rewrite the whole index and rebuild every
 * tree from it, which costs about 150 ms per write in a 10,000-file repository. A write changes one path, so
 * the commit here rewrites only the trees along that path (a few small objects) and moves the branch.
 *
 * The index (the staging area) is brought up to date afterwards, in one batch: it matters only to Git
 * operations that compare the working tree with it (auto-commit before a pull, checkout) and to people
 * running the git CLI in the folder. Paths whose index entry is behind are kept in a small file in `.git`,
 * so a crash between the commit and the batch costs nothing: the next start applies them.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import git, { type TreeEntry } from 'isomorphic-git';
import { GitIndexManager } from 'isomorphic-git/managers';
import { FileSystem } from 'isomorphic-git/models';
import { gitFs as fs, writeFileAtomicSync } from './fs.ts';

export interface Signature {
  name: string;
  email: string;
  timestamp: number;
  timezoneOffset: number;
}

/** New blob ids per path; `null` removes the path. */
export type PathChanges = Map<string, string | null>;

/** Writes the blobs of `add` from the working tree and returns the changes to commit. */
export async function stageFromWorkTree(dir: string, add: string[], remove: string[]): Promise<PathChanges> {
  const changes: PathChanges = new Map();
  for (const p of add) changes.set(p, await git.writeBlob({ fs, dir, blob: await readFile(join(dir, p)) }));
  for (const p of remove) changes.set(p, null);
  return changes;
}

/** Applies `changes` to the tree `base` (null: the empty tree), rewriting only the trees on their paths. */
export async function applyToTree(
  dir: string,
  cache: object,
  base: string | null,
  changes: PathChanges,
): Promise<string> {
  // Group the changes by their first segment, recursing into each touched directory once.
  const here = new Map<string, string | null>();
  const below = new Map<string, PathChanges>();
  for (const [path, oid] of changes) {
    const slash = path.indexOf('/');
    if (slash === -1) here.set(path, oid);
    else {
      const head = path.slice(0, slash);
      let sub = below.get(head);
      if (!sub) {
        sub = new Map();
        below.set(head, sub);
      }
      sub.set(path.slice(slash + 1), oid);
    }
  }
  const entries = new Map<string, TreeEntry>();
  if (base) for (const e of (await git.readTree({ fs, dir, oid: base, cache })).tree) entries.set(e.path, e);
  for (const [name, oid] of here) {
    if (oid === null) entries.delete(name);
    else entries.set(name, { mode: '100644', path: name, oid, type: 'blob' });
  }
  for (const [name, sub] of below) {
    const current = entries.get(name);
    const tree = await applyToTree(dir, cache, current?.type === 'tree' ? current.oid : null, sub);
    if (tree === EMPTY_TREE) entries.delete(name);
    else entries.set(name, { mode: '040000', path: name, oid: tree, type: 'tree' });
  }
  if (entries.size === 0) return EMPTY_TREE;
  return git.writeTree({ fs, dir, tree: [...entries.values()] });
}

/** Git's id of the empty tree; an empty directory is never stored in a parent tree. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** Writes the commit and moves `refs/heads/<branch>` to it. */
export async function commitTree(
  dir: string,
  branch: string,
  opts: { tree: string; parents: string[]; message: string; author: Signature; committer: Signature },
): Promise<string> {
  const message = opts.message.endsWith('\n') ? opts.message : `${opts.message}\n`;
  const sha = await git.writeCommit({
    fs,
    dir,
    commit: {
      tree: opts.tree,
      parent: opts.parents,
      author: opts.author,
      committer: opts.committer,
      message,
    },
  });
  await git.writeRef({ fs, dir, ref: `refs/heads/${branch}`, value: sha, force: true });
  return sha;
}

/** Index entries that are behind the branch, applied in one batch. */
export class PendingIndex {
  private readonly pending = new Map<string, string | null>();
  private readonly file: string;

  constructor(private readonly dir: string) {
    this.file = join(dir, '.git', 'gaia-index-pending.json');
  }

  get size(): number {
    return this.pending.size;
  }

  /** Loads what a previous run left behind (a crash between a commit and its batch). */
  load(): void {
    if (!existsSync(this.file)) return;
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string | null>;
      for (const [p, oid] of Object.entries(saved)) this.pending.set(p, oid);
    } catch {
      // A torn file: the next auto-commit repairs the index from the working tree anyway.
    }
  }

  add(changes: PathChanges): void {
    for (const [p, oid] of changes) this.pending.set(p, oid);
    writeFileAtomicSync(this.file, JSON.stringify(Object.fromEntries(this.pending)));
  }

  /** Brings the index in line with the committed paths: one read and one write of the index file. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const entries = [...this.pending];
    const fsClient = new FileSystem(fs);
    await GitIndexManager.acquire(
      { fs: fsClient, gitdir: join(this.dir, '.git'), cache: {} },
      async (index) => {
        for (const [filepath, oid] of entries) {
          const stats = oid === null ? null : await lstat(join(this.dir, filepath)).catch(() => null);
          if (oid === null || !stats) index.delete({ filepath });
          else index.insert({ filepath, oid, stats });
        }
      },
    );
    for (const [p, oid] of entries) if (this.pending.get(p) === oid) this.pending.delete(p);
    if (this.pending.size === 0) rmSync(this.file, { force: true });
    else writeFileAtomicSync(this.file, JSON.stringify(Object.fromEntries(this.pending)));
  }
}
