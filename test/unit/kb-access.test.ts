/**
 * KB access decisions against a real database: the permission table as a matrix (namespace × caller ×
 * action), then shares (user, team, workspace; files and directories; expiry), listings, `/me`
 * namespaces and the admin-read audit. Memberships and roles are inserted as plain rows, so the
 * principal loader is tested on data it did not write itself.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { type Db, openDb } from '../../db/index.ts';
import type { Principal } from '../../services/kb/access/model.ts';
import { AccessService } from '../../services/kb/access/service.ts';
import type { AccessAction, Caller } from '../../services/kb/types.ts';
import { HttpError } from '../../src/http/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { dbOptions, dropTestDatabases, testBackends } from '../support/backends.ts';

const uid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** Everybody the matrix talks about. */
const U = {
  alice: uid(0xa1),
  bob: uid(0xb0),
  owner: uid(0x10),
  tadmin: uid(0x11),
  member: uid(0x12),
  viewer: uid(0x13),
  wsOwner: uid(0x20),
  wsMember: uid(0x21),
  editor: uid(0x30),
  kbAdmin: uid(0x31),
  admin: uid(0x32),
  staleEditor: uid(0x33),
  exMember: uid(0x34),
} as const;
type Who = keyof typeof U;

const emailOf = (who: string) => `${who}@example.com`;

function caller(who: Who, extra: Partial<Caller> = {}): Caller {
  return {
    id: U[who],
    // Mixed case on purpose: legacy folders compare email case-insensitively.
    email: who === 'alice' ? 'Alice@Example.com' : emailOf(who),
    name: who,
    admin: who === 'admin',
    authType: 'jwt',
    keyId: null,
    rid: `req-${who}`,
    ...extra,
  };
}

const ALL: AccessAction[] = ['read', 'write', 'move', 'delete', 'share'];
const code: Record<AccessAction, string> = { read: 'r', write: 'w', move: 'm', delete: 'd', share: 's' };

/**
 * The permission table. Each row: a path, then for every caller the actions allowed there, spelled
 * r(ead) w(rite) m(ove) d(elete) s(hare); "-" is nothing. `arch` is archived and `old` is past its
 * expiry; `wsOwner` owns all three workspaces and `wsMember` belongs to all three.
 */
