/**
 * Access decisions for the KB. Everything about the caller that a decision needs (global KB roles, team
 * roles, workspaces, shares) is loaded once per request into a `Principal`; after that every decision is
 * a synchronous function of the principal and the path, so nothing about the file system (not even
 * whether a file exists) can influence an answer.
 */
import { and, eq, gt, inArray, isNull, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { type Namespace, namespaceOf } from '../paths/namespace.ts';
import { TEXT_EXTENSIONS } from '../paths/service.ts';
import type { AccessAction, Caller, Permission } from '../types.ts';
import {
  ACTIONS,
  covers,
  isExpired,
  type Principal,
  type ShareGrant,
  type TeamRole,
  UUID_RE,
  type WorkspaceGrant,
  writeAudit,
} from './model.ts';

export type { Principal } from './model.ts';

export interface AccessDeps {
  db: Db;
  log: Logger;
}

const KB_ROLES = ['kb_admin', 'kb_editor'];

function clean(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

/**
 * `namespaceOf`, except that `users/<name.ext>` is only taken for a file in the container when the
 * extension is one a KB file can have: a legacy folder `users/ann@example.com` must stay ann's, or the
 * folder itself would be open to everybody.
 */
export function namespaceFor(rel: string): Namespace {
  const ns = namespaceOf(rel);
  if (!ns.container) return ns;
  const segs = rel.split('/');
  if (segs.length !== 2) return ns;
  const dot = segs[1]!.lastIndexOf('.');
  if (TEXT_EXTENSIONS.includes(segs[1]!.slice(dot).toLowerCase())) return ns;
  return { ...namespaceOf(`${rel}/`), container: false };
}

export class AccessService {
  private readonly db: Db;
  private readonly log: Logger;

  constructor(deps: AccessDeps) {
    this.db = deps.db;
    this.log = deps.log;
  }

  // ── loading ────────────────────────────────────────────────────────────────────────────────────────

  async principal(caller: Caller): Promise<Principal> {
    const email = caller.email ? caller.email.trim().toLowerCase() : null;
    const base = { caller, userId: caller.id, email };
    // Every id column is a UUID; an identity that is not one owns no rows (and PostgreSQL would reject it).
    if (!UUID_RE.test(caller.id)) {
      const shares = await this.loadShares(caller.id, [], []);
      return {
        ...base,
        admin: caller.admin,
        editor: false,
        teams: new Map(),
        workspaces: new Map(),
        shares,
      };
    }
    const [roles, teams, workspaces] = await Promise.all([
      this.loadRoles(caller.id),
      this.loadTeams(caller.id),
      this.loadWorkspaces(caller.id),
    ]);
    const shares = await this.loadShares(caller.id, [...teams.keys()], [...workspaces.keys()]);
    return {
      ...base,
      admin: caller.admin || roles.has('kb_admin'),
      editor: roles.has('kb_editor'),
      teams,
      workspaces,
      shares,
    };
  }

  private async loadRoles(userId: string): Promise<Set<string>> {
    const { orm, t } = this.db;
    const rows = await orm
      .select({ name: t.roles.name })
      .from(t.userRoles)
      .innerJoin(t.roles, eq(t.roles.id, t.userRoles.roleId))
      .where(
        and(
          eq(t.userRoles.userId, userId),
          eq(t.userRoles.contextType, 'global'),
          inArray(t.roles.name, KB_ROLES),
          eq(t.roles.isActive, true),
          or(isNull(t.userRoles.expiresAt), gt(t.userRoles.expiresAt, new Date())),
        ),
      );
    return new Set(rows.map((r) => r.name));
  }

  private async loadTeams(userId: string): Promise<Map<string, TeamRole>> {
    const { orm, t } = this.db;
    const rows = await orm
      .select({ name: t.teams.name, role: t.teamMembers.teamRole })
      .from(t.teamMembers)
      .innerJoin(t.teams, eq(t.teams.id, t.teamMembers.teamId))
      .where(and(eq(t.teamMembers.userId, userId), eq(t.teams.isActive, true)));
    return new Map(rows.map((r) => [r.name, r.role]));
  }

  private async loadWorkspaces(userId: string): Promise<Map<string, WorkspaceGrant>> {
    const { orm, t } = this.db;
    const joined = orm
      .select({ id: t.workspaceMembers.workspaceId })
      .from(t.workspaceMembers)
      .where(eq(t.workspaceMembers.userId, userId));
    const rows = await orm
      .select({
        id: t.workspaces.id,
        name: t.workspaces.name,
        owner: t.workspaces.createdBy,
        status: t.workspaces.status,
        expiresAt: t.workspaces.expiresAt,
      })
      .from(t.workspaces)
      .where(or(eq(t.workspaces.createdBy, userId), inArray(t.workspaces.id, joined)));
    return new Map(rows.map((r) => [r.name, { ...r, isOwner: r.owner === userId }]));
  }

  private async loadShares(userId: string, teams: string[], workspaces: string[]): Promise<ShareGrant[]> {
    const { orm, t } = this.db;
    const rp = t.resourcePermissions;
    const whom: SQL[] = [and(eq(rp.principalType, 'user'), eq(rp.principalId, userId)) as SQL];
    if (teams.length > 0) whom.push(and(eq(rp.principalType, 'team'), inArray(rp.principalId, teams)) as SQL);
    if (workspaces.length > 0)
      whom.push(and(eq(rp.principalType, 'workspace'), inArray(rp.principalId, workspaces)) as SQL);
    const rows = await orm
      .select({
        id: rp.id,
        path: rp.resourceId,
        permissions: rp.permissions,
        expiresAt: rp.expiresAt,
        via: rp.principalType,
      })
      .from(rp)
      .where(
        and(eq(rp.resourceType, 'kb'), or(...whom), or(isNull(rp.expiresAt), gt(rp.expiresAt, new Date()))),
      );
    return rows.map((r) => ({
      id: r.id,
      path: clean(r.path),
      permissions: new Set<Permission>(Array.isArray(r.permissions) ? r.permissions : []),
      expiresAt: r.expiresAt,
      via: r.via,
    }));
  }

  // ── decisions ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * May the caller do `action` on `path` (normalised, KB-relative)? `move` at a path means both taking
   * something away from it and putting something there, so it needs `write` and `delete` there.
   */
  can(p: Principal, action: AccessAction, path: string): boolean {
    if (p.admin) return true;
    const rel = clean(path);
    if (action === 'move') return this.can(p, 'write', rel) && this.can(p, 'delete', rel);
    if (this.roleAllows(p, namespaceFor(rel), action)) return true;
    // Recipients never get the right to re-share.
    if (action === 'share') return false;
    return this.shareAllows(p, action, rel);
  }

  /** Throws the 403 the API answers with; for a move, check `delete` at the source and `write` at the destination. */
  assert(p: Principal, action: AccessAction, path: string): void {
    if (!this.can(p, action, path)) {
      const rel = clean(path);
      throw new HttpError(403, `Forbidden: no ${action} access to ${rel === '' ? '/' : rel}`);
    }
  }

  /**
   * Whether a directory shows up in a listing: readable, or on the way to something shared with the
   * caller (so a share in someone else's namespace can be reached by browsing).
   */
  canSeeEntry(p: Principal, dirPath: string): boolean {
    const rel = clean(dirPath);
    if (this.can(p, 'read', rel)) return true;
    const now = Date.now();
    return p.shares.some((s) => !isExpired(s.expiresAt, now) && (rel === '' || s.path.startsWith(`${rel}/`)));
  }

  readFilter(p: Principal): (path: string) => boolean {
    return (path) => this.can(p, 'read', path);
  }

  /** The namespaces the caller has a standing right in (not single shares), for `/me`. */
  namespaces(p: Principal): Array<{ path: string; access: AccessAction[] }> {
    const prefixes = [`users/${p.userId}/`, 'shared/'];
    for (const name of [...p.teams.keys()].sort()) prefixes.push(`teams/${name}/`);
    for (const name of [...p.workspaces.keys()].sort()) prefixes.push(`workspaces/${name}/`);
    return prefixes.map((path) => ({ path, access: ACTIONS.filter((a) => this.can(p, a, path)) }));
  }

  /**
   * Records a KB admin reading a user's namespace that their own rights would not open. Never fails
   * the read: the file has already been authorised, and a broken log must not make it unreadable.
   */
  async recordAdminRead(p: Principal, path: string): Promise<void> {
    if (!p.admin) return;
    const rel = clean(path);
    const ns = namespaceFor(rel);
    if (ns.kind !== 'user' || ns.container || ns.owner === null) return;
    if (this.can({ ...p, admin: false }, 'read', rel)) return;
    try {
      const targetUserId = await this.userIdOf(ns.owner);
      await writeAudit(this.db, this.db.orm, p.caller, {
        eventType: 'kb.admin_read',
        targetType: 'kb_path',
        targetId: rel,
        targetUserId,
        details: { path: rel, namespace: ns.name },
      });
    } catch (err) {
      this.log.warn('kb admin read not audited', { path: rel, error: (err as Error).message });
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────

  private owns(p: Principal, owner: string | null): boolean {
    if (owner === null) return false;
    if (owner === p.userId) return true;
    // The Python platform kept personal folders under the email address.
    return p.email !== null && owner.toLowerCase() === p.email;
  }

  private roleAllows(p: Principal, ns: Namespace, action: Exclude<AccessAction, 'move'>): boolean {
    // `users/`, `teams/`, `workspaces/` themselves belong to nobody: anyone may look (listings are
    // filtered entry by entry), only admins may put files there.
    if (ns.container) return action === 'read';
    switch (ns.kind) {
      case 'root':
      case 'shared':
        if (action === 'read') return true;
        return action !== 'share' && p.editor;
      case 'user':
        return this.owns(p, ns.owner);
      case 'team': {
        const role = ns.owner === null ? undefined : p.teams.get(ns.owner);
        if (role === undefined) return false;
        if (role === 'owner' || role === 'admin') return true;
        if (role === 'member') return action !== 'share';
        return action === 'read';
      }
      case 'workspace': {
        const w = ns.owner === null ? undefined : p.workspaces.get(ns.owner);
        if (w === undefined) return false;
        if (w.isOwner) return true;
        if (action === 'read') return true;
        if (action === 'share') return false;
        return w.status !== 'archived' && !isExpired(w.expiresAt);
      }
    }
  }

  private shareAllows(p: Principal, action: 'read' | 'write' | 'delete', path: string): boolean {
    const now = Date.now();
    for (const s of p.shares) {
      if (isExpired(s.expiresAt, now) || !covers(s.path, path)) continue;
      // `write` and `delete` shares include reading.
      if (action === 'read' ? s.permissions.size > 0 : s.permissions.has(action)) return true;
    }
    return false;
  }

  /** The user a personal folder belongs to: by id, or by the email of a legacy folder. */
  private async userIdOf(owner: string): Promise<string | null> {
    const { orm, t } = this.db;
    const where = UUID_RE.test(owner)
      ? eq(t.users.id, owner)
      : owner.includes('@')
        ? eq(sql`lower(${t.users.email})`, owner.toLowerCase())
        : undefined;
    if (!where) return null;
    const [row] = await orm.select({ id: t.users.id }).from(t.users).where(where).limit(1);
    return row?.id ?? null;
  }
}
