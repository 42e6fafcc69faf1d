/**
 * Teams, workspaces and shares: the operations behind `/teams`, `/workspaces`, `/shares`, `/me` and
 * `/access`. Inputs are parsed-but-untrusted JSON bodies; each method validates its own input, makes the
 * permission decision through `AccessService`, changes the database in one transaction together with
 * its permission-audit row, and returns the response body. Namespace scaffolding (a team's index files,
 * a workspace's README) is committed before the rows are written, so a KB that cannot take commits yet
 * (initial clone) leaves no half-created team behind.
 */
import { and, asc, desc, eq, inArray, or, type SQL, sql } from 'drizzle-orm';
import { constraintViolation, type Db, type Orm } from '../../../db/index.ts';
import { type FieldError, HttpError } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { checkPath } from '../paths/service.ts';
import type { Caller, Permission } from '../types.ts';
import {
  type AccessJson,
  covers,
  isExpired,
  iso,
  MAX_TEXT,
  type MeJson,
  PERMISSIONS,
  type Principal,
  type PrincipalType,
  type ShareJson,
  SLUG_RE,
  TEAM_ROLES,
  type TeamJson,
  type TeamMemberJson,
  type TeamRole,
  UUID_RE,
  WORKSPACE_STATUSES,
  WORKSPACE_TYPES,
  type WorkspaceJson,
  type WorkspaceMemberJson,
  type WorkspaceType,
  writeAudit,
} from './model.ts';
import { AccessService, namespaceFor } from './service.ts';

export type CommitFiles = (
  caller: Caller,
  files: Array<{ path: string; content: string }>,
  message: string,
) => Promise<string | null>;

export interface RbacDeps {
  db: Db;
  log: Logger;
  commitFiles: CommitFiles;
  /** Shared with the file operations when given; otherwise one of its own over the same database. */
  access?: AccessService;
}

type Body = Record<string, unknown>;
type TeamRow = Db['t']['teams']['$inferSelect'];
type WorkspaceRow = Db['t']['workspaces']['$inferSelect'];
type ShareRow = Db['t']['resourcePermissions']['$inferSelect'];
interface UserRef {
  id: string;
  email: string | null;
}

const MAX_RECIPIENTS = 100;

export class Rbac {
  private readonly db: Db;
  private readonly log: Logger;
  private readonly commitFiles: CommitFiles;
  readonly access: AccessService;

  constructor(deps: RbacDeps) {
    this.db = deps.db;
    this.log = deps.log;
    this.commitFiles = deps.commitFiles;
    this.access = deps.access ?? new AccessService({ db: deps.db, log: deps.log });
  }

  // ── me / access ────────────────────────────────────────────────────────────────────────────────────

