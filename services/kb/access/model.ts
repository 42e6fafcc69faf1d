/**
 * The access model's shapes: what a caller may do (the `Principal`, loaded once per request so every
 * decision after it is synchronous) and the JSON answers and request bodies of the teams, workspaces and
 * shares operations, as the TypeBox schemas the API reference prints.
 */
import type { SchemaOptions, Static, TSchema } from '@sinclair/typebox';
import { t } from 'elysia';
import type { Db, Orm } from '../../../db/index.ts';
import { Integer } from '../../../src/http/schemas.ts';
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
export const PRINCIPAL_TYPES: readonly PrincipalType[] = ['user', 'team', 'workspace'];

/** Longest free text (display names, descriptions, share messages) the operations take. */
export const MAX_TEXT = 2000;
/** Team and workspace names: they become directory names and URL segments. */
const SLUG_SOURCE = '^[a-z0-9][a-z0-9-]{0,62}$';

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

// ── JSON answers ───────────────────────────────────────────────────────────────────────────────────
// The answers are TypeBox schemas and their types are derived from them, so the API reference prints
// exactly the shapes the operations are compiled against and cannot fall behind a changed field.

const oneOf = <T extends string>(values: readonly T[], options?: SchemaOptions) =>
  t.Union(
    values.map((v) => t.Literal(v)),
    options,
  );
const Nullable = <S extends TSchema>(schema: S, description?: string) =>
  t.Union([schema, t.Null()], description ? { description } : {});

export const TeamSchema = t.Object({
  id: t.String(),
  name: t.String(),
  display_name: t.String(),
  description: Nullable(t.String()),
  parent_team: Nullable(t.String(), "The parent team's name"),
  path: t.String({ description: "The team's namespace, `teams/<name>/`" }),
  my_role: Nullable(oneOf(TEAM_ROLES), "The caller's role; null when not a member"),
  member_count: Integer(),
  created_by: Nullable(t.String()),
  created_at: t.String(),
});
export type TeamJson = Static<typeof TeamSchema>;

export const TeamMemberSchema = t.Object({
  team: t.String(),
  user_id: t.String(),
  email: Nullable(t.String()),
  role: oneOf(TEAM_ROLES),
  joined_at: t.String(),
});
export type TeamMemberJson = Static<typeof TeamMemberSchema>;

export const WorkspaceMemberSchema = t.Object({
  workspace: t.String(),
  user_id: t.String(),
  email: Nullable(t.String()),
  joined_at: t.String(),
});
export type WorkspaceMemberJson = Static<typeof WorkspaceMemberSchema>;

export const WorkspaceSchema = t.Object({
  id: t.String(),
  name: t.String(),
  display_name: t.String(),
  description: Nullable(t.String()),
  workspace_type: Nullable(oneOf(WORKSPACE_TYPES)),
  status: oneOf([...WORKSPACE_STATUSES, 'expired'] as const, {
    description: '`expired` once `expires_at` has passed, whatever the stored status',
  }),
  owner: Nullable(t.String(), "The creator's user id"),
  members: t.Array(WorkspaceMemberSchema, { description: 'The owner is listed too' }),
  path: t.String({ description: "The workspace's namespace, `workspaces/<name>/`" }),
  expires_at: Nullable(t.String()),
  created_at: t.String(),
});
export type WorkspaceJson = Static<typeof WorkspaceSchema>;

export const ShareSchema = t.Object({
  id: t.String(),
  path: t.String({ description: 'The shared file or directory; a directory share covers what is below' }),
  principal_type: oneOf(PRINCIPAL_TYPES),
  principal: t.String({ description: 'The user id, team name or workspace name' }),
  permissions: t.Array(oneOf(PERMISSIONS)),
  message: Nullable(t.String()),
  expires_at: Nullable(t.String()),
  created_by: Nullable(t.String()),
  created_at: t.String(),
});
export type ShareJson = Static<typeof ShareSchema>;

