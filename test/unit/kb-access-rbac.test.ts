/**
 * Teams, workspaces and shares operations against a real database: the response bodies, the rules on who
 * may change what (last owner, owner-only grants, workspace owner, share creator or manager), input
 * validation, audit rows, and the bad-input cases of the KB contract that live at this level (user A and
 * B's file, share validation, team viewer, archived/expired workspace, shared/ and root writes, move).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { type Db, openDb } from '../../db/index.ts';
import { Rbac } from '../../services/kb/access/rbac.ts';
import { parseDocument } from '../../services/kb/documents/parse.ts';
import type { Caller, Permission } from '../../services/kb/types.ts';
import { HttpError } from '../../src/http/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { dbOptions, dropTestDatabases, testBackends } from '../support/backends.ts';

const uid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const U = {
  admin: uid(1),
  alice: uid(2),
  bob: uid(3),
  carol: uid(4),
  dave: uid(5),
  erin: uid(6),
  kbAdmin: uid(7),
} as const;
type Who = keyof typeof U;

function caller(who: Who): Caller {
  return {
    id: U[who],
    email: `${who}@example.com`,
    name: who,
    admin: who === 'admin',
    authType: who === 'admin' ? 'api_key' : 'jwt',
    keyId: who === 'admin' ? uid(0xffff) : null,
    rid: `rid-${who}`,
  };
}

/** Runs `fn` and returns the HttpError it threw (fails the test when it throws nothing else). */
async function failure(fn: () => Promise<unknown>): Promise<HttpError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected an HttpError, got success');
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const backends = testBackends();
afterAll(dropTestDatabases);