  async me(caller: Caller): Promise<MeJson> {
    const p = await this.access.principal(caller);
    return {
      user_id: caller.id,
      admin: p.admin,
      namespaces: this.access.namespaces(p),
      teams: [...p.teams].sort(([a], [b]) => a.localeCompare(b)).map(([name, role]) => ({ name, role })),
      workspaces: [...p.workspaces.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((w) => ({ name: w.name, owner: w.owner })),
    };
  }

  async accessOf(caller: Caller, rawPath: unknown): Promise<AccessJson> {
    const path = checkPath(typeof rawPath === 'string' ? rawPath : '', { kind: 'dir' });
    const p = await this.access.principal(caller);
    const a = this.access;
    const read = a.can(p, 'read', path);
    const enter = read || a.canSeeEntry(p, path);
    return {
      path: path === '' ? '/' : path,
      namespace: namespaceFor(path).name,
      can: {
        read,
        list: enter,
        search: enter,
        write: a.can(p, 'write', path),
        move: a.can(p, 'move', path),
        delete: a.can(p, 'delete', path),
        // The same paths `createShares` refuses whoever asks.
        share: path !== '' && !isPrivatePath(path) && a.can(p, 'share', path),
      },
    };
  }

  // ── teams ──────────────────────────────────────────────────────────────────────────────────────────

  async createTeam(caller: Caller, body: unknown): Promise<TeamJson> {
    const b = objectBody(body);
    const errors: FieldError[] = [];
    const name = slug(b, 'name', errors);
    const displayName = optText(b, 'display_name', errors, { nullable: false }) ?? name ?? '';
    const description = optText(b, 'description', errors) ?? null;
    const parentName = optText(b, 'parent_team', errors) ?? null;
    failOn(errors);
    const p = await this.access.principal(caller);
    if (!p.admin) throw new HttpError(403, 'Forbidden: only a KB admin may create teams');
    const { orm, t } = this.db;
    if (await this.teamRow(name!, true)) throw new HttpError(409, `Team ${name} already exists`);
    let parentId: string | null = null;
    if (parentName !== null) {
      const parent = await this.teamRow(parentName, false);
      if (!parent) failOn([{ path: 'parent_team', message: `Team ${parentName} not found` }]);
      parentId = parent!.id;
    }
    await this.commitFiles(caller, teamScaffold(name!, displayName, description), `Create team ${name}`);
    const id = crypto.randomUUID();
    const now = new Date();
    try {
      await this.db.tx(async (tx) => {
        await tx.insert(t.teams).values({
          id,
          name: name!,
          displayName,
          description,
          parentTeamId: parentId,
          createdBy: caller.id,
          createdAt: now,
          updatedAt: now,
        });
        await tx
          .insert(t.teamMembers)
          .values({ teamId: id, userId: caller.id, teamRole: 'owner', joinedAt: now, invitedBy: caller.id });
        await writeAudit(this.db, tx, caller, {
          eventType: 'rbac.team_created',
          targetType: 'team',
          targetId: id,
          details: { name, display_name: displayName, parent_team: parentName },
        });
      });
    } catch (err) {
      if (constraintViolation(err) === 'unique') throw new HttpError(409, `Team ${name} already exists`);
      throw err;
    }
    const [row] = await orm.select().from(t.teams).where(eq(t.teams.id, id));
    return (await this.teamsJson([row!], new Map([[name!, 'owner']])))[0]!;
  }

  /** The caller's teams; a KB admin asking for `all` gets every active team. */
  async listTeams(caller: Caller, opts: { all?: boolean | string } = {}): Promise<{ teams: TeamJson[] }> {
    const p = await this.access.principal(caller);
    const { orm, t } = this.db;
    const all = p.admin && (opts.all === true || opts.all === 'true');
    const names = [...p.teams.keys()];
    if (!all && names.length === 0) return { teams: [] };
    const rows = await orm
      .select()
      .from(t.teams)
      .where(all ? eq(t.teams.isActive, true) : and(eq(t.teams.isActive, true), inArray(t.teams.name, names)))
      .orderBy(asc(t.teams.name));
    return { teams: await this.teamsJson(rows, p.teams) };
  }

  async getTeam(caller: Caller, name: string): Promise<TeamJson & { members: TeamMemberJson[] }> {
    const team = await this.activeTeam(name);
    const p = await this.access.principal(caller);
    if (!p.admin && !p.teams.has(team.name))
      throw new HttpError(403, `Forbidden: not a member of team ${team.name}`);
    const [json] = await this.teamsJson([team], p.teams);
    return { ...json!, members: await this.teamMembers(team) };
  }

  async updateTeam(caller: Caller, name: string, body: unknown): Promise<TeamJson> {
    const team = await this.activeTeam(name);
    const b = objectBody(body);
    const errors: FieldError[] = [];
    if (b.name !== undefined && b.name !== team.name)
      errors.push({ path: 'name', message: 'A team cannot be renamed' });
    const displayName = optText(b, 'display_name', errors, { nullable: false });
    const description = optText(b, 'description', errors);
    const parentName = optText(b, 'parent_team', errors);
    failOn(errors);
    const p = await this.access.principal(caller);
    this.assertTeamManager(p, team.name, `change team ${team.name}`);
    const { orm, t } = this.db;
    const set: Partial<TeamRow> = {};
    if (displayName != null) set.displayName = displayName;
    if (description !== undefined) set.description = description;
    if (parentName !== undefined) set.parentTeamId = await this.parentIdFor(team, parentName);
    await this.db.tx(async (tx) => {
      if (Object.keys(set).length > 0) await tx.update(t.teams).set(set).where(eq(t.teams.id, team.id));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.team_updated',
        targetType: 'team',
        targetId: team.id,
        details: { name: team.name, ...snake(set, parentName) },
      });
    });
    const [row] = await orm.select().from(t.teams).where(eq(t.teams.id, team.id));
    return (await this.teamsJson([row!], p.teams))[0]!;
  }

  /** Deactivates the team: its memberships stop counting; its files stay where they are. */
  async deleteTeam(caller: Caller, name: string): Promise<void> {
    const team = await this.activeTeam(name);
    const p = await this.access.principal(caller);
    if (!p.admin && p.teams.get(team.name) !== 'owner')
      throw new HttpError(403, `Forbidden: only a team owner may delete team ${team.name}`);
    const { t } = this.db;
    await this.db.tx(async (tx) => {
      await tx.update(t.teams).set({ isActive: false }).where(eq(t.teams.id, team.id));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.team_deleted',
        targetType: 'team',
        targetId: team.id,
        details: { name: team.name },
      });
    });
  }

  async addTeamMember(caller: Caller, name: string, body: unknown): Promise<TeamMemberJson> {
    const b = objectBody(body);
    const errors: FieldError[] = [];
    const ref = reqText(b, 'user', errors);
    const role = teamRole(b, errors) ?? 'member';
    failOn(errors);
    const team = await this.activeTeam(name);
    const p = await this.access.principal(caller);
    this.assertTeamManager(p, team.name, `manage members of team ${team.name}`);
    if (role === 'owner') this.assertTeamOwner(p, team.name, 'grant the owner role');
    const user = await this.resolveUser(ref!);
    const { t } = this.db;
    const now = new Date();
    const duplicate = () =>
      new HttpError(409, `User ${user.email ?? user.id} is already a member of team ${team.name}`);
    if (await this.teamMembership(team.id, user.id)) throw duplicate();
    try {
      await this.db.tx(async (tx) => {
        await tx
          .insert(t.teamMembers)
          .values({ teamId: team.id, userId: user.id, teamRole: role, joinedAt: now, invitedBy: caller.id });
        await writeAudit(this.db, tx, caller, {
          eventType: 'rbac.member_added',
          targetType: 'team',
          targetId: team.id,
          targetUserId: user.id,
          details: { team: team.name, role },
        });
      });
    } catch (err) {
      if (constraintViolation(err) === 'unique') throw duplicate();
      throw err;
    }
    const m = await this.teamMembership(team.id, user.id);
    return {
      team: team.name,
      user_id: user.id,
      email: user.email,
      role,
      joined_at: m!.joinedAt.toISOString(),
    };
  }

  async updateTeamMember(
    caller: Caller,
    name: string,
    userRef: string,
    body: unknown,
  ): Promise<TeamMemberJson> {
    const b = objectBody(body);
    const errors: FieldError[] = [];
    if (b.role === undefined) errors.push({ path: 'role', message: 'Required' });
    const role = teamRole(b, errors);
    failOn(errors);
    const team = await this.activeTeam(name);
    const p = await this.access.principal(caller);
    this.assertTeamManager(p, team.name, `manage members of team ${team.name}`);
    const user = await this.resolveUser(userRef);
    const current = await this.teamMembership(team.id, user.id);
    if (!current)
      throw new HttpError(404, `User ${user.email ?? user.id} is not a member of team ${team.name}`);
    const member = (r: TeamRole): TeamMemberJson => ({
      team: team.name,
      user_id: user.id,
      email: user.email,
      role: r,
      joined_at: current.joinedAt.toISOString(),
    });
    if (current.teamRole === role) return member(role!);
    if (role === 'owner' || current.teamRole === 'owner')
      this.assertTeamOwner(p, team.name, 'grant or remove the owner role');
    const { t } = this.db;
    await this.db.tx(async (tx) => {
      if (current.teamRole === 'owner') await this.assertNotLastOwner(tx, team, 'demote');
      await tx
        .update(t.teamMembers)
        .set({ teamRole: role! })
        .where(and(eq(t.teamMembers.teamId, team.id), eq(t.teamMembers.userId, user.id)));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.role_changed',
        targetType: 'team',
        targetId: team.id,
        targetUserId: user.id,
        details: { team: team.name, from: current.teamRole, to: role },
      });
    });
    return member(role!);
  }

  /** Managers remove anyone (only owners remove owners); every member may leave on their own. */
  async removeTeamMember(caller: Caller, name: string, userRef: string): Promise<void> {
    const team = await this.activeTeam(name);
    const p = await this.access.principal(caller);
    const user = await this.resolveUser(userRef);
    const self = user.id === caller.id;
    if (!self) this.assertTeamManager(p, team.name, `manage members of team ${team.name}`);
    const current = await this.teamMembership(team.id, user.id);
    if (!current)
      throw new HttpError(404, `User ${user.email ?? user.id} is not a member of team ${team.name}`);
    if (current.teamRole === 'owner' && !self) this.assertTeamOwner(p, team.name, 'remove an owner');
    const { t } = this.db;
    await this.db.tx(async (tx) => {
      if (current.teamRole === 'owner') await this.assertNotLastOwner(tx, team, 'remove');
      await tx
        .delete(t.teamMembers)
        .where(and(eq(t.teamMembers.teamId, team.id), eq(t.teamMembers.userId, user.id)));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.member_removed',
        targetType: 'team',
        targetId: team.id,
        targetUserId: user.id,
        details: { team: team.name, role: current.teamRole },
      });
    });
  }

  // ── workspaces ─────────────────────────────────────────────────────────────────────────────────────

  async createWorkspace(caller: Caller, body: unknown): Promise<WorkspaceJson> {
    const b = objectBody(body);
    const errors: FieldError[] = [];
    const name = slug(b, 'name', errors);
    const displayName = optText(b, 'display_name', errors, { nullable: false }) ?? name ?? '';
    const description = optText(b, 'description', errors) ?? null;
    const type = optEnum(b, 'workspace_type', WORKSPACE_TYPES, errors) ?? 'project';
    const refs = optStringList(b, 'initial_members', errors) ?? [];
    const expiresAt = optDate(b, 'expires_at', errors, { future: true }) ?? null;
    failOn(errors);
    if (!UUID_RE.test(caller.id)) throw new HttpError(403, 'Forbidden: only users may create workspaces');
    if (await this.workspaceRow(name!)) throw new HttpError(409, `Workspace ${name} already exists`);
    const members = new Map<string, UserRef>();
    for (const ref of refs) {
      const u = await this.resolveUser(ref);
      if (u.id !== caller.id) members.set(u.id, u);
    }
    await this.commitFiles(
      caller,
      [
        {
          path: `workspaces/${name}/README.md`,
          content: workspaceReadme(name!, displayName, description, type),
        },
      ],
      `Create workspace ${name}`,
    );
    const { orm, t } = this.db;
    const id = crypto.randomUUID();
    const now = new Date();
    try {
      await this.db.tx(async (tx) => {
        await tx.insert(t.workspaces).values({
          id,
          name: name!,
          displayName,
          description,
          workspaceType: type,
          status: 'active',
          createdBy: caller.id,
          createdAt: now,
          updatedAt: now,
          expiresAt,
        });
        // The owner is listed among the members too, so "who is in this workspace" is one query.
        const rows = [caller.id, ...members.keys()].map((userId) => ({
          workspaceId: id,
          userId,
          joinedAt: now,
          invitedBy: caller.id,
        }));
        await tx.insert(t.workspaceMembers).values(rows);
        await writeAudit(this.db, tx, caller, {
          eventType: 'rbac.workspace_created',
          targetType: 'workspace',
          targetId: id,
          details: { name, workspace_type: type, members: [...members.keys()], expires_at: iso(expiresAt) },
        });
      });
    } catch (err) {
      if (constraintViolation(err) === 'unique') throw new HttpError(409, `Workspace ${name} already exists`);
      throw err;
    }
    const [row] = await orm.select().from(t.workspaces).where(eq(t.workspaces.id, id));
    return this.workspaceJson(row!);
  }

  /** The caller's workspaces (owned or joined); a KB admin asking for `all` gets every one. */
  async listWorkspaces(
    caller: Caller,
    opts: { all?: boolean | string } = {},
  ): Promise<{ workspaces: WorkspaceJson[] }> {
    const p = await this.access.principal(caller);
    const { orm, t } = this.db;
    const all = p.admin && (opts.all === true || opts.all === 'true');
    const names = [...p.workspaces.keys()];
    if (!all && names.length === 0) return { workspaces: [] };
    const rows = await orm
      .select()
      .from(t.workspaces)
      .where(all ? undefined : inArray(t.workspaces.name, names))
      .orderBy(asc(t.workspaces.name));
    const out: WorkspaceJson[] = [];
    for (const row of rows) out.push(await this.workspaceJson(row));
    return { workspaces: out };
  }

  async getWorkspace(caller: Caller, name: string): Promise<WorkspaceJson> {
    const ws = await this.existingWorkspace(name);
    const p = await this.access.principal(caller);
    if (!p.admin && !p.workspaces.has(ws.name))
      throw new HttpError(403, `Forbidden: not a member of workspace ${ws.name}`);
    return this.workspaceJson(ws);
  }

  async updateWorkspace(caller: Caller, name: string, body: unknown): Promise<WorkspaceJson> {
    const ws = await this.existingWorkspace(name);
    const b = objectBody(body);
    const errors: FieldError[] = [];
    if (b.name !== undefined && b.name !== ws.name)
      errors.push({ path: 'name', message: 'A workspace cannot be renamed' });
    const displayName = optText(b, 'display_name', errors, { nullable: false });
    const description = optText(b, 'description', errors);
    const status = optEnum(b, 'status', WORKSPACE_STATUSES, errors);
    // A date in the past is allowed here: it is how an owner closes a workspace now.
    const expiresAt = optDate(b, 'expires_at', errors, { future: false });
    failOn(errors);
    const p = await this.access.principal(caller);
    this.assertWorkspaceOwner(p, ws, `change workspace ${ws.name}`);
    const set: Partial<WorkspaceRow> = {};
    if (displayName != null) set.displayName = displayName;
    if (description !== undefined) set.description = description;
    if (expiresAt !== undefined) set.expiresAt = expiresAt;
    if (status !== undefined && status !== ws.status) {
      set.status = status;
      set.archivedAt = status === 'archived' ? new Date() : null;
    }
    const { orm, t } = this.db;
    await this.db.tx(async (tx) => {
      if (Object.keys(set).length > 0)
        await tx.update(t.workspaces).set(set).where(eq(t.workspaces.id, ws.id));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.workspace_updated',
        targetType: 'workspace',
        targetId: ws.id,
        details: { name: ws.name, ...snake(set) },
      });
    });
    const [row] = await orm.select().from(t.workspaces).where(eq(t.workspaces.id, ws.id));
    return this.workspaceJson(row!);
  }

  async addWorkspaceMember(caller: Caller, name: string, body: unknown): Promise<WorkspaceMemberJson> {
    const b = objectBody(body);
    const errors: FieldError[] = [];
    const ref = reqText(b, 'user', errors);
    failOn(errors);
    const ws = await this.existingWorkspace(name);
    const p = await this.access.principal(caller);
    this.assertWorkspaceOwner(p, ws, `manage members of workspace ${ws.name}`);
    const user = await this.resolveUser(ref!);
    const { orm, t } = this.db;
    const wm = t.workspaceMembers;
    const duplicate = () =>
      new HttpError(409, `User ${user.email ?? user.id} is already a member of workspace ${ws.name}`);
    const existing = await orm
      .select()
      .from(wm)
      .where(and(eq(wm.workspaceId, ws.id), eq(wm.userId, user.id)));
    if (existing.length > 0 || user.id === ws.createdBy) throw duplicate();
    const now = new Date();
    try {
      await this.db.tx(async (tx) => {
        await tx
          .insert(wm)
          .values({ workspaceId: ws.id, userId: user.id, joinedAt: now, invitedBy: caller.id });
        await writeAudit(this.db, tx, caller, {
          eventType: 'rbac.member_added',
          targetType: 'workspace',
          targetId: ws.id,
          targetUserId: user.id,
          details: { workspace: ws.name },
        });
      });
    } catch (err) {
      if (constraintViolation(err) === 'unique') throw duplicate();
      throw err;
    }
    return { workspace: ws.name, user_id: user.id, email: user.email, joined_at: now.toISOString() };
  }

  async removeWorkspaceMember(caller: Caller, name: string, userRef: string): Promise<void> {
    const ws = await this.existingWorkspace(name);
    const p = await this.access.principal(caller);
    const user = await this.resolveUser(userRef);
    if (user.id !== caller.id) this.assertWorkspaceOwner(p, ws, `manage members of workspace ${ws.name}`);
    if (user.id === ws.createdBy)
      throw new HttpError(409, `The owner cannot be removed from workspace ${ws.name}`);
    const { orm, t } = this.db;
    const wm = t.workspaceMembers;
    const existing = await orm
      .select()
      .from(wm)
      .where(and(eq(wm.workspaceId, ws.id), eq(wm.userId, user.id)));
    if (existing.length === 0)
      throw new HttpError(404, `User ${user.email ?? user.id} is not a member of workspace ${ws.name}`);
    await this.db.tx(async (tx) => {
      await tx.delete(wm).where(and(eq(wm.workspaceId, ws.id), eq(wm.userId, user.id)));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.member_removed',
        targetType: 'workspace',
        targetId: ws.id,
        targetUserId: user.id,
        details: { workspace: ws.name },
      });
    });
  }

  // ── shares ─────────────────────────────────────────────────────────────────────────────────────────

  async createShares(caller: Caller, body: unknown): Promise<{ shares: ShareJson[] }> {
    const b = objectBody(body);
    const errors: FieldError[] = [];
    const rawPath = reqText(b, 'path', errors);
    const users = optStringList(b, 'recipients', errors) ?? [];
    const teams = optStringList(b, 'teams', errors) ?? [];
    const workspaces = optStringList(b, 'workspaces', errors) ?? [];
    const listErrors = errors.some((e) => /^(recipients|teams|workspaces)\b/.test(e.path));
    if (users.length + teams.length + workspaces.length === 0 && !listErrors)
      errors.push({
        path: 'recipients',
        message: 'At least one recipient (user, team or workspace) is required',
      });
    if (users.length + teams.length + workspaces.length > MAX_RECIPIENTS)
      errors.push({ path: 'recipients', message: `At most ${MAX_RECIPIENTS} recipients at once` });
    const permissions = sharePermissions(b, errors);
    const message = optText(b, 'message', errors) ?? null;
    const expiresAt = optDate(b, 'expires_at', errors, { future: true }) ?? null;
    failOn(errors, 'Invalid share');
    const path = checkPath(rawPath!, { kind: 'dir' });
    if (path === '') throw new HttpError(400, 'Invalid path: the whole knowledge base cannot be shared');
    if (isPrivatePath(path))
      throw new HttpError(400, 'Invalid path: files under users/<id>/private/ cannot be shared');
    const p = await this.access.principal(caller);
    this.access.assert(p, 'share', path);

    const targets: Array<{ type: PrincipalType; id: string; userId: string | null }> = [];
    for (const ref of users) {
      const u = await this.resolveUser(ref);
      targets.push({ type: 'user', id: u.id, userId: u.id });
    }
    for (const ref of teams)
      targets.push({ type: 'team', id: (await this.activeTeam(ref)).name, userId: null });
    for (const ref of workspaces)
      targets.push({ type: 'workspace', id: (await this.existingWorkspace(ref)).name, userId: null });
    const unique = [...new Map(targets.map((x) => [`${x.type}:${x.id}`, x])).values()];

    const { t } = this.db;
    const rp = t.resourcePermissions;
    const now = new Date();
    const rows = await this.db.tx(async (tx) => {
      const out: ShareRow[] = [];
      for (const target of unique) {
        // Sharing again with the same recipient replaces the earlier grant instead of stacking a second.
        const [row] = await tx
          .insert(rp)
          .values({
            id: crypto.randomUUID(),
            resourceType: 'kb',
            resourceId: path,
            principalType: target.type,
            principalId: target.id,
            permissions,
            message,
            grantedBy: caller.id,
            createdAt: now,
            expiresAt,
          })
          .onConflictDoUpdate({
            target: [rp.resourceType, rp.resourceId, rp.principalType, rp.principalId],
            set: { permissions, message, grantedBy: caller.id, createdAt: now, expiresAt },
          })
          .returning();
        out.push(row!);
        await writeAudit(this.db, tx, caller, {
          eventType: 'rbac.share_created',
          targetType: 'kb_share',
          targetId: row!.id,
          targetUserId: target.userId,
          details: {
            path,
            principal_type: target.type,
            principal: target.id,
            permissions,
            expires_at: iso(expiresAt),
          },
        });
      }
      return out;
    });
    return { shares: rows.map(shareJson) };
  }

  /**
   * `received`: shares that reach the caller (directly, through a team or a workspace), expired ones
   * included and marked. `granted`: shares the caller made, plus, with `path`, every share around that
   * path in a namespace the caller manages. `path` keeps shares on it, above it or below it.
   */
  async listShares(
    caller: Caller,
    query: { direction?: string; path?: string } = {},
  ): Promise<{ shares: Array<ShareJson & { expired: boolean }> }> {
    const direction = query.direction === undefined || query.direction === '' ? 'received' : query.direction;
    if (direction !== 'received' && direction !== 'granted')
      failOn([{ path: 'direction', message: 'Must be granted or received' }]);
    const path =
      query.path === undefined || query.path === '' || query.path === '/'
        ? null
        : checkPath(query.path, { kind: 'dir' });
    const p = await this.access.principal(caller);
    const { orm, t } = this.db;
    const rp = t.resourcePermissions;
    let rows: ShareRow[];
    if (direction === 'received') {
      const whom: SQL[] = [and(eq(rp.principalType, 'user'), eq(rp.principalId, caller.id)) as SQL];
      if (p.teams.size > 0)
        whom.push(and(eq(rp.principalType, 'team'), inArray(rp.principalId, [...p.teams.keys()])) as SQL);
      if (p.workspaces.size > 0)
        whom.push(
          and(eq(rp.principalType, 'workspace'), inArray(rp.principalId, [...p.workspaces.keys()])) as SQL,
        );
      rows = await orm
        .select()
        .from(rp)
        .where(and(eq(rp.resourceType, 'kb'), or(...whom)))
        .orderBy(desc(rp.createdAt));
    } else {
      const mine = UUID_RE.test(caller.id) ? eq(rp.grantedBy, caller.id) : sql`false`;
      rows = await orm
        .select()
        .from(rp)
        .where(and(eq(rp.resourceType, 'kb'), mine))
        .orderBy(desc(rp.createdAt));
      if (path !== null && this.access.can(p, 'share', path)) {
        const seen = new Set(rows.map((r) => r.id));
        const around = await orm
          .select()
          .from(rp)
          .where(and(eq(rp.resourceType, 'kb'), aroundPath(rp.resourceId, path)))
          .orderBy(desc(rp.createdAt));
        for (const r of around)
          if (!seen.has(r.id) && this.access.can(p, 'share', r.resourceId)) rows.push(r);
        rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
      }
    }
    const now = Date.now();
    const related =
      path === null ? rows : rows.filter((r) => covers(r.resourceId, path) || covers(path, r.resourceId));
    return { shares: related.map((r) => ({ ...shareJson(r), expired: isExpired(r.expiresAt, now) })) };
  }

  async deleteShare(caller: Caller, id: string): Promise<void> {
    const notFound = () => new HttpError(404, `Share ${id} not found`);
    if (!UUID_RE.test(id)) throw notFound();
    const { orm, t } = this.db;
    const rp = t.resourcePermissions;
    const [row] = await orm
      .select()
      .from(rp)
      .where(and(eq(rp.id, id), eq(rp.resourceType, 'kb')));
    if (!row) throw notFound();
    const p = await this.access.principal(caller);
    if (row.grantedBy !== caller.id && !this.access.can(p, 'share', row.resourceId))
      throw new HttpError(
        403,
        "Forbidden: only the share's creator or the namespace's manager may delete it",
      );
    await this.db.tx(async (tx) => {
      await tx.delete(rp).where(eq(rp.id, id));
      await writeAudit(this.db, tx, caller, {
        eventType: 'rbac.share_deleted',
        targetType: 'kb_share',
        targetId: id,
        targetUserId: row.principalType === 'user' && UUID_RE.test(row.principalId) ? row.principalId : null,
        details: {
          path: row.resourceId,
          principal_type: row.principalType,
          principal: row.principalId,
          permissions: row.permissions,
        },
      });
    });
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────

  /** A user by id or (case-insensitive) email. */
  private async resolveUser(ref: string): Promise<UserRef> {
    const { orm, t } = this.db;
    const r = ref.trim();
    const where = UUID_RE.test(r)
      ? eq(t.users.id, r.toLowerCase())
      : eq(sql`lower(${t.users.email})`, r.toLowerCase());
    const [row] = await orm
      .select({ id: t.users.id, email: t.users.email })
      .from(t.users)
      .where(where)
      .limit(1);
    if (!row) throw new HttpError(404, `User ${r} not found`);
    return row;
  }

  private async teamRow(name: string, includeInactive: boolean): Promise<TeamRow | undefined> {
    const { orm, t } = this.db;
    const [row] = await orm
      .select()
      .from(t.teams)
      .where(
        includeInactive ? eq(t.teams.name, name) : and(eq(t.teams.name, name), eq(t.teams.isActive, true)),
      )
      .limit(1);
    return row;
  }

  private async activeTeam(name: string): Promise<TeamRow> {
    const row = typeof name === 'string' ? await this.teamRow(name, false) : undefined;
    if (!row) throw new HttpError(404, `Team ${name} not found`);
    return row;
  }

  private async teamMembership(teamId: string, userId: string) {
    const { orm, t } = this.db;
    const [row] = await orm
      .select()
      .from(t.teamMembers)
      .where(and(eq(t.teamMembers.teamId, teamId), eq(t.teamMembers.userId, userId)));
    return row;
  }

  private async teamMembers(team: TeamRow): Promise<TeamMemberJson[]> {
    const { orm, t } = this.db;
    const rows = await orm
      .select({
        userId: t.teamMembers.userId,
        email: t.users.email,
        role: t.teamMembers.teamRole,
        joinedAt: t.teamMembers.joinedAt,
      })
      .from(t.teamMembers)
      .innerJoin(t.users, eq(t.users.id, t.teamMembers.userId))
      .where(eq(t.teamMembers.teamId, team.id))
      .orderBy(asc(t.teamMembers.joinedAt), asc(t.users.email));
    return rows.map((r) => ({
      team: team.name,
      user_id: r.userId,
      email: r.email,
      role: r.role,
      joined_at: r.joinedAt.toISOString(),
    }));
  }

  private async teamsJson(rows: TeamRow[], roles: ReadonlyMap<string, TeamRole>): Promise<TeamJson[]> {
    if (rows.length === 0) return [];
    const { orm, t } = this.db;
    const ids = rows.map((r) => r.id);
    const counts = await orm
      .select({ teamId: t.teamMembers.teamId, n: sql<number>`count(*)`.mapWith(Number) })
      .from(t.teamMembers)
      .where(inArray(t.teamMembers.teamId, ids))
      .groupBy(t.teamMembers.teamId);
    const parentIds = [...new Set(rows.map((r) => r.parentTeamId).filter((x): x is string => x !== null))];
    const parents =
      parentIds.length === 0
        ? []
        : await orm
            .select({ id: t.teams.id, name: t.teams.name })
            .from(t.teams)
            .where(inArray(t.teams.id, parentIds));
    const countOf = new Map(counts.map((c) => [c.teamId, c.n]));
    const nameOf = new Map(parents.map((x) => [x.id, x.name]));
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      display_name: r.displayName,
      description: r.description,
      parent_team: r.parentTeamId ? (nameOf.get(r.parentTeamId) ?? null) : null,
      path: `teams/${r.name}/`,
      my_role: roles.get(r.name) ?? null,
      member_count: countOf.get(r.id) ?? 0,
      created_by: r.createdBy,
      created_at: r.createdAt.toISOString(),
    }));
  }

  /** The parent's id, refusing a parent that would make the team its own ancestor. */
  private async parentIdFor(team: TeamRow, parentName: string | null): Promise<string | null> {
    if (parentName === null) return null;
    const parent = await this.teamRow(parentName, false);
    if (!parent) failOn([{ path: 'parent_team', message: `Team ${parentName} not found` }]);
    const { orm, t } = this.db;
    const seen = new Set<string>();
    for (let id: string | null = parent!.id; id !== null && !seen.has(id); ) {
      if (id === team.id) failOn([{ path: 'parent_team', message: 'A team cannot be its own ancestor' }]);
      seen.add(id);
      const [row] = await orm
        .select({ parent: t.teams.parentTeamId })
        .from(t.teams)
        .where(eq(t.teams.id, id));
      id = row?.parent ?? null;
    }
    return parent!.id;
  }

  private assertTeamManager(p: Principal, team: string, what: string): void {
    const role = p.teams.get(team);
    if (p.admin || role === 'owner' || role === 'admin') return;
    throw new HttpError(403, `Forbidden: only a team owner or admin may ${what}`);
  }

  private assertTeamOwner(p: Principal, team: string, what: string): void {
    if (p.admin || p.teams.get(team) === 'owner') return;
    throw new HttpError(403, `Forbidden: only a team owner may ${what}`);
  }

  private async assertNotLastOwner(tx: Orm, team: TeamRow, verb: 'demote' | 'remove'): Promise<void> {
    const { t } = this.db;
    const [row] = await tx
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(t.teamMembers)
      .where(and(eq(t.teamMembers.teamId, team.id), eq(t.teamMembers.teamRole, 'owner')));
    if ((row?.n ?? 0) <= 1) throw new HttpError(409, `Cannot ${verb} the last owner of team ${team.name}`);
  }

  private async workspaceRow(name: string): Promise<WorkspaceRow | undefined> {
    const { orm, t } = this.db;
    const [row] = await orm.select().from(t.workspaces).where(eq(t.workspaces.name, name)).limit(1);
    return row;
  }

  private async existingWorkspace(name: string): Promise<WorkspaceRow> {
    const row = typeof name === 'string' ? await this.workspaceRow(name) : undefined;
    if (!row) throw new HttpError(404, `Workspace ${name} not found`);
    return row;
  }

  private assertWorkspaceOwner(p: Principal, ws: WorkspaceRow, what: string): void {
    if (p.admin || (ws.createdBy !== null && ws.createdBy === p.userId)) return;
    throw new HttpError(403, `Forbidden: only the workspace owner may ${what}`);
  }

  private async workspaceJson(row: WorkspaceRow): Promise<WorkspaceJson> {
    const { orm, t } = this.db;
    const wm = t.workspaceMembers;
    const members = await orm
      .select({ userId: wm.userId, email: t.users.email, joinedAt: wm.joinedAt })
      .from(wm)
      .innerJoin(t.users, eq(t.users.id, wm.userId))
      .where(eq(wm.workspaceId, row.id))
      .orderBy(asc(wm.joinedAt), asc(t.users.email));
    return {
      id: row.id,
      name: row.name,
      display_name: row.displayName,
      description: row.description,
      workspace_type: row.workspaceType,
      status: isExpired(row.expiresAt) ? 'expired' : row.status,
      owner: row.createdBy,
      members: members.map((m) => ({
        workspace: row.name,
        user_id: m.userId,
        email: m.email,
        joined_at: m.joinedAt.toISOString(),
      })),
      path: `workspaces/${row.name}/`,
      expires_at: iso(row.expiresAt),
      created_at: row.createdAt.toISOString(),
    };
  }
}

