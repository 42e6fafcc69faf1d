/**
 * The access model's shapes: what a caller may do (the `Principal`, loaded once per request so every
 * decision after it is synchronous) and the JSON bodies of the teams, workspaces and shares operations.
 */
import type { Db, Orm } from '../../../db/index.ts';
import type { AccessAction, Caller, Permission } from '../types.ts';

export type TeamRole = 'owner' | 'admin' | 'member' | 'viewer';
export const TEAM_ROLES: readonly TeamRole[] = ['owner', 'admin', 'member', 'viewer'];

export type WorkspaceStatus = 'active' | 'archived' | 'completed';
export const WORKSPACE_STATUSES: readonly WorkspaceStatus[] = ['active', 'archived', 'completed'];
export type WorkspaceType = 'project' | 'incident' | 'research';
export const WORKSPACE_TYPES: readonly WorkspaceType[] = ['project', 'incident', 'research'];

export const PERMISSIONS: readonly Permission[] = ['read', 'write', 'delete'];
export const ACTIONS: readonly AccessAction[] = ['read', 'write', 'move', 'delete', 'share'];

export type PrincipalType = 'user' | 'team' | 'workspace';

/** A workspace the caller owns or belongs to. */
export interface WorkspaceGrant {
  id: string;
  name: string;
  /** The creator's user id. */
  owner: string | null;
  isOwner: boolean;
  status: WorkspaceStatus;
  expiresAt: Date | null;
}

/** A share that applies to the caller (to them, one of their teams or one of their workspaces). */
export interface ShareGrant {
  id: string;
  /** Normalised KB path of the shared file or directory; a directory share covers everything below. */
  path: string;
  permissions: ReadonlySet<Permission>;
  expiresAt: Date | null;
  via: PrincipalType;
}

/** Everything access decisions need about one caller. */
export interface Principal {
  caller: Caller;
  userId: string;
  /** Lower-cased, for the legacy `users/{email}/` folders. */
  email: string | null;
  /** `admin: true` identity, or the global role `kb_admin`. */
  admin: boolean;
  /** Global role `kb_editor`: edits `shared/` and the root namespace. */
  editor: boolean;
  /** Active teams by name. */
  teams: ReadonlyMap<string, TeamRole>;
  /** Owned and joined workspaces by name. */
  workspaces: ReadonlyMap<string, WorkspaceGrant>;
  /** Shares that were unexpired when the principal was loaded (decisions check the expiry again). */
  shares: readonly ShareGrant[];
}

// ── JSON bodies ────────────────────────────────────────────────────────────────────────────────────

export interface TeamJson {
  id: string;
  name: string;
  display_name: string;
  description: string | null;
  parent_team: string | null;
  path: string;
  my_role: TeamRole | null;
  member_count: number;
  created_by: string | null;
  created_at: string;
}

export interface TeamMemberJson {
  team: string;
  user_id: string;
  email: string | null;
  role: TeamRole;
  joined_at: string;
}

export interface WorkspaceMemberJson {
  workspace: string;
  user_id: string;
  email: string | null;
  joined_at: string;
}

export interface WorkspaceJson {
  id: string;
  name: string;
  display_name: string;
  description: string | null;
  workspace_type: WorkspaceType | null;
  status: WorkspaceStatus | 'expired';
  owner: string | null;
  members: WorkspaceMemberJson[];
  path: string;
  expires_at: string | null;
  created_at: string;
}

export interface ShareJson {
  id: string;
  path: string;
  principal_type: PrincipalType;
  /** The user id, team name or workspace name. */
  principal: string;
  permissions: Permission[];
  message: string | null;
  expires_at: string | null;
  created_by: string | null;
  created_at: string;
}

export interface MeJson {
  user_id: string;
  admin: boolean;
  namespaces: Array<{ path: string; access: AccessAction[] }>;
  teams: Array<{ name: string; role: TeamRole }>;
  workspaces: Array<{ name: string; owner: string | null }>;
}

export interface AccessJson {
  path: string;
  namespace: string;
  can: {
    read: boolean;
    list: boolean;
    search: boolean;
    write: boolean;
    move: boolean;
    delete: boolean;
    share: boolean;
  };
}

// ── helpers shared by the decision service and the RBAC operations ─────────────────────────────────

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SLUG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

/** Whether a share on `sharePath` reaches `path`: the path itself or anything below the directory. */
export function covers(sharePath: string, path: string): boolean {
  return sharePath === '' || path === sharePath || path.startsWith(`${sharePath}/`);
}

export function isExpired(expiresAt: Date | null, now = Date.now()): boolean {
  return expiresAt !== null && expiresAt.getTime() <= now;
}

export type AuditEvent =
  | 'kb.admin_read'
  | 'rbac.team_created'
  | 'rbac.team_updated'
  | 'rbac.team_deleted'
  | 'rbac.member_added'
  | 'rbac.member_removed'
  | 'rbac.role_changed'
  | 'rbac.share_created'
  | 'rbac.share_deleted'
  | 'rbac.workspace_created'
  | 'rbac.workspace_updated';

/** One row of the permission audit log, written in the caller's transaction when there is one. */
export async function writeAudit(
  db: Db,
  orm: Orm,
  caller: Caller,
  e: {
    eventType: AuditEvent;
    targetType: string;
    targetId: string;
    targetUserId?: string | null;
    details?: Record<string, unknown>;
  },
): Promise<void> {
  // The uuid columns reject anything else on PostgreSQL; an identity without a user row is still audited.
  const userId = UUID_RE.test(caller.id) ? caller.id : null;
  const keyId = caller.keyId && UUID_RE.test(caller.keyId) ? caller.keyId : null;
  await orm.insert(db.t.auditLog).values({
    id: crypto.randomUUID(),
    actorType: caller.authType === 'api_key' ? 'api_key' : 'user',
    actorUserId: userId,
    actorApiKeyId: keyId,
    eventType: e.eventType,
    targetType: e.targetType,
    targetId: e.targetId,
    targetUserId: e.targetUserId ?? null,
    details: e.details ?? {},
    requestId: caller.rid || null,
  });
}