export const MeSchema = t.Object({
  user_id: t.String(),
  admin: t.Boolean(),
  namespaces: t.Array(t.Object({ path: t.String(), access: t.Array(oneOf(ACTIONS)) })),
  teams: t.Array(t.Object({ name: t.String(), role: oneOf(TEAM_ROLES) })),
  workspaces: t.Array(t.Object({ name: t.String(), owner: Nullable(t.String()) })),
});
export type MeJson = Static<typeof MeSchema>;

export const AccessSchema = t.Object({
  path: t.String(),
  namespace: t.String(),
  can: t.Object({
    read: t.Boolean(),
    list: t.Boolean(),
    search: t.Boolean(),
    write: t.Boolean(),
    move: t.Boolean(),
    delete: t.Boolean(),
    share: t.Boolean(),
  }),
});
export type AccessJson = Static<typeof AccessSchema>;

// ── request bodies ─────────────────────────────────────────────────────────────────────────────────
// The operations check their bodies field by field (rbac.ts) to answer each failing field in its own
// words; these schemas say the same rules for the API reference.

const Slug = (what: string) =>
  t.String({
    pattern: SLUG_SOURCE,
    description: `The ${what}'s name in paths and URLs; it cannot be changed later`,
  });
const DisplayName = t.String({ minLength: 1, maxLength: MAX_TEXT });
const ClearableText = Nullable(t.String({ maxLength: MAX_TEXT }));
const UserRef = t.String({ minLength: 1, description: 'A user id or email address' });
const Names = (description: string) => Nullable(t.Array(t.String({ minLength: 1 })), description);
const When = (description: string) => Nullable(t.String(), description);

export const CreateTeamBody = t.Object({
  name: Slug('team'),
  display_name: t.Optional(DisplayName),
  description: t.Optional(ClearableText),
  parent_team: t.Optional(Nullable(t.String(), "An active team's name")),
});
export const UpdateTeamBody = t.Object({
  name: t.Optional(t.String({ description: 'Accepted only when it is the current name' })),
  display_name: t.Optional(DisplayName),
  description: t.Optional(ClearableText),
  parent_team: t.Optional(Nullable(t.String(), 'Null detaches the team from its parent')),
});
export const AddTeamMemberBody = t.Object({
  user: UserRef,
  role: t.Optional(oneOf(TEAM_ROLES, { description: '`member` when absent; only owners grant `owner`' })),
});
export const UpdateTeamMemberBody = t.Object({ role: oneOf(TEAM_ROLES) });

export const CreateWorkspaceBody = t.Object({
  name: Slug('workspace'),
  display_name: t.Optional(DisplayName),
  description: t.Optional(ClearableText),
  workspace_type: t.Optional(Nullable(oneOf(WORKSPACE_TYPES), '`project` when absent')),
  initial_members: t.Optional(Names('User ids or email addresses')),
  expires_at: t.Optional(When('ISO-8601 date or date-time in the future; null for none')),
});
export const UpdateWorkspaceBody = t.Object({
  name: t.Optional(t.String({ description: 'Accepted only when it is the current name' })),
  display_name: t.Optional(DisplayName),
  description: t.Optional(ClearableText),
  status: t.Optional(Nullable(oneOf(WORKSPACE_STATUSES))),
  expires_at: t.Optional(When('ISO-8601 date or date-time; a past one closes the workspace now')),
});
export const AddWorkspaceMemberBody = t.Object({ user: UserRef });

export const CreateSharesBody = t.Object(
  {
    path: t.String({ minLength: 1, description: 'A file or directory; not the root, not a private folder' }),
    recipients: t.Optional(Names('User ids or email addresses')),
    teams: t.Optional(Names('Team names')),
    workspaces: t.Optional(Names('Workspace names')),
    permissions: t.Optional(Nullable(t.Array(oneOf(PERMISSIONS), { minItems: 1 }), '`["read"]` when absent')),
    message: t.Optional(ClearableText),
    expires_at: t.Optional(When('ISO-8601 date or date-time in the future; null for none')),
  },
  { description: 'At least one and at most 100 recipients across users, teams and workspaces' },
);

// ── helpers shared by the decision service and the RBAC operations ─────────────────────────────────

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SLUG_RE = new RegExp(SLUG_SOURCE);

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