// ── input parsing ────────────────────────────────────────────────────────────────────────────────────

function failOn(errors: FieldError[], detail = 'Invalid request body'): void {
  if (errors.length > 0) throw new HttpError(422, detail, { errors });
}

function objectBody(body: unknown): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(422, 'Invalid request body', {
      errors: [{ path: '', message: 'Expected a JSON object' }],
    });
  return body as Body;
}

function slug(b: Body, key: string, errors: FieldError[]): string | undefined {
  const v = b[key];
  if (typeof v !== 'string' || v === '') {
    errors.push({ path: key, message: 'Required' });
    return undefined;
  }
  if (!SLUG_RE.test(v)) {
    errors.push({
      path: key,
      message: 'Must be 1-63 lowercase letters, digits or hyphens, starting with a letter or digit',
    });
    return undefined;
  }
  return v;
}

function reqText(b: Body, key: string, errors: FieldError[]): string | undefined {
  const v = b[key];
  if (typeof v !== 'string' || v.trim() === '') {
    errors.push({ path: key, message: 'Required' });
    return undefined;
  }
  return v;
}

/** undefined: absent; null: explicitly cleared (when allowed). */
function optText(
  b: Body,
  key: string,
  errors: FieldError[],
  opts: { nullable?: boolean } = {},
): string | null | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (v === null && opts.nullable !== false) return null;
  if (typeof v !== 'string' || (opts.nullable === false && v.trim() === '')) {
    errors.push({
      path: key,
      message: opts.nullable === false ? 'Must be a non-empty string' : 'Must be a string or null',
    });
    return undefined;
  }
  if (v.length > MAX_TEXT) {
    errors.push({ path: key, message: `Must be at most ${MAX_TEXT} characters` });
    return undefined;
  }
  return v;
}