for (const backend of backends) {
  describe(`kb rbac operations (${backend.name})`, () => {
    let db: Db;
    let rbac: Rbac;
    let kbDir: string;
    const commits: Array<{ by: string; paths: string[]; message: string }> = [];
    /** When set, the next commits fail the way a KB that is still cloning does. */
    let kbUnavailable = false;

    const audit = (eventType: string) =>
      db.orm.select().from(db.t.auditLog).where(eq(db.t.auditLog.eventType, eventType));
    const can = async (who: Who, action: 'read' | 'write' | 'move' | 'delete' | 'share', path: string) =>
      rbac.access.can(await rbac.access.principal(caller(who)), action, path);

    beforeAll(async () => {
      db = await openDb(dbOptions(await backend.databaseUrl()));
      kbDir = mkdtempSync(join(tmpdir(), 'gaia-kb-rbac-'));
      rbac = new Rbac({
        db,
        log: silentLogger,
        // Stands in for the file operations' commit: writes the files so their content can be checked.
        commitFiles: async (c, files, message) => {
          if (kbUnavailable) throw new HttpError(503, 'Knowledge base is initialising');
          for (const f of files) {
            mkdirSync(dirname(join(kbDir, f.path)), { recursive: true });
            writeFileSync(join(kbDir, f.path), f.content);
          }
          commits.push({ by: c.id, paths: files.map((f) => f.path), message });
          return 'c'.repeat(40);
        },
      });
      await db.orm.insert(db.t.users).values(
        Object.entries(U).map(([who, id]) => ({
          id,
          // Stored in mixed case: lookups by email ignore case.
          email: who === 'bob' ? 'Bob@Example.com' : `${who}@example.com`,
          name: who,
        })),
      );
      const [role] = await db.orm.select().from(db.t.roles).where(eq(db.t.roles.name, 'kb_admin'));
      await db.orm.insert(db.t.userRoles).values({ userId: U.kbAdmin, roleId: role!.id });
    });

    afterAll(async () => {
      await db?.close();
      rmSync(kbDir, { recursive: true, force: true });
    });

    // ── teams ─────────────────────────────────────────────────────────────────────────────────────

    describe('teams', () => {
      test('only a KB admin may create a team', async () => {
        const err = await failure(() => rbac.createTeam(caller('alice'), { name: 'engineering' }));
        expect(err.status).toBe(403);
        expect(commits).toHaveLength(0);
      });

      test('create: body, owner membership, scaffold commit, audit row', async () => {
        const team = await rbac.createTeam(caller('admin'), {
          name: 'engineering',
          display_name: 'Engineering',
          description: 'Core team',
          parent_team: null,
        });
        expect(team).toEqual({
          id: expect.any(String),
          name: 'engineering',
          display_name: 'Engineering',
          description: 'Core team',
          parent_team: null,
          path: 'teams/engineering/',
          my_role: 'owner',
          member_count: 1,
          created_by: U.admin,
          created_at: expect.stringMatching(ISO),
        });
        expect(commits.at(-1)!.paths).toEqual([
          'teams/engineering/+engineering.md',
          'teams/engineering/standards/+standards.md',
          'teams/engineering/onboarding/+onboarding.md',
          'teams/engineering/knowledge-base/+knowledge-base.md',
        ]);
        for (const path of commits.at(-1)!.paths) {
          const doc = parseDocument(path, readFileSync(join(kbDir, path), 'utf8'));
          expect(doc.frontmatterError).toBeUndefined();
          expect(typeof doc.frontmatter.title).toBe('string');
          expect(doc.frontmatter.tags).toContain('engineering');
          expect(doc.isIndex).toBe(true);
        }
        const [row] = await audit('rbac.team_created');
        expect(row).toMatchObject({
          actorType: 'api_key',
          actorUserId: U.admin,
          actorApiKeyId: uid(0xffff),
          targetType: 'team',
          targetId: team.id,
          requestId: 'rid-admin',
        });
        expect(await can('admin', 'write', 'teams/engineering/x.md')).toBe(true);
      });

      test('a duplicate name is a 409, a bad name a 422, a missing parent a 422', async () => {
        expect((await failure(() => rbac.createTeam(caller('admin'), { name: 'engineering' }))).status).toBe(
          409,
        );
        const bad = await failure(() => rbac.createTeam(caller('admin'), { name: 'Not A Slug' }));
        expect(bad.status).toBe(422);
        expect((bad.body.errors as Array<{ path: string }>)[0]!.path).toBe('name');
        const orphan = await failure(() =>
          rbac.createTeam(caller('admin'), { name: 'x', parent_team: 'nope' }),
        );
        expect(orphan.status).toBe(422);
        expect(orphan.body.errors).toEqual([{ path: 'parent_team', message: 'Team nope not found' }]);
      });

      test('a KB that cannot commit yet leaves no team behind', async () => {
        kbUnavailable = true;
        try {
          expect((await failure(() => rbac.createTeam(caller('admin'), { name: 'later' }))).status).toBe(503);
        } finally {
          kbUnavailable = false;
        }
        const rows = await db.orm.select().from(db.t.teams).where(eq(db.t.teams.name, 'later'));
        expect(rows).toHaveLength(0);
        // The global kb_admin role is enough to create one.
        const team = await rbac.createTeam(caller('kbAdmin'), { name: 'later', parent_team: 'engineering' });
        expect(team.parent_team).toBe('engineering');
        expect(team.display_name).toBe('later');
      });

      test('members: by email (any case) or id; unknown user 404; duplicate 409; bad role 422', async () => {
        const added = await rbac.addTeamMember(caller('admin'), 'engineering', {
          user: 'BOB@example.COM',
          role: 'admin',
        });
        expect(added).toEqual({
          team: 'engineering',
          user_id: U.bob,
          email: 'Bob@Example.com',
          role: 'admin',
          joined_at: expect.stringMatching(ISO),
        });
        const byId = await rbac.addTeamMember(caller('bob'), 'engineering', { user: U.carol });
        expect(byId.role).toBe('member');
        const missing = await failure(() =>
          rbac.addTeamMember(caller('admin'), 'engineering', { user: 'nobody@example.com' }),
        );
        expect([missing.status, missing.detail]).toEqual([404, 'User nobody@example.com not found']);
        const dup = await failure(() =>
          rbac.addTeamMember(caller('admin'), 'engineering', { user: U.carol }),
        );
        expect(dup.status).toBe(409);
        const badRole = await failure(() =>
          rbac.addTeamMember(caller('admin'), 'engineering', { user: U.dave, role: 'boss' }),
        );
        expect(badRole.status).toBe(422);
        expect((badRole.body.errors as Array<{ path: string }>)[0]!.path).toBe('role');
        const events = await audit('rbac.member_added');
        expect(events.map((e) => e.targetUserId).sort()).toEqual([U.bob, U.carol].sort());
        expect(events.find((e) => e.targetUserId === U.carol)!.actorUserId).toBe(U.bob);
      });

      test('only owners and admins manage members, only owners grant owner', async () => {
        // carol is a plain member.
        expect(
          (await failure(() => rbac.addTeamMember(caller('carol'), 'engineering', { user: U.dave }))).status,
        ).toBe(403);
        // bob is a team admin: may add a viewer, may not make an owner.
        expect(
          (
            await failure(() =>
              rbac.addTeamMember(caller('bob'), 'engineering', { user: U.dave, role: 'owner' }),
            )
          ).status,
        ).toBe(403);
        const viewer = await rbac.addTeamMember(caller('bob'), 'engineering', {
          user: U.dave,
          role: 'viewer',
        });
        expect(viewer.role).toBe('viewer');
        expect(
          (
            await failure(() =>
              rbac.updateTeamMember(caller('bob'), 'engineering', U.admin, { role: 'member' }),
            )
          ).status,
        ).toBe(403);
      });

      test('team viewer cannot write in the team namespace; members can', async () => {
        expect(await can('dave', 'read', 'teams/engineering/standards/+standards.md')).toBe(true);
        expect(await can('dave', 'write', 'teams/engineering/notes.md')).toBe(false);
        expect(await can('carol', 'write', 'teams/engineering/notes.md')).toBe(true);
        expect(await can('carol', 'share', 'teams/engineering/notes.md')).toBe(false);
        expect(await can('bob', 'share', 'teams/engineering/notes.md')).toBe(true);
      });

      test('the last owner can be neither demoted nor removed', async () => {
        const demote = await failure(() =>
          rbac.updateTeamMember(caller('admin'), 'engineering', U.admin, { role: 'member' }),
        );
        expect([demote.status, demote.detail]).toEqual([
          409,
          'Cannot demote the last owner of team engineering',
        ]);
        const remove = await failure(() => rbac.removeTeamMember(caller('admin'), 'engineering', U.admin));
        expect(remove.status).toBe(409);
        // With a second owner, the first may step down.
        const promoted = await rbac.updateTeamMember(caller('admin'), 'engineering', 'bob@example.com', {
          role: 'owner',
        });
        expect(promoted.role).toBe('owner');
        const stepped = await rbac.updateTeamMember(caller('bob'), 'engineering', U.admin, {
          role: 'member',
        });
        expect(stepped.role).toBe('member');
        const changes = await audit('rbac.role_changed');
        expect(changes.map((c) => c.details)).toEqual(
          expect.arrayContaining([
            { team: 'engineering', from: 'admin', to: 'owner' },
            { team: 'engineering', from: 'owner', to: 'member' },
          ]),
        );
        // bob is now the only owner.
        expect((await failure(() => rbac.removeTeamMember(caller('bob'), 'engineering', U.bob))).status).toBe(
          409,
        );
      });

      test('removing members: managers remove, members leave, unknown member 404', async () => {
        await rbac.removeTeamMember(caller('carol'), 'engineering', U.carol);
        expect(await can('carol', 'read', 'teams/engineering/x.md')).toBe(false);
        expect(
          (await failure(() => rbac.removeTeamMember(caller('dave'), 'engineering', U.admin))).status,
        ).toBe(403);
        await rbac.removeTeamMember(caller('bob'), 'engineering', U.dave);
        expect(
          (await failure(() => rbac.removeTeamMember(caller('bob'), 'engineering', U.dave))).status,
        ).toBe(404);
        const removed = await audit('rbac.member_removed');
        expect(removed.map((r) => r.targetUserId).sort()).toEqual([U.carol, U.dave].sort());
      });

      test('list, get, update', async () => {
        const mine = await rbac.listTeams(caller('bob'));
        expect(mine.teams.map((t) => [t.name, t.my_role, t.member_count])).toEqual([
          ['engineering', 'owner', 2],
        ]);
        expect((await rbac.listTeams(caller('alice'))).teams).toEqual([]);
        // `all` is for admins only.
        expect((await rbac.listTeams(caller('alice'), { all: 'true' })).teams).toEqual([]);
        expect((await rbac.listTeams(caller('kbAdmin'), { all: 'true' })).teams.map((t) => t.name)).toEqual([
          'engineering',
          'later',
        ]);
        const got = await rbac.getTeam(caller('bob'), 'engineering');
        expect(got.members.map((m) => [m.user_id, m.role])).toEqual([
          [U.admin, 'member'],
          [U.bob, 'owner'],
        ]);
        expect((await failure(() => rbac.getTeam(caller('alice'), 'engineering'))).status).toBe(403);
        expect((await failure(() => rbac.getTeam(caller('bob'), 'nope'))).status).toBe(404);
        const updated = await rbac.updateTeam(caller('bob'), 'engineering', {
          display_name: 'Eng',
          description: null,
        });
        expect([updated.display_name, updated.description]).toEqual(['Eng', null]);
        expect(
          (await failure(() => rbac.updateTeam(caller('admin'), 'engineering', { name: 'x' }))).status,
        ).toBe(422);
        // The admin is now a plain member (but a KB admin, who may do anything).
        const cyc = await failure(() =>
          rbac.updateTeam(caller('admin'), 'engineering', { parent_team: 'later' }),
        );
        expect(cyc.status).toBe(422);
      });

      test('delete deactivates: members lose access, the name stays taken', async () => {
        expect((await failure(() => rbac.deleteTeam(caller('alice'), 'later'))).status).toBe(403);
        await rbac.createTeam(caller('admin'), { name: 'tmp' });
        await rbac.addTeamMember(caller('admin'), 'tmp', { user: U.erin });
        expect(await can('erin', 'write', 'teams/tmp/a.md')).toBe(true);
        await rbac.deleteTeam(caller('admin'), 'tmp');
        expect(await can('erin', 'read', 'teams/tmp/a.md')).toBe(false);
        expect((await failure(() => rbac.getTeam(caller('admin'), 'tmp'))).status).toBe(404);
        expect((await failure(() => rbac.createTeam(caller('admin'), { name: 'tmp' }))).status).toBe(409);
      });
    });

    // ── workspaces ────────────────────────────────────────────────────────────────────────────────

    describe('workspaces', () => {
      test('any user creates one; initial members by email; README committed; audit row', async () => {
        const ws = await rbac.createWorkspace(caller('alice'), {
          name: 'q4-launch',
          display_name: 'Q4 Launch',
          description: null,
          workspace_type: 'project',
          initial_members: ['bob@example.com'],
          expires_at: null,
        });
        expect(ws).toEqual({
          id: expect.any(String),
          name: 'q4-launch',
          display_name: 'Q4 Launch',
          description: null,
          workspace_type: 'project',
          status: 'active',
          owner: U.alice,
          members: expect.any(Array),
          path: 'workspaces/q4-launch/',
          expires_at: null,
          created_at: expect.stringMatching(ISO),
        });
        expect(ws.members.map((m) => m.user_id).sort()).toEqual([U.alice, U.bob].sort());
        expect(commits.at(-1)!.paths).toEqual(['workspaces/q4-launch/README.md']);
        const readme = parseDocument(
          'workspaces/q4-launch/README.md',
          readFileSync(join(kbDir, 'workspaces/q4-launch/README.md'), 'utf8'),
        );
        expect(readme.title).toBe('Q4 Launch');
        const [row] = await audit('rbac.workspace_created');
        expect(row).toMatchObject({ actorUserId: U.alice, targetId: ws.id });
        expect(await can('bob', 'write', 'workspaces/q4-launch/plan.md')).toBe(true);
        expect(await can('bob', 'share', 'workspaces/q4-launch/plan.md')).toBe(false);
        expect(await can('alice', 'share', 'workspaces/q4-launch/plan.md')).toBe(true);
        expect(await can('carol', 'read', 'workspaces/q4-launch/plan.md')).toBe(false);
      });

      test('bad input: duplicate 409, unknown member 404, past expiry 422, bad type 422', async () => {
        expect((await failure(() => rbac.createWorkspace(caller('bob'), { name: 'q4-launch' }))).status).toBe(
          409,
        );
        const unknown = await failure(() =>
          rbac.createWorkspace(caller('bob'), { name: 'w2', initial_members: ['ghost@example.com'] }),
        );
        expect([unknown.status, unknown.detail]).toEqual([404, 'User ghost@example.com not found']);
        const past = await failure(() =>
          rbac.createWorkspace(caller('bob'), { name: 'w2', expires_at: '2020-01-01T00:00:00Z' }),
        );
        expect(past.status).toBe(422);
        expect((past.body.errors as Array<{ path: string }>)[0]!.path).toBe('expires_at');
        const type = await failure(() =>
          rbac.createWorkspace(caller('bob'), { name: 'w2', workspace_type: 'fun' }),
        );
        expect(type.status).toBe(422);
        const rows = await db.orm.select().from(db.t.workspaces).where(eq(db.t.workspaces.name, 'w2'));
        expect(rows).toHaveLength(0);
      });

      test('members write in an archived or expired workspace → no; the owner still may', async () => {
        expect(
          (await failure(() => rbac.updateWorkspace(caller('bob'), 'q4-launch', { status: 'archived' })))
            .status,
        ).toBe(403);
        const archived = await rbac.updateWorkspace(caller('alice'), 'q4-launch', { status: 'archived' });
        expect(archived.status).toBe('archived');
        expect(await can('bob', 'write', 'workspaces/q4-launch/plan.md')).toBe(false);
        expect(await can('bob', 'read', 'workspaces/q4-launch/plan.md')).toBe(true);
        expect(await can('alice', 'write', 'workspaces/q4-launch/plan.md')).toBe(true);
        await rbac.updateWorkspace(caller('alice'), 'q4-launch', { status: 'active' });
        expect(await can('bob', 'write', 'workspaces/q4-launch/plan.md')).toBe(true);

        const expired = await rbac.updateWorkspace(caller('alice'), 'q4-launch', {
          expires_at: new Date(Date.now() - 1000).toISOString(),
        });
        expect(expired.status).toBe('expired');
        expect((await rbac.getWorkspace(caller('bob'), 'q4-launch')).status).toBe('expired');
        expect(await can('bob', 'write', 'workspaces/q4-launch/plan.md')).toBe(false);
        expect(await can('bob', 'delete', 'workspaces/q4-launch/plan.md')).toBe(false);
        expect(await can('alice', 'write', 'workspaces/q4-launch/plan.md')).toBe(true);
        const reopened = await rbac.updateWorkspace(caller('kbAdmin'), 'q4-launch', { expires_at: null });
        expect(reopened.status).toBe('active');
        const badStatus = await failure(() =>
          rbac.updateWorkspace(caller('alice'), 'q4-launch', { status: 'expired' }),
        );
        expect(badStatus.status).toBe(422);
      });

      test('members: owner adds and removes, members leave, the owner stays', async () => {
        expect(
          (await failure(() => rbac.addWorkspaceMember(caller('bob'), 'q4-launch', { user: U.carol })))
            .status,
        ).toBe(403);
        const added = await rbac.addWorkspaceMember(caller('alice'), 'q4-launch', {
          user: 'carol@example.com',
        });
        expect(added).toEqual({
          workspace: 'q4-launch',
          user_id: U.carol,
          email: 'carol@example.com',
          joined_at: expect.stringMatching(ISO),
        });
        expect(
          (await failure(() => rbac.addWorkspaceMember(caller('alice'), 'q4-launch', { user: U.carol })))
            .status,
        ).toBe(409);
        expect(await can('carol', 'write', 'workspaces/q4-launch/x.md')).toBe(true);
        await rbac.removeWorkspaceMember(caller('carol'), 'q4-launch', U.carol);
        expect(await can('carol', 'read', 'workspaces/q4-launch/x.md')).toBe(false);
        expect(
          (await failure(() => rbac.removeWorkspaceMember(caller('alice'), 'q4-launch', U.alice))).status,
        ).toBe(409);
        expect((await rbac.listWorkspaces(caller('bob'))).workspaces.map((w) => w.name)).toEqual([
          'q4-launch',
        ]);
        expect((await rbac.listWorkspaces(caller('carol'))).workspaces).toEqual([]);
        expect((await failure(() => rbac.getWorkspace(caller('carol'), 'q4-launch'))).status).toBe(403);
        expect((await failure(() => rbac.getWorkspace(caller('carol'), 'nope'))).status).toBe(404);
      });
    });

    // ── shares ────────────────────────────────────────────────────────────────────────────────────

    describe('shares', () => {
      const bobFile = `users/${U.bob}/notes.md`;

      test("user A and B's file: 403, shared read-only → read, write 403, expired → 403 again", async () => {
        expect(await can('alice', 'read', bobFile)).toBe(false);
        // The same answer whether the file exists or not: nothing but the path is looked at.
        expect(await can('alice', 'read', `users/${U.bob}/does-not-exist.md`)).toBe(false);
        const { shares } = await rbac.createShares(caller('bob'), {
          path: bobFile,
          recipients: ['alice@example.com'],
          expires_at: new Date(Date.now() + 600).toISOString(),
        });
        expect(shares).toHaveLength(1);
        expect(shares[0]!.permissions).toEqual(['read']);
        expect(await can('alice', 'read', bobFile)).toBe(true);
        expect(await can('alice', 'write', bobFile)).toBe(false);
        await Bun.sleep(700);
        expect(await can('alice', 'read', bobFile)).toBe(false);
      });

      test('create: user and team recipients, exact body, audit rows', async () => {
        const path = `users/${U.bob}/docs/guide.md`;
        const res = await rbac.createShares(caller('bob'), {
          path: `/${path}`,
          recipients: ['alice@example.com'],
          teams: ['engineering'],
          workspaces: [],
          permissions: ['write', 'read'],
          message: 'Please review',
          expires_at: '2099-01-31T00:00:00Z',
        });
        const common = {
          id: expect.any(String),
          path,
          permissions: ['read', 'write'] as Permission[],
          message: 'Please review',
          expires_at: '2099-01-31T00:00:00.000Z',
          created_by: U.bob,
          created_at: expect.stringMatching(ISO),
        };
        expect(res).toEqual({
          shares: [
            { ...common, principal_type: 'user', principal: U.alice },
            { ...common, principal_type: 'team', principal: 'engineering' },
          ],
        });
        const rows = await audit('rbac.share_created');
        expect(rows.filter((r) => (r.details as { path: string }).path === path)).toHaveLength(2);
        expect(await can('alice', 'write', path)).toBe(true);
        expect(await can('admin', 'write', path)).toBe(true);
        // Sharing again replaces the grant instead of adding a second one.
        const again = await rbac.createShares(caller('bob'), { path, recipients: [U.alice] });
        expect(again.shares[0]!.id).toBe(res.shares[0]!.id);
        expect(again.shares[0]!.permissions).toEqual(['read']);
        expect(await can('alice', 'write', path)).toBe(false);
      });

      test('bad shares: private 400, non-owner 403, re-share 403, bad permissions/expiry/recipients 422, unknown 404', async () => {
        const priv = await failure(() =>
          rbac.createShares(caller('bob'), { path: `users/${U.bob}/private/x.md`, recipients: [U.alice] }),
        );
        expect(priv.status).toBe(400);
        const privDir = await failure(() =>
          rbac.createShares(caller('bob'), { path: `users/${U.bob}/private`, recipients: [U.alice] }),
        );
        expect(privDir.status).toBe(400);
        const notOwner = await failure(() =>
          rbac.createShares(caller('carol'), { path: bobFile, recipients: [U.alice] }),
        );
        expect([notOwner.status, notOwner.detail]).toEqual([403, `Forbidden: no share access to ${bobFile}`]);
        const reshare = await failure(() =>
          rbac.createShares(caller('alice'), { path: `users/${U.bob}/docs/guide.md`, recipients: [U.carol] }),
        );
        expect(reshare.status).toBe(403);
        const perms = await failure(() =>
          rbac.createShares(caller('bob'), { path: bobFile, recipients: [U.alice], permissions: ['admin'] }),
        );
        expect(perms.status).toBe(422);
        expect((perms.body.errors as Array<{ path: string }>)[0]!.path).toBe('permissions');
        const past = await failure(() =>
          rbac.createShares(caller('bob'), {
            path: bobFile,
            recipients: [U.alice],
            expires_at: '2001-01-01T00:00:00Z',
          }),
        );
        expect(past.status).toBe(422);
        const none = await failure(() =>
          rbac.createShares(caller('bob'), { path: bobFile, recipients: [], teams: [] }),
        );
        expect(none.status).toBe(422);
        expect((none.body.errors as Array<{ path: string }>)[0]!.path).toBe('recipients');
        const unknown = await failure(() =>
          rbac.createShares(caller('bob'), { path: bobFile, recipients: ['nobody@example.com'] }),
        );
        expect([unknown.status, unknown.detail]).toEqual([404, 'User nobody@example.com not found']);
        const badPath = await failure(() =>
          rbac.createShares(caller('bob'), { path: '../x', recipients: [U.alice] }),
        );
        expect(badPath.status).toBe(400);
      });

      test('a directory share reaches files created later; workspace recipients', async () => {
        await rbac.createShares(caller('bob'), {
          path: `users/${U.bob}/proj/`,
          workspaces: ['q4-launch'],
          permissions: ['read', 'write', 'delete'],
        });
        // alice owns q4-launch, so she is a member of it.
        expect(await can('alice', 'move', `users/${U.bob}/proj/new/deep.md`)).toBe(true);
        expect(await can('carol', 'read', `users/${U.bob}/proj/new/deep.md`)).toBe(false);
      });

      test('list received and granted, with expired flags and a path filter', async () => {
        const received = await rbac.listShares(caller('alice'), { direction: 'received' });
        const paths = received.shares.map((s) => [s.path, s.principal_type, s.expired]);
        expect(paths).toEqual(
          expect.arrayContaining([
            [bobFile, 'user', true],
            [`users/${U.bob}/docs/guide.md`, 'user', false],
            [`users/${U.bob}/proj`, 'workspace', false],
          ]),
        );
        expect(received.shares.every((s) => s.created_by === U.bob)).toBe(true);
        const granted = await rbac.listShares(caller('bob'), {
          direction: 'granted',
          path: `users/${U.bob}/docs`,
        });
        expect(granted.shares.map((s) => s.principal_type).sort()).toEqual(['team', 'user']);
        expect((await rbac.listShares(caller('carol'), { direction: 'granted' })).shares).toEqual([]);
        const bad = await failure(() => rbac.listShares(caller('bob'), { direction: 'sideways' }));
        expect(bad.status).toBe(422);
      });

      test('delete: only the creator, the namespace manager or an admin', async () => {
        const { shares } = await rbac.listShares(caller('bob'), { direction: 'granted', path: bobFile });
        const id = shares[0]!.id;
        expect((await failure(() => rbac.deleteShare(caller('alice'), id))).status).toBe(403);
        await rbac.deleteShare(caller('bob'), id);
        expect((await failure(() => rbac.deleteShare(caller('bob'), id))).status).toBe(404);
        expect((await failure(() => rbac.deleteShare(caller('bob'), 'not-a-uuid'))).status).toBe(404);
        const [row] = await db.orm
          .select()
          .from(db.t.auditLog)
          .where(and(eq(db.t.auditLog.eventType, 'rbac.share_deleted'), eq(db.t.auditLog.targetId, id)));
        expect(row!.actorUserId).toBe(U.bob);

        // A share made by one team owner may be removed by another manager of the team.
        await rbac.addTeamMember(caller('bob'), 'engineering', { user: U.erin, role: 'admin' });
        const made = await rbac.createShares(caller('erin'), {
          path: 'teams/engineering/plan.md',
          recipients: [U.carol],
        });
        expect(await can('carol', 'read', 'teams/engineering/plan.md')).toBe(true);
        const managed = await rbac.listShares(caller('bob'), {
          direction: 'granted',
          path: 'teams/engineering',
        });
        expect(managed.shares.map((s) => s.id)).toContain(made.shares[0]!.id);
        await rbac.deleteShare(caller('bob'), made.shares[0]!.id);
        expect(await can('carol', 'read', 'teams/engineering/plan.md')).toBe(false);
      });
    });

    // ── the rest of the contract at this level ───────────────────────────────────────────────────────

    test('shared/ and root: non-editors may not write, KB admins may', async () => {
      for (const path of ['shared/policy.md', 'README.md']) {
        expect(await can('alice', 'read', path)).toBe(true);
        expect(await can('alice', 'write', path)).toBe(false);
        expect(await can('admin', 'write', path)).toBe(true);
        expect(await can('kbAdmin', 'write', path)).toBe(true);
      }
    });

    test('a move needs delete at the source: a read+write share is not enough', async () => {
      const src = `users/${U.bob}/docs/guide.md`;
      await rbac.createShares(caller('bob'), {
        path: src,
        recipients: [U.alice],
        permissions: ['read', 'write'],
      });
      const p = await rbac.access.principal(caller('alice'));
      expect(rbac.access.can(p, 'read', src)).toBe(true);
      expect(() => rbac.access.assert(p, 'delete', src)).toThrow(`Forbidden: no delete access to ${src}`);
      expect(() => rbac.access.assert(p, 'write', `users/${U.alice}/moved.md`)).not.toThrow();
    });

    test('/me and /access bodies', async () => {
      const me = await rbac.me(caller('bob'));
      expect(me).toEqual({
        user_id: U.bob,
        admin: false,
        namespaces: [
          { path: `users/${U.bob}/`, access: ['read', 'write', 'move', 'delete', 'share'] },
          { path: 'shared/', access: ['read'] },
          { path: 'teams/engineering/', access: ['read', 'write', 'move', 'delete', 'share'] },
          { path: 'workspaces/q4-launch/', access: ['read', 'write', 'move', 'delete'] },
        ],
        teams: [{ name: 'engineering', role: 'owner' }],
        workspaces: [{ name: 'q4-launch', owner: U.alice }],
      });
      expect((await rbac.me(caller('kbAdmin'))).admin).toBe(true);
      expect(await rbac.accessOf(caller('alice'), `users/${U.bob}/docs/guide.md`)).toEqual({
        path: `users/${U.bob}/docs/guide.md`,
        namespace: `users/${U.bob}`,
        can: { read: true, list: true, search: true, write: true, move: false, delete: false, share: false },
      });
      expect(await rbac.accessOf(caller('alice'), `/users/${U.bob}`)).toEqual({
        path: `users/${U.bob}`,
        namespace: `users/${U.bob}`,
        can: {
          read: false,
          list: true,
          search: true,
          write: false,
          move: false,
          delete: false,
          share: false,
        },
      });
      expect((await rbac.accessOf(caller('alice'), '/')).path).toBe('/');
      expect((await rbac.accessOf(caller('admin'), '/')).can).toMatchObject({ write: true, share: false });
      expect((await rbac.accessOf(caller('alice'), `users/${U.alice}/private/x.md`)).can.share).toBe(false);
      expect((await rbac.accessOf(caller('alice'), `users/${U.alice}/x.md`)).can.share).toBe(true);
      expect((await failure(() => rbac.accessOf(caller('alice'), 'a/../b'))).status).toBe(400);
    });
  });
}
