/**
 * Both dialects behave alike through the query builder (spec/data.md §1): booleans, timestamps and JSON
 * read back identically, constraints hold, and `tx` commits, rolls back and nests the same way.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import { constraintViolation, type Db, dbHealth, describeDbError, openDb } from '../../db/index.ts';
import { dbOptions, dropTestDatabases, testBackends } from '../support/backends.ts';

const attempt = async (fn: () => Promise<unknown>) => {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return constraintViolation(err) ?? (err as Error).message;
  }
};

const backends = testBackends();
const results = new Map<string, unknown>();
afterAll(dropTestDatabases);

for (const backend of backends) {
  describe(`${backend.name} round trips`, () => {
    let db: Db;
    const userId = '3f0c0000-0000-4000-8000-00000000abcd';

    test('open', async () => {
      db = await openDb(dbOptions(await backend.databaseUrl()));
      await db.orm.insert(db.t.users).values({ id: userId, email: 'round@example.com' });
    });

    test('booleans, timestamps and JSON read back as written', async () => {
      const { orm, t } = db;
      const created = new Date('2025-12-01T10:00:00.123Z');
      const expires = new Date('2030-01-02T03:04:05.678Z');
      const permissions = {
        admin: false,
        nested: { list: [1, 2.5, 'três', null, true], empty: {} },
        é: '😀',
      };
      await orm.insert(t.apiKeys).values({
        id: '11111111-1111-4111-8111-111111111111',
        userId,
        name: 'k',
        keyHash: 'a'.repeat(64),
        prefix: 'gaia_test_abcd',
        permissions,
        isActive: false,
        expiresAt: expires,
        createdAt: created,
        updatedAt: created,
      });
      await orm.insert(t.resourcePermissions).values({
        id: '22222222-2222-4222-8222-222222222222',
        resourceType: 'kb',
        resourceId: 'users/x/docs/guide.md',
        principalType: 'team',
        principalId: 'team-1',
        permissions: ['read', 'write'],
        createdAt: created,
      });
      const [key] = await orm.select().from(t.apiKeys);
      const [share] = await orm.select().from(t.resourcePermissions);
      expect(key!.isActive).toBe(false);
      expect(key!.expiresAt).toEqual(expires);
      expect(key!.expiresAt!.toISOString()).toBe('2030-01-02T03:04:05.678Z');
      expect(key!.createdAt.getTime()).toBe(created.getTime());
      expect(key!.lastUsedAt).toBeNull();
      expect(key!.permissions).toEqual(permissions);
      expect(share!.permissions).toEqual(['read', 'write']);

      // Stored as a JSON object/array, never as a JSON-encoded string.
      const kinds =
        db.kind === 'sqlite'
          ? await db.all(sql`SELECT json_type(permissions) AS k FROM api_keys UNION ALL
                               SELECT json_type(permissions) FROM resource_permissions`)
          : await db.all(sql`SELECT jsonb_typeof(permissions) AS k FROM api_keys UNION ALL
                               SELECT jsonb_typeof(permissions) FROM resource_permissions`);
      expect(kinds.map((r) => r.k)).toEqual(['object', 'array']);

      // Range queries on timestamps work on the native representation.
      const inRange = await orm
        .select({ id: t.apiKeys.id })
        .from(t.apiKeys)
        .where(
          and(
            gt(t.apiKeys.expiresAt, new Date('2030-01-02T03:04:05.677Z')),
            lt(t.apiKeys.expiresAt, new Date('2031-01-01')),
          ),
        );
      expect(inRange).toHaveLength(1);

      await orm.update(t.apiKeys).set({ isActive: true }).where(eq(t.apiKeys.userId, userId));
      const [updated] = await orm.select().from(t.apiKeys);
      expect(updated!.isActive).toBe(true);
      // updated_at is set by the app on every update.
      expect(updated!.updatedAt.getTime()).toBeGreaterThan(created.getTime());
      results.set(backend.name, { key, share, updated: { ...updated, updatedAt: 'set' } });
    });

    test('defaults fill omitted columns', async () => {
      const { orm, t } = db;
      const [conv] = await orm
        .insert(t.conversations)
        .values({ id: crypto.randomUUID(), userId })
        .returning();
      expect(conv).toMatchObject({
        title: 'New Conversation',
        titleLocked: false,
        preview: '',
        isActive: true,
      });
      expect(conv!.createdAt).toBeInstanceOf(Date);
      expect(Math.abs(conv!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
      const [user] = await orm.select().from(t.users).where(eq(t.users.id, userId));
      expect(user!.appMetadata).toEqual({ provider: 'email', providers: ['email'] });
      expect(user!.userMetadata).toEqual({});
    });

    test('constraints hold: enums, uniqueness, foreign keys, quality score', async () => {
      const { orm, t } = db;
      const conv = crypto.randomUUID();
      await orm.insert(t.conversations).values({ id: conv, userId });
      const msg = (seq: number, role: string) => async () =>
        await orm.insert(t.chatMessages).values({
          id: crypto.randomUUID(),
          conversationId: conv,
          userId,
          seq,
          role: role as 'user',
          content: 'hi',
        });
      expect(await attempt(msg(1, 'user'))).toBe('ok');
      expect(await attempt(msg(1, 'assistant'))).toBe('unique');
      expect(await attempt(msg(2, 'robot'))).toBe('check');
      expect(
        await attempt(
          async () =>
            await orm.insert(t.users).values({ id: crypto.randomUUID(), email: 'round@example.com' }),
        ),
      ).toBe('unique');
      expect(
        await attempt(
          async () =>
            await orm.insert(t.assets).values({
              id: crypto.randomUUID(),
              category: 'image',
              title: 'x',
              storageKey: 'k',
              requestHash: 'h',
              costMicroUsd: 0,
              qualityScore: 1.5,
            }),
        ),
      ).toBe('check');
      expect(
        await attempt(
          async () =>
            await orm
              .insert(t.personas)
              .values({ id: crypto.randomUUID(), name: 'Robo', systemPrompt: 'p', createdBy: 'x' }),
        ),
      ).toBe('ok');
      expect(
        await attempt(
          async () =>
            await orm
              .insert(t.personas)
              .values({ id: crypto.randomUUID(), name: 'ROBO', systemPrompt: 'p', createdBy: 'x' }),
        ),
      ).toBe('unique');
      if (db.kind === 'sqlite') {
        expect(await attempt(() => db.all(sql`UPDATE conversations SET is_active = 2`))).toBe('check');
        expect(await attempt(() => db.all(sql`UPDATE users SET app_metadata = 'not json'`))).toBe('check');
      }
      expect(
        await attempt(
          async () =>
            await orm
              .insert(t.conversations)
              .values({ id: crypto.randomUUID(), userId: crypto.randomUUID() }),
        ),
      ).toBe('foreign_key');
      // Deleting the user cascades to its conversations and messages.
      const other = crypto.randomUUID();
      await orm.insert(t.users).values({ id: other });
      await orm.insert(t.conversations).values({ id: crypto.randomUUID(), userId: other });
      await orm.delete(t.users).where(eq(t.users.id, other));
      expect(await orm.select().from(t.conversations).where(eq(t.conversations.userId, other))).toEqual([]);
    });

    test('tx commits, rolls back on error, and nests as a savepoint', async () => {
      const { t } = db;
      const a = crypto.randomUUID();
      const b = crypto.randomUUID();
      const c = crypto.randomUUID();
      await db.tx(async (tx) => {
        await tx.insert(t.users).values({ id: a });
      });
      const failed = await attempt(() =>
        db.tx(async (tx) => {
          await tx.insert(t.users).values({ id: b });
          throw new Error('boom');
        }),
      );
      expect(failed).toBe('boom');
      await db.tx(async (tx) => {
        await tx.insert(t.users).values({ id: c });
        const inner = await attempt(() =>
          db.tx(async (tx2) => {
            await tx2.insert(t.users).values({ id: b });
            throw new Error('inner');
          }),
        );
        expect(inner).toBe('inner');
      });
      const ids = (await db.orm.select({ id: t.users.id }).from(t.users)).map((r) => r.id);
      expect(ids).toContain(a);
      expect(ids).toContain(c);
      expect(ids).not.toContain(b);
    });

    test('transactions are serialised on SQLite, so read-modify-write loses no update', async () => {
      // PostgreSQL gives the usual READ COMMITTED semantics instead (callers lock rows they update).
      if (db.kind !== 'sqlite') return;
      const { t } = db;
      const name = `counter-${crypto.randomUUID()}`;
      await db.orm.insert(t.assetSources).values({ sourceName: name, rateLimitPerMinute: 0 });
      const where = eq(t.assetSources.sourceName, name);
      await Promise.all(
        Array.from({ length: 10 }, () =>
          db.tx(async (tx) => {
            const [row] = await tx
              .select({ n: t.assetSources.rateLimitPerMinute })
              .from(t.assetSources)
              .where(where);
            await Bun.sleep(1);
            await tx
              .update(t.assetSources)
              .set({ rateLimitPerMinute: row!.n! + 1 })
              .where(where);
          }),
        ),
      );
      const [row] = await db.orm
        .select({ n: t.assetSources.rateLimitPerMinute })
        .from(t.assetSources)
        .where(where);
      expect(row!.n).toBe(10);
    });

    test('health reports the dialect, and failure without the URL', async () => {
      expect(await dbHealth(db)).toEqual({ status: 'healthy', database: backend.name, responsive: true });
      await db.close();
      const h = await dbHealth(db);
      expect(h).toMatchObject({ status: 'unhealthy', database: backend.name, responsive: false });
      expect(h.error).toBeString();
      expect(h.error).not.toContain('postgres://');
    });
  });
}

describe('both dialects', () => {
  test('return identical values', () => {
    const values = [...results.values()];
    if (values.length < 2) return;
    expect(values[1]).toEqual(values[0]);
  });

  test('health errors never show a URL or password', () => {
    expect(describeDbError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' })).toBe(
      'connection refused',
    );
    expect(describeDbError(new Error('failed for postgres://gaia:secret@db:5432/gaia'))).toBe(
      'failed for <url>',
    );
  });
});