function optEnum<T extends string>(
  b: Body,
  key: string,
  allowed: readonly T[],
  errors: FieldError[],
): T | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    errors.push({ path: key, message: `Must be one of: ${allowed.join(', ')}` });
    return undefined;
  }
  return v as T;
}

function teamRole(b: Body, errors: FieldError[]): TeamRole | undefined {
  return optEnum(b, 'role', TEAM_ROLES, errors);
}

function optStringList(b: Body, key: string, errors: FieldError[]): string[] | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    errors.push({ path: key, message: 'Must be a list of strings' });
    return undefined;
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '')
      errors.push({ path: `${key}.${i}`, message: 'Must be a non-empty string' });
    else out.push(item.trim());
  });
  return out;
}

/** undefined: absent; null: no expiry. */
function optDate(
  b: Body,
  key: string,
  errors: FieldError[],
  opts: { future: boolean },
): Date | null | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (v === null) return null;
  // A bare date or a date-time; `Date.parse` alone also accepts free text like "March 7".
  const ms =
    typeof v === 'string' && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)
      ? Date.parse(v)
      : Number.NaN;
  if (Number.isNaN(ms)) {
    errors.push({ path: key, message: 'Must be an ISO-8601 date-time' });
    return undefined;
  }
  if (opts.future && ms <= Date.now()) {
    errors.push({ path: key, message: 'Must be in the future' });
    return undefined;
  }
  return new Date(ms);
}

