/**
 * Tree-level three-way merge and tree diffs over isomorphic-git's object store.
 *
 * Git's own merge would write conflict markers into the file; a knowledge base must never lose or mangle
 * a local write, so a file changed on both sides keeps the local content at its path and the remote
 * version is written beside it as `<name>.remote-<7 hex>.<ext>`. A file modified on one side and deleted
 * on the other is kept in its modified form. Everything else merges as Git would (a side that did not
 * touch an entry takes the other side's version), and untouched subtrees are never opened.
 */
import git, { type TreeEntry } from 'isomorphic-git';
import { gitFs as fs } from './fs.ts';

export interface RepoRef {
  dir: string;
  /** isomorphic-git's object cache, shared by the calls of one operation. */
  cache: object;
}

export interface MergeConflict {
  path: string;
  copy: string;
}

export interface MergeOutcome {
  tree: string;
  /** Both sides changed the file: local kept, remote copied beside it. */
  conflicts: MergeConflict[];
  /** Modified locally, deleted remotely: the local file stays. */
  keptLocal: string[];
  /** Deleted locally, modified remotely: the remote file comes back. */
  keptRemote: string[];
  /** File on one side, folder on the other: the local entry stays. */
  typeClashes: string[];
}

export interface TreeChange {
  path: string;
  action: 'create' | 'update' | 'delete';
  mode: string;
}

const FILE_MODES = new Set(['100644', '100755']);

/** `notes/a.md` → `notes/a.remote-1a2b3c4.md`; `Makefile` → `Makefile.remote-1a2b3c4`. */
export function conflictCopyName(name: string, remoteSha: string): string {
  const short = remoteSha.slice(0, 7);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `${name}.remote-${short}`;
  return `${name.slice(0, dot)}.remote-${short}${name.slice(dot)}`;
}

/** Whether a path names a conflict copy made by a merge. */
export function isConflictCopy(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return /\.remote-[0-9a-f]{7}(\.[^./]+)?$/.test(name);
}

async function entries(repo: RepoRef, oid: string | null): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  if (!oid) return out;
  const { tree } = await git.readTree({ fs, dir: repo.dir, oid, cache: repo.cache });
  for (const e of tree) out.set(e.path, e);
  return out;
}

const same = (a: TreeEntry | undefined, b: TreeEntry | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.oid === b.oid && a.mode === b.mode);

const join = (prefix: string, name: string): string => (prefix ? `${prefix}/${name}` : name);

/**
 * Merges three trees (commit or tree oids; `base` null for unrelated histories) and writes the result.
 * `remoteSha` (the remote commit) names the conflict copies.
 */
export async function mergeTrees(
  repo: RepoRef,
  base: string | null,
  ours: string,
  theirs: string,
  remoteSha: string,
): Promise<MergeOutcome> {
  const out: MergeOutcome = { tree: '', conflicts: [], keptLocal: [], keptRemote: [], typeClashes: [] };

  const mergeDir = async (
    prefix: string,
    b: string | null,
    o: string | null,
    t: string | null,
  ): Promise<string | null> => {
    const [be, oe, te] = await Promise.all([entries(repo, b), entries(repo, o), entries(repo, t)]);
    const names = new Set([...be.keys(), ...oe.keys(), ...te.keys()]);
    const result = new Map<string, TreeEntry>();
    const copies: TreeEntry[] = [];
    for (const name of names) {
      const eb = be.get(name);
      const eo = oe.get(name);
      const et = te.get(name);
      const path = join(prefix, name);
      let pick: TreeEntry | undefined;
      if (same(eo, et)) pick = eo;
      else if (same(eb, eo)) pick = et;
      else if (same(eb, et)) pick = eo;
      else if ((eo === undefined || eo.type === 'tree') && (et === undefined || et.type === 'tree')) {
        // A folder changed on both sides (or changed on one and deleted on the other): decide per entry.
        const sub = await mergeDir(
          path,
          eb?.type === 'tree' ? eb.oid : null,
          eo?.oid ?? null,
          et?.oid ?? null,
        );
        pick = sub ? { mode: '040000', path: name, oid: sub, type: 'tree' } : undefined;
      } else if (eo && et && FILE_MODES.has(eo.mode) && FILE_MODES.has(et.mode)) {
        pick = eo;
        const copy = conflictCopyName(name, remoteSha);
        copies.push({ mode: et.mode, path: copy, oid: et.oid, type: 'blob' });
        out.conflicts.push({ path, copy: join(prefix, copy) });
      } else if (eo && !et) {
        pick = eo;
        out.keptLocal.push(path);
      } else if (!eo && et) {
        pick = et;
        out.keptRemote.push(path);
      } else {
        pick = eo;
        out.typeClashes.push(path);
      }
      if (pick) result.set(name, { ...pick, path: name });
    }
    // A copy replaces any same-named entry: it can only be an older copy of the same remote commit.
    for (const c of copies) result.set(c.path, c);
    if (result.size === 0 && prefix !== '') return null;
    return git.writeTree({ fs, dir: repo.dir, tree: [...result.values()] });
  };

  out.tree = (await mergeDir('', base, ours, theirs)) as string;
  return out;
}

/** Files (regular and executable blobs) that differ between two trees; `from` null means "everything is new". */
export async function diffTrees(
  repo: RepoRef,
  from: string | null,
  to: string | null,
): Promise<TreeChange[]> {
  const changes: TreeChange[] = [];
  const walk = async (prefix: string, a: string | null, b: string | null): Promise<void> => {
    if (a === b) return;
    const [ae, be] = await Promise.all([entries(repo, a), entries(repo, b)]);
    for (const name of new Set([...ae.keys(), ...be.keys()])) {
      const x = ae.get(name);
      const y = be.get(name);
      if (same(x, y)) continue;
      const path = join(prefix, name);
      const xTree = x?.type === 'tree' ? x.oid : null;
      const yTree = y?.type === 'tree' ? y.oid : null;
      if (xTree || yTree) await walk(path, xTree, yTree);
      const xFile = x && FILE_MODES.has(x.mode) ? x : undefined;
      const yFile = y && FILE_MODES.has(y.mode) ? y : undefined;
      if (xFile && yFile) {
        if (xFile.oid !== yFile.oid) changes.push({ path, action: 'update', mode: yFile.mode });
      } else if (yFile) changes.push({ path, action: 'create', mode: yFile.mode });
      else if (xFile) changes.push({ path, action: 'delete', mode: xFile.mode });
    }
  };
  await walk('', from, to);
  return changes.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
}

/** The tree oid of a commit. */
export async function treeOf(repo: RepoRef, commit: string): Promise<string> {
  const { commit: c } = await git.readCommit({ fs, dir: repo.dir, oid: commit, cache: repo.cache });
  return c.tree;
}