const MATRIX: Array<[path: string, expected: Partial<Record<Who, string>> & { others: string }]> = [
  [`users/${U.alice}/notes.md`, { alice: 'rwmds', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' }],
  [`users/${U.alice}/deep/er/file.md`, { alice: 'rwmds', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' }],
  ['users/alice@example.com', { alice: 'rwmds', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' }],
  ['users/alice@example.COM/legacy.md', { alice: 'rwmds', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' }],
  [`users/${U.bob}/notes.md`, { bob: 'rwmds', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' }],
  [
    'teams/eng/doc.md',
    {
      owner: 'rwmds',
      tadmin: 'rwmds',
      member: 'rwmd',
      viewer: 'r',
      admin: 'rwmds',
      kbAdmin: 'rwmds',
      others: '-',
    },
  ],
  ['teams/other/doc.md', { admin: 'rwmds', kbAdmin: 'rwmds', others: '-' }],
  [
    'workspaces/ws/doc.md',
    { wsOwner: 'rwmds', wsMember: 'rwmd', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' },
  ],
  [
    'workspaces/arch/doc.md',
    { wsOwner: 'rwmds', wsMember: 'r', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' },
  ],
  [
    'workspaces/old/doc.md',
    { wsOwner: 'rwmds', wsMember: 'r', admin: 'rwmds', kbAdmin: 'rwmds', others: '-' },
  ],
  ['shared/policy.md', { editor: 'rwmd', admin: 'rwmds', kbAdmin: 'rwmds', others: 'r' }],
  ['README.md', { editor: 'rwmd', admin: 'rwmds', kbAdmin: 'rwmds', others: 'r' }],
  ['kos/sessions/threads/t.md', { editor: 'rwmd', admin: 'rwmds', kbAdmin: 'rwmds', others: 'r' }],
  // Files directly in the containers belong to nobody: readable, created by admins only.
  ['users/stray.md', { admin: 'rwmds', kbAdmin: 'rwmds', others: 'r' }],
  ['teams/README.md', { admin: 'rwmds', kbAdmin: 'rwmds', others: 'r' }],
  ['workspaces/index.md', { admin: 'rwmds', kbAdmin: 'rwmds', others: 'r' }],
];

const backends = testBackends();
afterAll(dropTestDatabases);

for (const backend of backends) {
  describe(`kb access decisions (${backend.name})`, () => {
    let db: Db;
    let access: AccessService;
    const principals = new Map<Who, Principal>();

    beforeAll(async () => {
      db = await openDb(dbOptions(await backend.databaseUrl()));
      access = new AccessService({ db, log: silentLogger });
      const { orm, t } = db;
      await orm
        .insert(t.users)
        .values(Object.entries(U).map(([who, id]) => ({ id, email: emailOf(who), name: who })));
      const roles = await orm.select().from(t.roles);
      const roleId = (name: string) => roles.find((r) => r.name === name)!.id;
      await orm.insert(t.userRoles).values([
        { userId: U.editor, roleId: roleId('kb_editor') },
        { userId: U.kbAdmin, roleId: roleId('kb_admin') },
        // An expired grant counts for nothing.
        { userId: U.staleEditor, roleId: roleId('kb_editor'), expiresAt: new Date(Date.now() - 60_000) },
      ]);

      const eng = crypto.randomUUID();
      const gone = crypto.randomUUID();
      await orm.insert(t.teams).values([
        { id: eng, name: 'eng', displayName: 'Engineering', createdBy: U.owner },
        // A deleted (deactivated) team: its members keep their rows but lose the rights.
        { id: gone, name: 'other', displayName: 'Other', createdBy: U.exMember, isActive: false },
      ]);
      await orm.insert(t.teamMembers).values([
        { teamId: eng, userId: U.owner, teamRole: 'owner' },
        { teamId: eng, userId: U.tadmin, teamRole: 'admin' },
        { teamId: eng, userId: U.member, teamRole: 'member' },
        { teamId: eng, userId: U.viewer, teamRole: 'viewer' },
        { teamId: gone, userId: U.exMember, teamRole: 'owner' },
      ]);

      const ws = { ws: crypto.randomUUID(), arch: crypto.randomUUID(), old: crypto.randomUUID() };
      await orm.insert(t.workspaces).values([
        { id: ws.ws, name: 'ws', displayName: 'WS', createdBy: U.wsOwner, status: 'active' },
        { id: ws.arch, name: 'arch', displayName: 'Arch', createdBy: U.wsOwner, status: 'archived' },
        {
          id: ws.old,
          name: 'old',
          displayName: 'Old',
          createdBy: U.wsOwner,
          status: 'active',
          expiresAt: new Date(Date.now() - 1000),
        },
      ]);
      await orm
        .insert(t.workspaceMembers)
        .values(Object.values(ws).map((workspaceId) => ({ workspaceId, userId: U.wsMember })));

      for (const who of Object.keys(U) as Who[]) principals.set(who, await access.principal(caller(who)));
    });

    afterAll(async () => {
      await db?.close();
    });

    test('principal: roles, teams and workspaces are loaded', () => {
      expect(principals.get('editor')!.editor).toBe(true);
      expect(principals.get('staleEditor')!.editor).toBe(false);
      expect(principals.get('kbAdmin')!.admin).toBe(true);
      expect(principals.get('admin')!.admin).toBe(true);
      expect(principals.get('alice')!.admin).toBe(false);
      expect([...principals.get('viewer')!.teams]).toEqual([['eng', 'viewer']]);
      expect(principals.get('exMember')!.teams.size).toBe(0);
      const w = principals.get('wsMember')!.workspaces;
      expect([...w.keys()].sort()).toEqual(['arch', 'old', 'ws']);
      expect(w.get('ws')!.isOwner).toBe(false);
      expect(principals.get('wsOwner')!.workspaces.get('arch')!.isOwner).toBe(true);
    });

    describe('permission table', () => {
      const cases: Array<[string, Who, string]> = [];
      for (const [path, expected] of MATRIX)
        for (const who of Object.keys(U) as Who[]) cases.push([path, who, expected[who] ?? expected.others]);
      test.each(cases)('%s as %s → %s', (path, who, want) => {
        const p = principals.get(who)!;
        const got = ALL.filter((a) => access.can(p, a, path))
          .map((a) => code[a])
          .join('');
        expect(got || '-').toBe(want);
      });
    });

    test('the decision does not depend on leading/trailing slashes', () => {
      const p = principals.get('alice')!;
      expect(access.can(p, 'write', `/users/${U.alice}/x.md`)).toBe(true);
      expect(access.can(p, 'read', `users/${U.bob}/`)).toBe(false);
      expect(access.can(p, 'read', 'teams/')).toBe(true);
    });

    test('assert throws the 403 the API answers with', () => {
      const p = principals.get('alice')!;
      let err: unknown;
      try {
        access.assert(p, 'read', `users/${U.bob}/notes.md`);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(403);
      expect((err as HttpError).body).toEqual({
        detail: `Forbidden: no read access to users/${U.bob}/notes.md`,
      });
      expect(() => access.assert(p, 'write', `users/${U.alice}/a.md`)).not.toThrow();
      expect(() => access.assert(principals.get('viewer')!, 'write', 'teams/eng/a.md')).toThrow(
        'Forbidden: no write access to teams/eng/a.md',
      );
    });

    test('an identity that is not a user id still gets the public namespaces', async () => {
      const p = await access.principal({ ...caller('alice'), id: 'service-x', email: null });
      expect(access.can(p, 'read', 'shared/a.md')).toBe(true);
      expect(access.can(p, 'write', 'shared/a.md')).toBe(false);
      expect(access.can(p, 'read', `users/${U.alice}/a.md`)).toBe(false);
    });

    describe('shares', () => {
      const { alice, bob } = U;
      const insertShare = async (
        path: string,
        principalType: 'user' | 'team' | 'workspace',
        principalId: string,
        permissions: Array<'read' | 'write' | 'delete'>,
        expiresAt: Date | null = null,
      ) => {
        const id = crypto.randomUUID();
        await db.orm.insert(db.t.resourcePermissions).values({
          id,
          resourceType: 'kb',
          resourceId: path,
          principalType,
          principalId,
          permissions,
          grantedBy: bob,
          expiresAt,
        });
        return id;
      };
      const fresh = (who: Who) => access.principal(caller(who));

      test('a file share to a user opens that file only, with exactly its permissions', async () => {
        await insertShare(`users/${bob}/docs/guide.md`, 'user', alice, ['read']);
        const p = await fresh('alice');
        expect(access.can(p, 'read', `users/${bob}/docs/guide.md`)).toBe(true);
        expect(access.can(p, 'write', `users/${bob}/docs/guide.md`)).toBe(false);
        expect(access.can(p, 'delete', `users/${bob}/docs/guide.md`)).toBe(false);
        expect(access.can(p, 'share', `users/${bob}/docs/guide.md`)).toBe(false);
        expect(access.can(p, 'read', `users/${bob}/docs/guide.md.bak`)).toBe(false);
        expect(access.can(p, 'read', `users/${bob}/docs/other.md`)).toBe(false);
        // Someone else is not reached by alice's share.
        expect(access.can(await fresh('member'), 'read', `users/${bob}/docs/guide.md`)).toBe(false);
      });

      test('a directory share to a team covers everything below it, for every member', async () => {
        await insertShare(`users/${bob}/proj`, 'team', 'eng', ['write']);
        for (const who of ['owner', 'member', 'viewer'] as const) {
          const p = await fresh(who);
          expect(access.can(p, 'read', `users/${bob}/proj/a/b/c.md`)).toBe(true);
          expect(access.can(p, 'write', `users/${bob}/proj/new.md`)).toBe(true);
          // write implies read but not delete, so no move either.
          expect(access.can(p, 'delete', `users/${bob}/proj/new.md`)).toBe(false);
          expect(access.can(p, 'move', `users/${bob}/proj/new.md`)).toBe(false);
          expect(access.can(p, 'read', `users/${bob}/project.md`)).toBe(false);
          expect(access.can(p, 'read', `users/${bob}/projx/a.md`)).toBe(false);
        }
        expect(access.can(await fresh('alice'), 'read', `users/${bob}/proj/a.md`)).toBe(false);
        // Members of a deactivated team get nothing through it.
        await insertShare(`users/${bob}/old-team`, 'team', 'other', ['read']);
        expect(access.can(await fresh('exMember'), 'read', `users/${bob}/old-team/a.md`)).toBe(false);
      });

      test('a workspace share reaches the workspace members; write+delete allows a move', async () => {
        await insertShare(`teams/eng/handbook`, 'workspace', 'ws', ['read', 'write', 'delete']);
        const p = await fresh('wsMember');
        expect(access.can(p, 'read', 'teams/eng/handbook/x.md')).toBe(true);
        expect(access.can(p, 'move', 'teams/eng/handbook/x.md')).toBe(true);
        expect(access.can(p, 'read', 'teams/eng/doc.md')).toBe(false);
        // A share never lets the recipient re-share.
        expect(access.can(p, 'share', 'teams/eng/handbook/x.md')).toBe(false);
      });

      test('a share lifts a team viewer to write on the shared part only', async () => {
        await insertShare('teams/eng/drafts', 'user', U.viewer, ['write']);
        const p = await fresh('viewer');
        expect(access.can(p, 'write', 'teams/eng/drafts/a.md')).toBe(true);
        expect(access.can(p, 'write', 'teams/eng/doc.md')).toBe(false);
      });

      test('an expired share counts for nothing, also in a principal loaded before it expired', async () => {
        await insertShare(`users/${bob}/gone.md`, 'user', alice, ['read'], new Date(Date.now() - 1));
        expect(access.can(await fresh('alice'), 'read', `users/${bob}/gone.md`)).toBe(false);

        await insertShare(`users/${bob}/soon.md`, 'user', alice, ['read'], new Date(Date.now() + 300));
        const p = await fresh('alice');
        expect(access.can(p, 'read', `users/${bob}/soon.md`)).toBe(true);
        await Bun.sleep(350);
        expect(access.can(p, 'read', `users/${bob}/soon.md`)).toBe(false);
        expect(access.canSeeEntry(p, `users/${bob}/`)).toBe(access.canSeeEntry(p, `users/${bob}`));
      });

      test('listings show entries that lead to something shared, and nothing else', async () => {
        const p = await fresh('alice');
        expect(access.can(p, 'read', 'users')).toBe(true);
        expect(access.canSeeEntry(p, `users/${alice}`)).toBe(true);
        expect(access.canSeeEntry(p, `users/${bob}`)).toBe(true);
        expect(access.canSeeEntry(p, `users/${bob}/docs`)).toBe(true);
        expect(access.canSeeEntry(p, `users/${bob}/proj`)).toBe(false);
        expect(access.canSeeEntry(p, `users/${U.owner}`)).toBe(false);
        expect(access.canSeeEntry(p, 'teams/eng')).toBe(false);
        expect(access.canSeeEntry(principals.get('member')!, 'teams/eng')).toBe(true);
        const readable = access.readFilter(p);
        expect(
          [
            `users/${alice}/a.md`,
            `users/${bob}/docs/guide.md`,
            `users/${bob}/docs/x.md`,
            'shared/a.md',
          ].filter(readable),
        ).toEqual([`users/${alice}/a.md`, `users/${bob}/docs/guide.md`, 'shared/a.md']);
      });
    });

    test('namespaces for /me', () => {
      expect(access.namespaces(principals.get('member')!)).toEqual([
        { path: `users/${U.member}/`, access: ['read', 'write', 'move', 'delete', 'share'] },
        { path: 'shared/', access: ['read'] },
        { path: 'teams/eng/', access: ['read', 'write', 'move', 'delete'] },
      ]);
      expect(access.namespaces(principals.get('wsMember')!)).toEqual([
        { path: `users/${U.wsMember}/`, access: ['read', 'write', 'move', 'delete', 'share'] },
        { path: 'shared/', access: ['read'] },
        { path: 'workspaces/arch/', access: ['read'] },
        { path: 'workspaces/old/', access: ['read'] },
        { path: 'workspaces/ws/', access: ['read', 'write', 'move', 'delete'] },
      ]);
      expect(access.namespaces(principals.get('editor')!)[1]).toEqual({
        path: 'shared/',
        access: ['read', 'write', 'move', 'delete'],
      });
    });

    test('admin reads of another user’s namespace are audited, other reads are not', async () => {
      const { orm, t } = db;
      const rows = () => orm.select().from(t.auditLog).where(eq(t.auditLog.eventType, 'kb.admin_read'));
      const adminP = principals.get('admin')!;
      await access.recordAdminRead(adminP, `users/${U.alice}/notes.md`);
      await access.recordAdminRead(adminP, 'users/alice@example.com/legacy.md');
      await access.recordAdminRead(adminP, `users/${U.admin}/mine.md`);
      await access.recordAdminRead(adminP, 'shared/policy.md');
      await access.recordAdminRead(adminP, 'teams/eng/doc.md');
      await access.recordAdminRead(principals.get('alice')!, `users/${U.alice}/notes.md`);
      await access.recordAdminRead(principals.get('kbAdmin')!, `users/${U.bob}/x.md`);
      const got = (await rows()).sort((a, b) => (String(a.targetId) < String(b.targetId) ? -1 : 1));
      expect(got.map((r) => [r.actorUserId, r.targetId, r.targetUserId])).toEqual([
        [U.admin, `users/${U.alice}/notes.md`, U.alice],
        [U.kbAdmin, `users/${U.bob}/x.md`, U.bob],
        [U.admin, 'users/alice@example.com/legacy.md', U.alice],
      ]);
      expect(got[0]!.actorType).toBe('user');
      expect(got[0]!.requestId).toBe('req-admin');
    });
  });
}