function sharePermissions(b: Body, errors: FieldError[]): Permission[] {
  const v = b.permissions;
  if (v === undefined || v === null) return ['read'];
  if (!Array.isArray(v) || v.length === 0) {
    errors.push({ path: 'permissions', message: 'Must be a non-empty list of read, write, delete' });
    return [];
  }
  const bad = v.filter((x) => typeof x !== 'string' || !(PERMISSIONS as readonly string[]).includes(x));
  if (bad.length > 0) {
    errors.push({
      path: 'permissions',
      message: `Unknown permission(s): ${bad.map(String).join(', ')}; allowed: read, write, delete`,
    });
    return [];
  }
  // Stored in a fixed order so equal grants read back equal.
  return PERMISSIONS.filter((x) => v.includes(x));
}

function isPrivatePath(path: string): boolean {
  const segs = path.split('/');
  return segs[0] === 'users' && segs.length >= 3 && segs[2] === 'private';
}

/** Shares on `path`, on a directory above it, or below it (SQL side; `covers` decides exactly). */
function aroundPath(col: Db['t']['resourcePermissions']['resourceId'], path: string): SQL {
  const ancestors: string[] = [];
  const segs = path.split('/');
  for (let i = 1; i <= segs.length; i++) ancestors.push(segs.slice(0, i).join('/'));
  const below = `${path.replaceAll('\\', '\\\\').replaceAll('%', '\\%').replaceAll('_', '\\_')}/%`;
  return or(inArray(col, ancestors), sql`${col} LIKE ${below} ESCAPE '\\'`) as SQL;
}

