/** Seed data (spec/data.md §4, auth.md §8): exact, idempotent, and never logging secrets. */
import { afterAll, describe, expect, test } from 'bun:test';
import { asc, eq, sql } from 'drizzle-orm';
import { assignDefaultRole, type Db, migrateDb, type OpenDbOptions, openDb } from '../../db/index.ts';
import {
  DEV_API_KEY_HASH,
  DEV_API_KEY_ID,
  DEV_USER_ID,
  grantsOf,
  MU_PERSONA_ID,
  WELCOME_CONVERSATION_ID,
} from '../../db/seed.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';

interface Logged {
  level: string;
  msg: string;
  fields?: object;
}

function openOpts(url: string, logged: Logged[] = [], over: Partial<OpenDbOptions> = {}): OpenDbOptions {
  const kind = url.startsWith('sqlite:') ? ('sqlite' as const) : ('postgresql' as const);
  return {
    url,
    kind,
    sqlitePath: kind === 'sqlite' ? url.slice('sqlite:'.length) : '',
    poolMax: 3,
    autoMigrate: true,
    seedDev: true,
    isProduction: false,
    log: {
      info: (msg, fields) => logged.push({ level: 'info', msg, fields }),
      warn: (msg, fields) => logged.push({ level: 'warn', msg, fields }),
    },
    ...over,
  };
}

/** Every seeded table, whole and in a stable order, to prove a second run changes nothing. */
async function snapshot(db: Db): Promise<unknown> {
  const { orm, t } = db;
  return {
    users: await orm.select().from(t.users).orderBy(asc(t.users.id)),
    apiKeys: await orm.select().from(t.apiKeys).orderBy(asc(t.apiKeys.id)),
    conversations: await orm.select().from(t.conversations).orderBy(asc(t.conversations.id)),
    roles: await orm.select().from(t.roles).orderBy(asc(t.roles.name)),
    permissions: await orm.select().from(t.permissions).orderBy(asc(t.permissions.id)),
    rolePermissions: await orm
      .select()
      .from(t.rolePermissions)
      .orderBy(asc(t.rolePermissions.roleId), asc(t.rolePermissions.permissionId)),
    userRoles: await orm.select().from(t.userRoles).orderBy(asc(t.userRoles.roleId)),
    personas: await orm.select().from(t.personas).orderBy(asc(t.personas.id)),
    assetSources: await orm.select().from(t.assetSources).orderBy(asc(t.assetSources.id)),
  };
}

afterAll(dropTestDatabases);

