/**
 * Which namespace a (normalised, KB-relative) path belongs to. Access decisions, search results, file
 * objects and bus events all name it the same way: `root`, `shared`, or the namespace's own folder
 * (`users/<id>`, `teams/<name>`, `workspaces/<name>`).
 */

export type NamespaceKind = 'user' | 'team' | 'workspace' | 'shared' | 'root';

export interface Namespace {
  kind: NamespaceKind;
  /** The user id (or legacy email folder), team or workspace name; null for `shared` and `root`. */
  owner: string | null;
  /** `root`, `shared`, `users/<id>`, `teams/<name>`, `workspaces/<name>`. */
  name: string;
  /** The namespace's folder with a trailing slash (`""` for root). */
  prefix: string;
  /**
   * True for `users`, `teams`, `workspaces` themselves and files directly inside them: container
   * folders that belong to nobody (creating files there is admin-only).
   */
  container: boolean;
}

const CONTAINERS: Record<string, NamespaceKind> = { users: 'user', teams: 'team', workspaces: 'workspace' };

export function namespaceOf(path: string): Namespace {
  const clean = path.replace(/^\/+/, '').replace(/\/+$/, '');
  const segs = clean === '' ? [] : clean.split('/');
  const first = segs[0];
  if (first === undefined) return { kind: 'root', owner: null, name: 'root', prefix: '', container: false };
  if (first === 'shared')
    return { kind: 'shared', owner: null, name: 'shared', prefix: 'shared/', container: false };
  const kind = CONTAINERS[first];
  if (kind) {
    // `users` alone, or a file directly in `users/`, is the container, not anybody's namespace.
    if (segs.length === 1 || (segs.length === 2 && /\.[A-Za-z0-9]+$/.test(segs[1]!) && !isDirHint(path)))
      return { kind, owner: null, name: first, prefix: `${first}/`, container: true };
    const owner = segs[1]!;
    return { kind, owner, name: `${first}/${owner}`, prefix: `${first}/${owner}/`, container: false };
  }
  return { kind: 'root', owner: null, name: 'root', prefix: '', container: false };
}

function isDirHint(path: string): boolean {
  return path.endsWith('/');
}

/** `context` of a search hit: the first segment, two for namespaced paths, null at the root. */
export function contextOf(path: string): string | null {
  const segs = path.split('/');
  if (segs.length <= 1) return null;
  if (CONTAINERS[segs[0]!] && segs.length > 2) return `${segs[0]}/${segs[1]}`;
  return segs[0]!;
}