function shareJson(r: ShareRow): ShareJson {
  return {
    id: r.id,
    path: r.resourceId,
    principal_type: r.principalType,
    principal: r.principalId,
    permissions: PERMISSIONS.filter((x) => Array.isArray(r.permissions) && r.permissions.includes(x)),
    message: r.message,
    expires_at: iso(r.expiresAt),
    created_by: r.grantedBy,
    created_at: r.createdAt.toISOString(),
  };
}

/** The changed columns in the API's spelling, for audit details. */
function snake(set: Record<string, unknown>, parentName?: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(set)) {
    if (k === 'parentTeamId') {
      out.parent_team = parentName ?? null;
      continue;
    }
    out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

// ── scaffolding ──────────────────────────────────────────────────────────────────────────────────────

function yamlString(s: string): string {
  return JSON.stringify(s);
}

function indexFile(title: string, tags: string[], body: string): string {
  return `---\ntitle: ${yamlString(title)}\ntags: [${tags.join(', ')}]\n---\n# ${title}\n\n${body}\n`;
}

function teamScaffold(
  name: string,
  displayName: string,
  description: string | null,
): Array<{ path: string; content: string }> {
  const base = `teams/${name}`;
  const sections: Array<[string, string, string]> = [
    ['standards', 'Standards', `Conventions and standards the ${displayName} team works by.`],
    ['onboarding', 'Onboarding', `What a new member of ${displayName} needs to know first.`],
    ['knowledge-base', 'Knowledge Base', `Reference material collected by ${displayName}.`],
  ];
  return [
    {
      path: `${base}/+${name}.md`,
      content: indexFile(
        displayName,
        ['team', name],
        `${description ?? `Home of the ${displayName} team.`}\n\n${sections
          .map(([dir, label]) => `- [[${base}/${dir}/+${dir}|${label}]]`)
          .join('\n')}`,
      ),
    },
    ...sections.map(([dir, label, text]) => ({
      path: `${base}/${dir}/+${dir}.md`,
      content: indexFile(`${displayName} ${label}`, ['team', name, dir], text),
    })),
  ];
}

function workspaceReadme(
  name: string,
  displayName: string,
  description: string | null,
  type: WorkspaceType,
): string {
  return indexFile(displayName, ['workspace', type, name], description ?? `Workspace for ${displayName}.`);
}