for (const backend of testBackends()) {
  describe(`seed on ${backend.name}`, () => {
    test('creates exactly the catalogue of §4', async () => {
      const db = await openDb(openOpts(await backend.databaseUrl()));
      const { orm, t } = db;
      try {
        const roles = await orm
          .select({ name: t.roles.name, displayName: t.roles.displayName, roleType: t.roles.roleType })
          .from(t.roles)
          .orderBy(asc(t.roles.name));
        expect(roles).toHaveLength(11);
        expect(roles.every((r) => r.roleType === 'system')).toBe(true);
        expect(Object.fromEntries(roles.map((r) => [r.name, r.displayName]))).toEqual({
          super_admin: 'Super Administrator',
          admin: 'Administrator',
          developer: 'Developer',
          analyst: 'Analyst',
          user: 'User',
          viewer: 'Viewer',
          guest: 'Guest',
          kb_admin: 'KB Administrator',
          kb_editor: 'KB Editor',
          kb_contributor: 'KB Contributor',
          kb_viewer: 'KB Viewer',
        });

        const perms = await orm.select().from(t.permissions);
        expect(perms).toHaveLength(22);
        const all = perms.map((p) => `${p.resourceType} ${p.resourcePath} ${p.action}`).sort();
        expect(await grantsOf(orm, t, 'super_admin')).toEqual(all);
        expect(await grantsOf(orm, t, 'admin')).toEqual(all.filter((p) => p !== 'admin * system'));
        expect(await grantsOf(orm, t, 'user')).toEqual(
          [
            'kb /kb/users/{user_id}/* read',
            'kb /kb/users/{user_id}/* write',
            'kb /kb/shared/* read',
            'api /api/v1/chat/* access',
            'api /api/v1/assets/* access',
            'api /api/v1/auth/* access',
            'chat * create',
            'chat * read',
            'chat * delete',
            'asset * create',
            'asset * read',
          ].sort(),
        );
        expect(await grantsOf(orm, t, 'developer')).toEqual(
          [
            'kb /kb/* read',
            'kb /kb/* write',
            'kb /kb/users/{user_id}/* read',
            'kb /kb/users/{user_id}/* write',
            'kb /kb/shared/* read',
            'api /api/v1/chat/* access',
            'api /api/v1/assets/* access',
            'api /api/v1/auth/* access',
            'api /api/v1/admin/* access',
            'chat * create',
            'chat * read',
            'asset * create',
            'asset * read',
          ].sort(),
        );
        expect(await grantsOf(orm, t, 'kb_admin')).toEqual(all.filter((p) => p.startsWith('kb ')));
        for (const none of ['analyst', 'viewer', 'guest', 'kb_editor', 'kb_contributor', 'kb_viewer'])
          expect(await grantsOf(orm, t, none)).toEqual([]);

        const [mu] = await orm.select().from(t.personas);
        expect(mu).toMatchObject({
          id: MU_PERSONA_ID,
          name: 'Mu',
          createdBy: 'system',
          isActive: true,
          description:
            'A cheerful robot companion who keeps things upbeat, offers support, and can guide short meditation and breathing exercises.',
          personalityTraits: {
            cheerful: true,
            helpful: true,
            robotic_charm: true,
            supportive: true,
            meditation_capable: true,
            optimistic: true,
            encouraging: true,
          },
          capabilities: {
            general_conversation: true,
            meditation_guidance: true,
            breathing_exercises: true,
            emotional_support: true,
            tool_usage: true,
            mindfulness_coaching: true,
            positive_reinforcement: true,
          },
        });
        expect(mu!.systemPrompt).toStartWith('You are Mu, a cheerful little robot companion.');
        expect(mu!.systemPrompt).toEndWith('use your tools when they truly help.\n\n{tools_section}');

        const sources = await orm.select().from(t.assetSources).orderBy(asc(t.assetSources.id));
        expect(
          sources.map((s) => [
            s.id,
            s.sourceType,
            s.sourceName,
            s.apiEndpoint,
            s.rateLimitPerMinute,
            s.requiresAttribution,
            s.isActive,
            s.costPerRequestMicroUsd,
          ]),
        ).toEqual([
          [1, 'open_source', 'poly_haven', 'https://api.polyhaven.com', 60, true, true, 0],
          [2, 'open_source', 'freesound', 'https://freesound.org/apiv2', 60, true, true, 0],
          [3, 'open_source', 'opengameart', 'https://opengameart.org', 30, true, true, 0],
          [4, 'community', 'community_uploads', null, null, false, true, 0],
          [5, 'generated', 'meshy_ai', 'https://api.meshy.ai', 10, false, true, 0],
          [6, 'generated', 'midjourney', null, 5, false, true, 0],
          [7, 'generated', 'mubert', 'https://api.mubert.com', 20, false, true, 0],
          [8, 'generated', 'openai', 'https://api.openai.com', 50, false, true, 0],
          [9, 'generated', 'stability', 'https://api.stability.ai', 50, false, true, 0],
          [10, 'generated', 'local', null, null, false, true, 0],
        ]);
        // The numbering continues after the explicit ids (PostgreSQL's identity sequence was moved).
        const [added] = await orm
          .insert(t.assetSources)
          .values({ sourceType: 'generated', sourceName: 'later' })
          .returning({ id: t.assetSources.id });
        expect(added!.id).toBe(11);
      } finally {
        await db.close();
      }
    });

    test('creates the dev account, key and welcome conversation, logging no secret', async () => {
      const logged: Logged[] = [];
      const db = await openDb(openOpts(await backend.databaseUrl(), logged));
      const { orm, t } = db;
      try {
        const [user] = await orm.select().from(t.users);
        expect(user).toMatchObject({
          id: DEV_USER_ID,
          email: 'dev@gaia.local',
          name: 'Local Development User',
          userMetadata: { name: 'Local Development User' },
          appMetadata: { provider: 'email', providers: ['email'], admin: true },
        });
        expect(user!.emailConfirmedAt).toBeInstanceOf(Date);
        expect(user!.passwordHash).toStartWith('$argon2id$');
        expect(await Bun.password.verify('testtest', user!.passwordHash!)).toBe(true);

        const roles = await orm
          .select({
            name: t.roles.name,
            contextType: t.userRoles.contextType,
            contextId: t.userRoles.contextId,
          })
          .from(t.userRoles)
          .innerJoin(t.roles, eq(t.roles.id, t.userRoles.roleId))
          .where(eq(t.userRoles.userId, DEV_USER_ID))
          .orderBy(asc(t.roles.name));
        expect(roles).toEqual([
          { name: 'admin', contextType: 'global', contextId: 'global' },
          { name: 'user', contextType: 'global', contextId: 'global' },
        ]);

        const [key] = await orm.select().from(t.apiKeys);
        expect(key).toMatchObject({
          id: DEV_API_KEY_ID,
          userId: DEV_USER_ID,
          name: 'Local Development API Key',
          keyHash: DEV_API_KEY_HASH,
          prefix: 'FJUe',
          permissions: { admin: true, environment: 'local' },
          isActive: true,
          expiresAt: null,
          revokedAt: null,
        });
        expect(
          new Bun.CryptoHasher('sha256').update('FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE').digest('hex'),
        ).toBe(key!.keyHash);

        const [conv] = await orm.select().from(t.conversations);
        expect(conv).toMatchObject({
          id: WELCOME_CONVERSATION_ID,
          userId: DEV_USER_ID,
          title: 'Welcome to Gaia',
          preview: 'Your first conversation',
          isActive: true,
        });

        expect(logged.some((l) => l.level === 'warn' && /dev@gaia\.local.*active/.test(l.msg))).toBe(true);
        const text = JSON.stringify(logged);
        for (const secret of ['testtest', 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE', DEV_API_KEY_HASH])
          expect(text).not.toContain(secret);
      } finally {
        await db.close();
      }
    });

    test('a second run changes nothing, re-activates the dev key and leaves edits alone', async () => {
      const url = await backend.databaseUrl();
      const db = await openDb(openOpts(url));
      try {
        const before = await snapshot(db);
        await migrateDb(db, { seedDev: true, isProduction: false });
        expect(await snapshot(db)).toEqual(before);

        const { orm, t } = db;
        await orm
          .update(t.apiKeys)
          .set({ isActive: false, revokedAt: new Date() })
          .where(eq(t.apiKeys.id, DEV_API_KEY_ID));
        await orm.update(t.personas).set({ description: 'edited' }).where(eq(t.personas.id, MU_PERSONA_ID));
        await orm.update(t.roles).set({ displayName: 'Renamed' }).where(eq(t.roles.name, 'viewer'));
        await migrateDb(db, { seedDev: true, isProduction: false });
        const [key] = await orm.select().from(t.apiKeys).where(eq(t.apiKeys.id, DEV_API_KEY_ID));
        expect([key!.isActive, key!.revokedAt]).toEqual([true, null]);
        const [mu] = await orm.select().from(t.personas);
        expect(mu!.description).toBe('edited');
        expect(await db.all(sql`SELECT display_name FROM roles WHERE name = 'viewer'`)).toEqual([
          { display_name: 'Renamed' },
        ]);

        // Mu comes back only when no persona of that name exists.
        await orm.delete(t.personas).where(eq(t.personas.id, MU_PERSONA_ID));
        await migrateDb(db, { seedDev: true, isProduction: false });
        const personas = await orm.select({ id: t.personas.id, name: t.personas.name }).from(t.personas);
        expect(personas).toEqual([{ id: MU_PERSONA_ID, name: 'Mu' }]);
      } finally {
        await db.close();
      }
    });

    test('without GAIA_SEED_DEV there is no dev account; in production it has no password', async () => {
      const plain = await openDb(openOpts(await backend.databaseUrl(), [], { seedDev: false }));
      try {
        expect(await plain.orm.select().from(plain.t.users)).toEqual([]);
        expect(await plain.orm.select().from(plain.t.apiKeys)).toEqual([]);
        expect(await plain.orm.select().from(plain.t.conversations)).toEqual([]);
        expect(await plain.orm.select().from(plain.t.roles)).toHaveLength(11);
      } finally {
        await plain.close();
      }
      const prod = await openDb(openOpts(await backend.databaseUrl(), [], { isProduction: true }));
      try {
        const [user] = await prod.orm.select().from(prod.t.users);
        expect(user!.email).toBe('dev@gaia.local');
        expect(user!.passwordHash).toBeNull();
      } finally {
        await prod.close();
      }
    });

    test('assignDefaultRole gives a new user the global role user, once', async () => {
      const db = await openDb(openOpts(await backend.databaseUrl(), [], { seedDev: false }));
      const { orm, t } = db;
      try {
        const id = crypto.randomUUID();
        await db.tx(async (tx) => {
          await tx.insert(t.users).values({ id, email: 'new@example.com' });
          await assignDefaultRole(tx, id);
        });
        await assignDefaultRole(orm, id);
        const rows = await orm
          .select({
            name: t.roles.name,
            contextType: t.userRoles.contextType,
            contextId: t.userRoles.contextId,
          })
          .from(t.userRoles)
          .innerJoin(t.roles, eq(t.roles.id, t.userRoles.roleId))
          .where(eq(t.userRoles.userId, id));
        expect(rows).toEqual([{ name: 'user', contextType: 'global', contextId: 'global' }]);
      } finally {
        await db.close();
      }
    });
  });
}
